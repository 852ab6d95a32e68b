"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ganforge.core.config import TrainConfig


def quiet_config(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    """``cfg`` for a measured run: no periodic evaluation, sample grids, checkpoints or
    progress bar (they would cost time the benchmark does not mean to count), plus any
    top-level ``changes`` (``seed=``, ``steps=`` ...)."""
    return dataclasses.replace(
        cfg,
        eval=dataclasses.replace(cfg.eval, every=0),
        log=dataclasses.replace(cfg.log, progress=False, sample_every=10**9, ckpt_every=10**9),
        **changes,
    )


def warmed_trainer(cfg: TrainConfig, out: Any, data: Any, warmup: int, steps: int) -> Any:
    """A :class:`~ganforge.training.trainer.Trainer` that has run ``warmup`` steps (autotune
    and first-call costs paid) with sample PNGs and checkpoints switched off — the step is
    what is timed, not I/O — and whose next ``run`` continues for ``steps`` more."""
    from ganforge.training.trainer import Trainer

    t = Trainer(dataclasses.replace(cfg, steps=warmup), out, data=data)
    t.write_samples = lambda path: path
    t.save = lambda periodic=False: None
    t.run(progress=False)
    t.cfg = dataclasses.replace(t.cfg, steps=warmup + steps)
    return t


def ran_as(trainer: Any) -> str:
    """The precision and layout a trainer runs with, e.g. ``bf16+nhwc``."""
    return trainer.precision + ("+nhwc" if trainer.channels_last else "")
