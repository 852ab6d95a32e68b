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
