"""Training a noise-to-data GAN as ``ganforge train`` does: the engine with the standard
callbacks — the report page, TensorBoard, periodic evaluation and ``best.pt`` — and the
run's sampler checked before the first step.

    trainer = gan_trainer(load_toml("my.toml"), "runs/mine")
    trainer.run()

or in one line, ``ganforge.train("my.toml", "runs/mine")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ganforge.core.config import TrainConfig
from ganforge.data.base import TensorData
from ganforge.metrics.callback import PeriodicEvaluation
from ganforge.sampling.policy import check_sample_config
from ganforge.training.callbacks import Callback
from ganforge.training.monitor import TrainingMonitor
from ganforge.training.trainer import Trainer
from ganforge.ui.report import ReportCallback
from ganforge.ui.tensorboard import TensorBoardCallback


def standard_callbacks(cfg: TrainConfig) -> list[Callback]:
    """The callbacks a run's config asks for (``eval.every``, ``log.report``,
    ``log.tensorboard``, ``log.monitor``)."""
    callbacks: list[Callback] = []
    if cfg.eval.every:
        callbacks.append(PeriodicEvaluation())
    if cfg.log.report:
        callbacks.append(ReportCallback())
    if cfg.log.tensorboard:
        callbacks.append(TensorBoardCallback())
    if cfg.log.monitor:
        callbacks.append(TrainingMonitor())
    return callbacks


def gan_trainer(
    cfg: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    data: TensorData | None = None,
    callbacks: Sequence[Callback] = (),
) -> Trainer:
    """A :class:`~ganforge.training.trainer.Trainer` with :func:`standard_callbacks` (plus
    ``callbacks``), its sampler config checked against the model."""
    trainer = Trainer(
        cfg, out, resume=resume, data=data, callbacks=[*standard_callbacks(cfg), *callbacks]
    )
    check_sample_config(cfg, trainer.G)
    return trainer
