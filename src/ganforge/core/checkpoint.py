"""Versioned, atomic checkpoints: writing and reading the file, nothing built from it.

A checkpoint is a plain dict of state_dicts, tensors and built-in types — never pickled
modules — so it loads with ``torch.load(..., weights_only=True)``. It is written to a
temporary file in the same folder and moved into place with ``os.replace``, so a crash
mid-write never leaves a truncated ``latest.pt``. The embedded config is enough to
rebuild G and D and resume; :mod:`ganforge.hub.load` builds the networks from it.
"""

from __future__ import annotations

import errno
import os
import pickle
from pathlib import Path
from typing import Any

import torch

from ganforge.core.config import TrainConfig, from_dict

FORMAT = "ganforge-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or from an incompatible version."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Atomically write ``state`` (plus format/version tags) to ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CheckpointError(write_error(path, e)) from None
    payload = {"format": FORMAT, "version": VERSION, **state}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise CheckpointError(write_error(path, e)) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_error(path: Path, e: OSError) -> str:
    """What went wrong writing ``path``, and what is kept (disk full, permission denied)."""
    if e.errno == errno.ENOSPC:
        what = "the disk is full"
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = "permission denied (a read-only folder?)"
    else:
        what = e.strerror or str(e)
    return (
        f"cannot write {path}: {what}. Earlier files in {path.parent} are intact; free space "
        "or choose a writable folder (--out), then resume"
    )


def resolve_checkpoint(path: str | Path) -> Path:
    """A run folder resolves to ``checkpoints/latest.pt``; a file is returned as is."""
    p = Path(path)
    if p.is_dir():
        for cand in (p / "checkpoints" / "latest.pt", p / "latest.pt"):
            if cand.is_file():
                return cand
        raise CheckpointError(
            f"{p} has no checkpoints/latest.pt; is it a ganforge run folder? "
            "(a run writes it at every log.ckpt_every steps and when it ends)"
        )
    if not p.is_file():
        raise CheckpointError(f"no such run folder or checkpoint: {p}")
    return p


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``) and check its format and version."""
    p = resolve_checkpoint(path)
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{p}: refused: it holds pickled Python objects besides tensors, which can run "
            "code when loaded; ganforge reads only checkpoints of tensors and plain values"
        ) from None
    except Exception as e:  # torch raises several types for truncated or corrupt files
        raise CheckpointError(
            f"{p}: not a readable checkpoint (truncated or corrupt: {_first_line(e)}); "
            "resume from another checkpoints/step_*.pt"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{p} is not a ganforge checkpoint")
    if ckpt.get("version", 0) > VERSION:
        raise CheckpointError(
            f"{p} was written by a newer ganforge (format v{ckpt['version']}, this reads "
            f"v{VERSION}); upgrade ganforge"
        )
    ckpt["path"] = str(p)
    return ckpt


def _first_line(e: BaseException) -> str:
    """An exception's first sentence, without the advice some loaders append."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text.split(". ")[0][:200]


def config_of(ckpt: dict[str, Any]) -> TrainConfig:
    """The run configuration embedded in a checkpoint."""
    return from_dict(TrainConfig, ckpt["config"])
