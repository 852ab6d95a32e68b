"""The 2-D presets' training step: hand-written gradients against autograd, in one process.

Two trainers of the same preset — ``hand_gradients = true`` (the default:
``ganforge.training.objectives.chain_step``) and ``false`` (autograd) — train in
interleaved blocks of ``--block`` steps; the table gives each one's median milliseconds per
step (guard, EMA, optimizer and logging numbers included, no checkpoints or plots), then
where the hand-written step's time goes.

    python benchmarks/chain_step.py                       # gan-ring8, one thread
    python benchmarks/chain_step.py --preset gan-grid25 --threads 2
"""

from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch

import ganforge.training.objectives.chain_step as chain_step
import ganforge.training.trainer as trainer_module
from ganforge.core.config import apply_override
from ganforge.core.presets import load_preset_or_file
from ganforge.training.trainer import Trainer


def make_trainer(preset: str, threads: int, hand: bool, out: str) -> Trainer:
    cfg = load_preset_or_file(preset)[1]
    for o in (
        "steps=1000000",
        "precision=fp32",
        f"threads={threads}",
        f"hand_gradients={'true' if hand else 'false'}",
    ):
        cfg = apply_override(cfg, o)
    return Trainer(cfg, out)


def timed(owner: Any, name: str, label: str, totals: collections.Counter) -> None:
    """Wrap ``owner.name`` so that its wall time adds up in ``totals[label]``."""
    fn: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - start

    setattr(owner, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", default="gan-ring8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--block", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        trainers = {
            "hand-written": make_trainer(args.preset, args.threads, True, f"{out}/hand"),
            "autograd": make_trainer(args.preset, args.threads, False, f"{out}/auto"),
        }
        torch.set_num_threads(args.threads)
        for t in trainers.values():
            for _ in range(50):
                t.train_step()
        ms: dict[str, list[float]] = {k: [] for k in trainers}
        for _ in range(args.rounds):
            for name, t in trainers.items():
                start = time.perf_counter()
                for _ in range(args.block):
                    t.train_step()
                ms[name].append((time.perf_counter() - start) / args.block * 1e3)
        hand, auto = (statistics.median(ms[k]) for k in ("hand-written", "autograd"))
        print(f"{args.preset}, {args.threads} thread(s), medians of {args.rounds} interleaved "
              f"blocks of {args.block} steps")  # fmt: skip
        print("| step | ms per step | speed-up |")
        print("|---|---:|---:|")
        print(f"| autograd | {auto:.2f} | 1.00x |")
        print(f"| hand-written | {hand:.2f} | {auto / hand:.2f}x |")

        t = trainers["hand-written"]
        totals: collections.Counter = collections.Counter()
        timed(chain_step, "chain_forward", "forward passes (3)", totals)
        timed(chain_step, "chain_backward", "backward passes (3)", totals)
        timed(chain_step, "r1_weight_grads", "R1 (every r1_interval D steps)", totals)
        timed(t.ctx, "_update_with_grads", "gradient norms, checks, Adam (2 updates)", totals)
        timed(trainer_module, "update_ema", "EMA", totals)
        timed(t.guard, "after_step", "guard (weight check, snapshots)", totals)
        n = args.block * 3
        start = time.perf_counter()
        for _ in range(n):
            t.train_step()
        total = (time.perf_counter() - start) / n * 1e3
        print(f"\nwhere the hand-written step's {total:.2f} ms go:\n")
        print("| part | ms per step | share |")
        print("|---|---:|---:|")
        for label, seconds in totals.most_common():
            part = seconds / n * 1e3
            print(f"| {label} | {part:.3f} | {part / total:.0%} |")
        rest = total - sum(totals.values()) / n * 1e3
        label = "the rest (data, latents, losses, logs, schedule)"
        print(f"| {label} | {rest:.3f} | {rest / total:.0%} |")


if __name__ == "__main__":
    main()
