"""``precision = "auto"`` and ``channels_last = "auto"``: the fastest combination, measured.

Whether bf16 autocast and the NHWC layout pay off depends on the model and the machine: on
a CPU with AVX-512 BF16/AMX they more than double a DCGAN-64 step, while the tiny networks
of the 2-D toys only pay autocast's overhead. So the engine times a few real steps of the
run's own model in each combination the hardware supports natively (fp32 always; bf16
where the CPU or GPU computes it; NHWC for image models), undoes them exactly
(:meth:`Trainer.time_steps`; :data:`ROUNDS` interleaved rounds, the fastest of each
candidate, so that a moment of load on a shared machine does not decide), and keeps the
fastest. The answer is cached per model,
shape, batch, device and torch version (``$GANFORGE_CACHE/autotune.json``), printed at the
start, logged in ``metrics.jsonl`` and stored in the checkpoint, so a resumed run keeps it.
A candidate must win by :data:`MARGIN` to replace fp32/contiguous: a tie goes to the
simpler numerics.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from ganforge.core.cache import cache_dir
from ganforge.training import precision as hardware

#: A candidate must be at least this much faster than fp32 with the default layout.
MARGIN = 0.05

#: Interleaved timing rounds per candidate; each candidate keeps its fastest round.
ROUNDS = 3

#: A step at least this long is timed once (its warm-up step) and not in further rounds:
#: load noise is small against it, and every extra step of, say, a 256x256 StyleGAN on a
#: CPU costs a minute — four candidates x three rounds x three steps had a dry run of
#: ``stylegan-256`` still timing after five minutes.
SLOW_STEP_S = 5.0


def cache_file() -> Path:
    return cache_dir() / "autotune.json"


def native_precisions(device: torch.device) -> list[str]:
    """fp32, plus bf16 where the hardware multiplies it natively."""
    if device.type == "cuda":
        return ["fp32", "bf16"] if torch.cuda.is_bf16_supported() else ["fp32"]
    return ["fp32", "bf16"] if device.type == "cpu" and hardware.cpu_has_bf16() else ["fp32"]


def candidates(
    precision: str,
    channels_last: str,
    device: torch.device,
    image_data: bool,
    allowed: tuple[str, ...] = ("fp32", "bf16", "fp16"),
) -> list[tuple[str, bool]]:
    """The (precision, channels-last) combinations to time: only the ``auto`` ones vary;
    ``allowed``: the precisions ``auto`` may pick (the objective's ``auto_precisions``)."""
    if precision == "auto":
        precisions = [p for p in native_precisions(device) if p in allowed] or ["fp32"]
    else:
        precisions = [precision]
    layouts = (
        ([False, True] if image_data else [False])
        if channels_last == "auto"
        else [channels_last == "true"]
    )
    return [(p, c) for p in precisions for c in layouts]


def cache_key(parts: dict[str, Any]) -> str:
    machine = platform.processor() or platform.machine()
    parts = {**parts, "torch": torch.__version__, "machine": machine,
             "threads": torch.get_num_threads(), "rounds": ROUNDS}  # fmt: skip
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cached(key: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(cache_file().read_text(encoding="utf-8")).get(key)
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return entry if isinstance(entry, dict) else None


def remember(key: str, entry: dict[str, Any]) -> None:
    """Add ``entry`` to the cache file (atomically; a failure to write is harmless)."""
    path = cache_file()
    try:
        table = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        if not isinstance(table, dict):
            table = {}
        table[key] = entry
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(table, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, json.JSONDecodeError):
        pass


def pick(timings: dict[tuple[str, bool], float]) -> tuple[str, bool]:
    """The fastest combination, unless fp32 with the default layout is within MARGIN."""
    base = ("fp32", False)
    best = min(timings, key=timings.__getitem__)
    if base in timings and timings[best] > timings[base] * (1 - MARGIN):
        return base
    return best
