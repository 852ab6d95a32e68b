"""Quality and time-to-quality of bf16 against fp32 training on the default preset.

Trains ``dcgan-mnist`` (3,000 steps) per precision and seed in chunks of ``--every``
steps; after each chunk G_ema is measured with ``fid5k_lenet`` (evaluation time is not
counted as training time). Prints the final FID of every run — bf16 should equal fp32
within the seed-to-seed spread — and the training time each bf16 run needed to reach the
mean final FID of the fp32 runs (time-to-quality). ganforge's fp32 step runs at the plain
PyTorch loop's speed (``train_throughput.py``: 0.97-1.01x), so the fp32 runs stand in for
the plain loop here.

    python benchmarks/precision_quality.py --seeds 0 1
    python benchmarks/precision_quality.py --seeds 0 --steps 1000 --every 250
    python benchmarks/precision_quality.py --preset stylegan-mnist --seeds 0 --settings fp32,auto

The chunks restart ``run`` with a longer ``steps``, which a learning-rate schedule over
``steps`` would take for the run's end; so a run whose rates follow a schedule trains in one
piece and is measured once, at its end. ``--set KEY=VALUE`` and ``--candidate-steps`` change
the recipe of every setting but the fp32 baseline, e.g. a shorter run with decaying rates:

    python benchmarks/precision_quality.py --preset stylegan-mnist --seeds 0 \
        --settings fp32,auto --candidate-steps 1500 --set optim.schedule=linear \
        --set optim.decay_start=0.5
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import quiet_config

from ganforge.apps.gan import gan_trainer
from ganforge.core.config import apply_override
from ganforge.core.presets import load_preset_or_file
from ganforge.metrics import evaluate

SETTINGS = {
    "fp32": {"precision": "fp32", "channels_last": "false"},
    "bf16": {"precision": "bf16", "channels_last": "true"},
    # what a run with no flags gets: the layout and precision measured fastest at start
    "auto": {"precision": "auto", "channels_last": "auto"},
}


def run(
    preset: str, setting: str, seed: int, steps: int, every: int, overrides: list[str]
) -> list[tuple[int, float, float]]:
    """[(step, training seconds so far, fid5k_lenet)] after each chunk."""
    _, cfg = load_preset_or_file(preset)
    for assignment in overrides:
        cfg = apply_override(cfg, assignment)
    cfg = quiet_config(cfg, seed=seed, steps=steps, **SETTINGS[setting])
    if cfg.optim.schedule != "constant" or cfg.optim.warmup:
        every = steps  # the schedule runs over the whole run: one piece
    curve = []
    with tempfile.TemporaryDirectory() as tmp:
        tr = gan_trainer(dataclasses.replace(cfg, steps=every), Path(tmp))
        train_s = 0.0
        for m in range(every, steps + 1, every):
            tr.cfg = dataclasses.replace(cfg, steps=m)
            t0 = time.perf_counter()
            tr.run(progress=False)
            train_s += time.perf_counter() - t0
            fid = evaluate(tr.G_ema.eval(), ["fid5k_lenet"], real=cfg.data, progress=False)
            curve.append((m, train_s, fid["fid5k_lenet"]))
            print(f"  {setting} seed {seed} step {m}: {train_s:.0f} s, fid {curve[-1][2]:.1f}")
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", default="dcgan-mnist")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--settings",
        default="fp32,bf16",
        help=f"comma-separated, fp32 first: {', '.join(SETTINGS)}",
    )
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config change for every setting but fp32 (repeatable)")  # fmt: skip
    ap.add_argument("--candidate-steps", type=int, help="steps of every setting but fp32")
    ap.add_argument("--fp32-known", metavar="SECONDS:FID",
                    help="skip the fp32 runs: their training seconds and final FID from an "
                    "earlier run of this script on the same machine")  # fmt: skip
    args = ap.parse_args()
    names = args.settings.split(",")
    if names[0] != "fp32" or any(n not in SETTINGS for n in names):
        ap.error(f"--settings must start with fp32 and name only {', '.join(SETTINGS)}")
    torch.set_num_threads(args.threads)
    curves = {
        s: [
            run(args.preset, s, seed, args.steps, args.every, [])
            if s == "fp32"
            else run(args.preset, s, seed, args.candidate_steps or args.steps, args.every, args.set)
            for seed in args.seeds
        ]
        for s in names
        if not (s == "fp32" and args.fp32_known)
    }
    if args.fp32_known:  # an earlier fp32 run of this script: its training s and final FID
        secs, fid = (float(v) for v in args.fp32_known.split(":"))
        curves = {"fp32": [[(args.steps, secs, fid)]], **curves}
    target = statistics.mean(c[-1][2] for c in curves["fp32"])
    print()
    print(
        "| precision | seeds | final fid5k_lenet (each seed) | training s "
        f"| s to reach fp32's {target:.1f} |"
    )
    print("|---|---|---|---|---|")
    for s, cs in curves.items():
        finals = ", ".join(f"{c[-1][2]:.1f}" for c in cs)
        secs = statistics.mean(c[-1][1] for c in cs)
        reach = []
        for c in cs:
            hit = next((t for _, t, f in c if f <= target), None)
            reach.append("not reached" if hit is None else f"{hit:.0f}")
        print(f"| {s} | {len(cs)} | {finals} | {secs:.0f} | {', '.join(reach)} |")


if __name__ == "__main__":
    main()
