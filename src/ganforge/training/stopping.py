"""Stopping a run cleanly when a scheduler or a person asks: SIGINT (Ctrl-C), SIGTERM (what
Slurm, Kubernetes and most schedulers send before a kill) and SIGUSR1 (schedulers' "time is
almost up" warning, e.g. Slurm's ``--signal``).

The handlers only record the signal; the loop stops at the next step boundary, so the
checkpoint it then writes holds a whole step — a resumed run is bit-identical to one that
was never stopped. A second signal while that checkpoint is written is recorded and
ignored: it cannot cut the write. Under ``torchrun`` every process votes each step (one
tiny all-reduce), so all ranks stop after the same step.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

import torch
import torch.distributed as dist

from ganforge.training.distributed import DistInfo

STOP_SIGNALS = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGUSR1", None)) if s is not None
)


class TrainingStopped(Exception):
    """The run stopped on a signal after saving its checkpoint."""

    def __init__(self, signum: int, step: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum
        self.step = step

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


class StopRequests:
    """Context manager installing the stop handlers (main thread only; elsewhere signals
    keep their default behaviour) and telling the loop when to stop."""

    def __init__(self, info: DistInfo) -> None:
        self.info = info
        self.signum = 0
        self._previous: dict[int, object] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if not self.signum:
            self.signum = signum

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                self._previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)  # type: ignore[arg-type]

    def requested(self) -> int:
        """The signal to stop on (0 = keep going), agreed by every process."""
        if not self.info.enabled:
            return self.signum
        vote = torch.tensor([self.signum], dtype=torch.int64)
        dist.all_reduce(vote, op=dist.ReduceOp.MAX)
        return int(vote.item())
