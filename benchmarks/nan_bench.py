"""NaN test bench: inject non-finite values during training and compare final quality.

Faults are injected at random steps (fixed seed) into (a) the data batch, (b) the loss,
(c) the gradients and (d) the weights; the non-finite guard must skip or roll back each
one and the run must end with the same quality as an undisturbed run (2-D mode coverage
on ring8 with the VEEGAN/PacGAN protocol; seed-to-seed spread printed for scale).

    python benchmarks/nan_bench.py --steps 3000 --faults 20 --seeds 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil

import torch

from ganforge.core.config import apply_override
from ganforge.core.presets import load_preset_or_file
from ganforge.metrics import modes2d
from ganforge.training.trainer import Trainer

KINDS = ("data", "loss", "grad", "weights")


def inject(trainer: Trainer, plan: dict[int, str]) -> None:
    """Wrap the objective's step so that step ``s`` suffers the fault ``plan[s]``."""
    inner = trainer.objective.step
    real_update = trainer.ctx._update
    x = trainer.data.x  # the step's batches index this tensor (same storage on the CPU)

    def faulty_step(ctx) -> dict:
        kind = plan.get(ctx.step)
        if kind == "data":
            saved = x.clone()
            x.fill_(float("nan"))
            try:
                return inner(ctx)
            finally:
                x.copy_(saved)
        if kind in ("loss", "grad"):

            def bad_update(group: str, loss: torch.Tensor) -> None:
                if kind == "loss":
                    return real_update(group, loss * float("nan"))
                loss.register_hook(lambda g: g * float("inf"))
                return real_update(group, loss)

            ctx._update = bad_update
            try:
                return inner(ctx)
            finally:
                ctx._update = real_update
        logs = inner(ctx)
        if kind == "weights":
            with torch.no_grad():
                next(trainer.G.parameters()).view(-1)[0] = float("nan")
        return logs

    trainer.objective.step = faulty_step


def run(cfg, seed: int, faults: int, out: str) -> tuple[dict, dict]:
    cfg = dataclasses.replace(cfg, seed=seed)
    shutil.rmtree(out, ignore_errors=True)  # a fresh run folder: events are counted from its log
    t = Trainer(cfg, out)
    if faults:
        rng = random.Random(seed)
        steps = rng.sample(range(50, cfg.steps - 50), faults)
        inject(t, {s: KINDS[i % len(KINDS)] for i, s in enumerate(sorted(steps))})
    t.run()
    events: dict[str, int] = {}
    for line in (t.out / "metrics.jsonl").read_text().splitlines():
        ev = json.loads(line).get("event")
        if ev:
            events[ev] = events.get(ev, 0) + 1
    return modes2d(t.G_ema.sample(2500, seed=99), cfg.data.spec), events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", default="gan-ring8")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--faults", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    _, cfg = load_preset_or_file(args.preset)
    cfg = apply_override(cfg, f"steps={args.steps}")
    cfg = apply_override(cfg, "eval.every=0")
    cfg = apply_override(cfg, "log.progress=false")
    cfg = apply_override(cfg, f"log.sample_every={args.steps}")
    print("| run | seed | faults | modes | high quality % | reverse KL | guard events |")
    print("|---|---|---|---|---|---|---|")
    for seed in range(args.seeds):
        for faults in (0, args.faults):
            r, ev = run(cfg, seed, faults, f"/tmp/ganforge-nan/{seed}-{faults}")
            label = "undisturbed" if faults == 0 else "injected"
            print(
                f"| {label} | {seed} | {faults} | {r['modes_captured']} | "
                f"{100 * r['high_quality']:.1f} | {r['reverse_kl']:.4f} | {ev} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
