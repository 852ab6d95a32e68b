"""TensorBoard logging beside ``metrics.jsonl`` (``log.tensorboard = true``).

The JSONL log stays the source of truth (the report and the tests read it); TensorBoard
is a viewer for people who already use it. Events go to ``RUN/tensorboard/`` through
``torch.utils.tensorboard.SummaryWriter``, which needs the ``tensorboard`` package
(``pip install tensorboard``; it does not pull in another torch).

Usage::

    tb = TensorBoardLogger(run_dir)
    tb.log_scalars(step, {"loss_d": 0.7, "loss_g": 1.2})
    tb.log_images(step, "samples", grid_uint8_hwc)
    tb.close()

View with ``tensorboard --logdir RUN/tensorboard``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.core.config import ConfigError
from ganforge.training.callbacks import Callback, RunView

#: Folder inside the run folder that holds the event files.
TB_DIR = "tensorboard"


def _group(key: str) -> str:
    """TensorBoard tag for a metrics key: related curves share a section
    (``loss/loss_d``, ``grad_norm/grad_norm_G``, ``eval/fid5k_lenet`` ...)."""
    for prefix in ("loss", "grad_norm", "d_acc", "ada"):
        if key.startswith(prefix):
            return f"{prefix}/{key}"
    if key in ("d_real", "d_fake"):
        return f"d_out/{key}"
    return f"train/{key}"


class TensorBoardLogger:
    """Scalars and images of one run in ``run_dir/tensorboard/``.

    Args:
        run_dir: the run folder (created when missing).
        flush_secs: how often the writer flushes to disk.

    Raises:
        ConfigError: the ``tensorboard`` package is not installed; the message says how
            to install it or turn the option off.
    """

    def __init__(self, run_dir: str | Path, *, flush_secs: int = 30) -> None:
        try:
            import tensorboard  # noqa: F401
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:
            raise ConfigError(
                "log.tensorboard = true needs the 'tensorboard' package, which is not "
                f"installed ({e}). Install it with `pip install tensorboard`, or set "
                "log.tensorboard = false (metrics.jsonl and report.html are written anyway)"
            ) from None
        self.log_dir = Path(run_dir) / TB_DIR
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=flush_secs)

    def log_scalars(self, step: int, values: dict[str, Any], *, prefix: str = "") -> int:
        """Log every finite number in ``values`` at ``step``; other values (strings,
        lists, the ``step``/``event`` keys, NaN/Inf) are skipped.

        Args:
            step: global training step.
            values: e.g. one ``metrics.jsonl`` record.
            prefix: tag section to use instead of the automatic grouping (``"eval"``).

        Returns:
            Number of scalars written.
        """
        n = 0
        for key, v in values.items():
            if key in ("step", "event") or isinstance(v, bool):
                continue
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                continue
            tag = f"{prefix}/{key}" if prefix else _group(key)
            self.writer.add_scalar(tag, float(v), global_step=int(step))
            n += 1
        return n

    def log_images(self, step: int, tag: str, image: np.ndarray) -> None:
        """Log one image.

        Args:
            step: global training step.
            tag: e.g. ``"samples"``.
            image: uint8 array (H, W, C) with C in {1, 3, 4}, or (H, W) grey.
        """
        arr = np.asarray(image)
        if arr.dtype != np.uint8:
            raise ValueError(f"log_images expects a uint8 array, got {arr.dtype}")
        if arr.ndim == 2:
            arr = arr[..., None]
        if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
            raise ValueError(f"log_images expects (H, W, C) with C in 1/3/4, got {arr.shape}")
        if arr.shape[-1] == 1:  # TensorBoard shows 3-channel images; grey is repeated
            arr = np.repeat(arr, 3, axis=-1)
        self.writer.add_image(tag, arr, global_step=int(step), dataformats="HWC")

    def log_image_file(self, step: int, tag: str, path: str | Path) -> None:
        """Log a PNG the run has written (a sample grid or scatter plot)."""
        from PIL import Image

        with Image.open(path) as im:
            self.log_images(step, tag, np.asarray(im.convert("RGB")))

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def read_scalars(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Read the scalars back from ``run_dir/tensorboard`` ({tag: [(step, value), ...]}),
    with TensorBoard's own event reader; used by the tests and handy in notebooks."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(Path(run_dir) / TB_DIR), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


class TensorBoardCallback(Callback):
    """Mirror ``metrics.jsonl`` and the sample grids into ``RUN/tensorboard``
    (``log.tensorboard``)."""

    def __init__(self) -> None:
        self.logger: TensorBoardLogger | None = None

    def on_train_start(self, run: RunView) -> None:
        self.logger = TensorBoardLogger(run.run_folder.path)

    def on_log(self, run: RunView, record: dict[str, Any]) -> None:
        if self.logger is None:
            return
        if "event" not in record:
            self.logger.log_scalars(record["step"], record)
        elif record.get("event") == "eval":
            self.logger.log_scalars(record["step"], record, prefix="eval")

    def on_samples(self, run: RunView, path: Path) -> None:
        if self.logger is not None and path.suffix == ".png":
            self.logger.log_image_file(run.step, "samples", path)

    def on_train_end(self, run: RunView) -> None:
        if self.logger is not None:
            self.logger.close()
