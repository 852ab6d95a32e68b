"""StyleGAN-32 against DCGAN on mnist5k at equal wall time (fid5k_lenet, digit coverage).

Each preset trains in chunks of ``--chunk`` steps until ``--minutes`` of wall time have
passed, then G_ema is measured with ``fid5k_lenet`` (FID in the shipped LeNet's feature
space, 5,000 samples; StyleGAN's 32x32 samples and its 32x32 real digits are resized to
28x28 as the LeNet expects) and ``classes_mnist`` (digits captured of 10, KL to uniform).
Run the rows one after the other on an otherwise idle machine: wall time is the budget.

    python benchmarks/stylegan_vs_dcgan.py --minutes 10
    python benchmarks/stylegan_vs_dcgan.py --minutes 2 --presets stylegan-mnist --seed 1
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch
from common import quiet_config

from ganforge.apps.gan import gan_trainer
from ganforge.core.imaging import save_grid
from ganforge.core.presets import load_preset_or_file
from ganforge.metrics import evaluate
from ganforge.training.trainer import Trainer


def train_for(preset: str, minutes: float, chunk: int, seed: int, run_dir: Path) -> Trainer:
    """Train ``preset`` until ``minutes`` of wall time are spent (in whole chunks)."""
    _, cfg = load_preset_or_file(preset)
    # steps: a budget far away, so that nothing in the schedule depends on it
    cfg = quiet_config(cfg, seed=seed, steps=10**7)
    if cfg.optim.schedule != "constant":
        raise SystemExit(f"{preset} decays its LR over its steps; equal-time runs need constant")
    trainer = gan_trainer(dataclasses.replace(cfg, steps=chunk), run_dir)
    t0 = time.perf_counter()
    step = 0
    while time.perf_counter() - t0 < minutes * 60:
        step += chunk
        trainer.cfg = dataclasses.replace(cfg, steps=step)
        trainer.run(progress=False)
    trainer.wall_seconds = time.perf_counter() - t0  # type: ignore[attr-defined]
    return trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--presets", default="dcgan-mnist,stylegan-mnist")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--chunk", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--img-dir", help="write 8x8 sample grids of each preset here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"equal wall time: {args.minutes:g} min each, {args.threads} thread(s), seed {args.seed}")
    print()
    print("| model | steps in budget | wall s | fid5k_lenet ↓ | digits captured | KL to uniform |")
    print("|---|---|---|---|---|---|")
    for preset in args.presets.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            tr = train_for(preset, args.minutes, args.chunk, args.seed, Path(tmp))
            G = tr.G_ema.eval()
            r = evaluate(G, ["fid5k_lenet", "classes_mnist"], real=tr.cfg.data, progress=False)
        if args.img_dir:
            save_grid(G.sample(64, seed=0), Path(args.img_dir) / f"{preset}-equal-time.png", nrow=8)
        print(
            f"| {preset} | {tr.cfg.steps} | {tr.wall_seconds:.0f} | {r['fid5k_lenet']:.1f} | "
            f"{r['classes_mnist_modes_captured']:.0f} | {r['classes_mnist_kl']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
