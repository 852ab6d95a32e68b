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
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK_NAME = ".lock"
#: An unreadable lock file older than this (seconds) was left by a killed writer.
DAMAGED_LOCK_AGE = 5.0
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


class RunFolderBusy(RuntimeError):
    """Another live process is writing this run folder."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


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

    # ------------------------------------------------------------------ one writer
    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_NAME

    def acquire(self) -> str:
        """Take the folder's writer lock (``.lock``: pid, host, start time), created
        atomically; returns a note when a stale lock of a dead process was taken over, ""
        otherwise.

        Raises:
            RunFolderBusy: a live process (or one on another host) holds the lock; the
                message names it.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        note = ""
        for _ in range(3 + int(DAMAGED_LOCK_AGE / 0.1)):
            try:
                fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if not holder:  # empty or cut: being written this instant, or left so by a
                    try:  # writer killed between creating the file and writing it
                        age = time.time() - self.lock_path.stat().st_mtime
                    except FileNotFoundError:
                        continue
                    if age < DAMAGED_LOCK_AGE:
                        time.sleep(0.1)
                        continue
                    note = "took over an unreadable lock (an earlier run killed while taking it)"
                    self.lock_path.unlink(missing_ok=True)
                    continue
                if holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
                    return ""  # this process holds it already
                if holder.get("host") == me["host"] and not _pid_alive(int(holder.get("pid", 0))):
                    note = (
                        f"took over the lock of process {holder.get('pid')}, which is gone "
                        "(an earlier run that was killed)"
                    )
                    self.lock_path.unlink(missing_ok=True)
                    continue
                since = time.strftime("%Y-%m-%d %H:%M", time.localtime(holder.get("since", 0)))
                raise RunFolderBusy(
                    f"{self.path} is being written by process {holder.get('pid')} on "
                    f"{holder.get('host')} (since {since}); wait for it, stop it, or choose "
                    f"another --out (if that process is gone, delete {self.lock_path})"
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            return note
        raise RunFolderBusy(f"{self.path}: could not take the lock {self.lock_path}")

    def _holder(self) -> dict[str, Any]:
        try:
            holder = json.loads(self.lock_path.read_text(encoding="utf-8"))
            return holder if isinstance(holder, dict) else {}
        except (OSError, json.JSONDecodeError):
            return {}  # being written right now, or cut by a crash (see acquire)

    def release(self) -> None:
        """Drop the lock if this process holds it."""
        holder = self._holder()
        if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            self.lock_path.unlink(missing_ok=True)

    def remove_temp_files(self) -> list[Path]:
        """Delete the temporary files of writes a killed process left behind (every file
        is written to ``.NAME.tmpPID`` and renamed); call while holding the lock."""
        removed = []
        for folder in (self.path, self.checkpoints, self.path / "samples"):
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp*"):
                    tmp.unlink(missing_ok=True)
                    removed.append(tmp)
        return removed
