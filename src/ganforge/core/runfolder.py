"""The run folder: where every training run — GAN, translation, AdvGAN, tabular — writes.

::

    RUN/
      config.toml             the whole configuration
      checkpoints/latest.pt   + step_XXXXXXX.pt, best.pt (+ best.json)
      samples/step_XXXXXXX.png
      metrics.jsonl           one JSON object per logged step or event
      samples.png             the final samples
      report.html

This module owns those names and the two writes that must survive a crash: the metrics
log (append one line at a time; a cut last line is skipped when read) and its truncation
on resume (atomic replace). Nothing here knows about networks.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CONFIG_NAME = "config.toml"
METRICS_NAME = "metrics.jsonl"
REPORT_NAME = "report.html"
FINAL_SAMPLES_NAME = "samples.png"


def _json_safe(value: Any) -> Any:
    """NaN and infinities as strings, so every line is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class RunFolder:
    """Paths and logs of one run folder.

    Args:
        path: the folder (created on the first write).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def config(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def latest(self) -> Path:
        return self.checkpoints / "latest.pt"

    def periodic(self, step: int) -> Path:
        return self.checkpoints / f"step_{step:07d}.pt"

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_NAME

    def samples_at(self, step: int, suffix: str = ".png") -> Path:
        return self.path / "samples" / f"step_{step:07d}{suffix}"

    @property
    def final_samples(self) -> Path:
        return self.path / FINAL_SAMPLES_NAME

    @property
    def report(self) -> Path:
        return self.path / REPORT_NAME

    def has_run(self) -> bool:
        """Whether a run has already written its checkpoint here."""
        return self.latest.is_file()

    # ------------------------------------------------------------------ metrics log
    def append(self, record: dict[str, Any]) -> None:
        """Append one record as a line of ``metrics.jsonl``."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.metrics, "a", encoding="utf-8") as f:
            f.write(json.dumps(_json_safe(record)) + "\n")

    def records(self) -> Iterator[dict[str, Any]]:
        """The log's records in order; a line cut by a crash mid-write is skipped."""
        if not self.metrics.is_file():
            return
        for line in self.metrics.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                yield rec

    def truncate_log(self, step: int) -> None:
        """Keep only records up to ``step``, so the log matches the weights: a fresh run
        starts an empty log, a resumed one drops the steps it will train again."""
        if not self.metrics.is_file():
            return
        keep = [json.dumps(r) for r in self.records() if r.get("step", 0) <= step]
        tmp = self.metrics.with_name(f".{METRICS_NAME}.tmp{os.getpid()}")
        tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
        os.replace(tmp, self.metrics)
