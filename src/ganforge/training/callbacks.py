"""Callbacks: what happens around training without the loop knowing it (Lightning's split).

The loop calls, in this order, ``on_train_start`` once; after every step ``on_log`` when a
metrics record was written, ``on_samples`` when a sample file was written, and
``on_step_end``; ``on_train_end`` once when the run reaches its last step. Report pages,
TensorBoard, periodic evaluation and ``best.pt`` live in the layers above training
(:mod:`ganforge.ui`, :mod:`ganforge.metrics`) and reach the run through :class:`RunView`
only. An exception in a callback never stops or loses a run: the loop turns it into a
warning and a ``callback_failed`` event in ``metrics.jsonl``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: importing callbacks stays free of torch
    import torch
    from torch import nn

    from ganforge.core.config import TrainConfig
    from ganforge.core.runfolder import RunFolder
    from ganforge.data.base import TensorData


class RunView(Protocol):
    """What a callback may read from a training run (and the two things it may do)."""

    cfg: TrainConfig
    run_folder: RunFolder
    step: int
    is_main: bool
    device: torch.device
    nets: Mapping[str, nn.Module]
    data: TensorData

    def state_dict(self) -> dict[str, Any]:
        """The full checkpoint dict of the run as it is now."""
        ...

    def log(self, record: dict[str, Any]) -> None:
        """Write an event record into ``metrics.jsonl`` (and to every ``on_log``)."""
        ...


class Callback:
    """Base class: every hook is a no-op; override the ones you need."""

    def on_train_start(self, run: RunView) -> None:
        """Before the first step of this process's training (fresh or resumed)."""

    def on_log(self, run: RunView, record: dict[str, Any]) -> None:
        """A record was appended to ``metrics.jsonl`` (step averages or an event)."""

    def on_samples(self, run: RunView, path: Path) -> None:
        """A sample file was written (``samples/step_*.png`` or the final ``samples.png``)."""

    def on_step_end(self, run: RunView) -> None:
        """After every step, once its checkpoint and samples (if due) are written."""

    def on_train_end(self, run: RunView) -> None:
        """After the last step; the checkpoint and final samples are already on disk."""
