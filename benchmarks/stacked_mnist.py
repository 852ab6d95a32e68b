"""Stacked MNIST (1,000 modes): modes captured and KL to uniform, beside PacGAN's Table 2.

Protocol (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. NeurIPS 2018): train on
digit triples stacked as RGB (``stacked_mnist``: 25,600 triples of mnist5k digits);
generate 26,000 samples from G_ema; classify each channel with the shipped LeNet; a
mode (one of 1,000 digit triples) is captured when at least one sample lands in it; KL
is KL(p_gen || uniform) of the triples' histogram (``ganforge.metrics`` protocol
``classes_stacked``). The first row classifies the training triples themselves: the
floor that classifier errors, mnist5k's class imbalance and a finite sample put under
any generator's KL.

    python benchmarks/stacked_mnist.py                          # preset, seed 0
    python benchmarks/stacked_mnist.py --seeds 0 1 --set tricks.pac=2 --steps 3000
    python benchmarks/stacked_mnist.py --rejection --keep runs/stacked   # + a DRS row

``--rejection`` also scores samples drawn through discriminator rejection sampling with
each run's D (``ganforge.sampling.rejection``); ``--keep DIR`` keeps the run folders.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time

import torch
from common import quiet_config

from ganforge.apps.gan import gan_trainer
from ganforge.core.config import apply_override
from ganforge.core.presets import load_preset_or_file
from ganforge.data import load_data
from ganforge.metrics import evaluate
from ganforge.sampling.rejection import DiscriminatorRejectionSampler

PUBLISHED = [  # PacGAN Table 2 (Stacked MNIST, VEEGAN's architecture): modes, KL
    ("DCGAN", 99.0, 3.40),
    ("ALI", 16.0, 5.40),
    ("Unrolled GAN", 48.7, 4.32),
    ("VEEGAN", 150.0, 2.95),
    ("PacDCGAN2", 1000.0, 0.06),
]


def stacked_scores(source: object) -> tuple[float, float]:
    r = evaluate(source, metrics=["classes_stacked"], progress=False)
    return r["classes_stacked_modes_captured"], r["classes_stacked_kl"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default="dcgan-stacked", help="preset or TOML file")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--steps", type=int, help="override the preset's steps")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-floor", action="store_true", help="skip the real-data row")
    ap.add_argument("--rejection", action="store_true", help="also score DRS samples")
    ap.add_argument("--refine-steps", type=int, default=0, help="DRS: D refinement steps")
    ap.add_argument("--keep", metavar="DIR", help="keep the run folders in DIR/seedN")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    _, cfg = load_preset_or_file(args.config)
    for a in args.set:
        cfg = apply_override(cfg, a)
    cfg = quiet_config(cfg, steps=args.steps or cfg.steps)
    setting = f"{args.config}, {cfg.steps} steps" + (f", {' '.join(args.set)}" if args.set else "")
    print("| model | seeds | modes (of 1000) | KL | wall s/run |")
    print("|---|---|---|---|---|")
    # The real triples, loaded once: the floor row and rejection sampling's calibration.
    real = load_data(cfg.data).x if args.rejection or not args.no_floor else None
    if not args.no_floor:
        modes, kl = stacked_scores(real)
        print(f"| real training triples ({len(real):,}) | – | {modes:.0f} | {kl:.3f} | – |")
    rows: dict[str, tuple[list[float], list[float]]] = {}
    secs: list[float] = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = f"{args.keep}/seed{seed}" if args.keep else tmp
            tr = gan_trainer(dataclasses.replace(cfg, seed=seed), run_dir)
            tr.run()
        secs.append(time.perf_counter() - t0)
        sources = {setting: tr.G_ema.eval()}
        if args.rejection:
            drs = DiscriminatorRejectionSampler(
                tr.G_ema, tr.D, real, refine_steps=args.refine_steps, seed=seed
            ).fit()
            sources[f"{setting} + DRS"] = drs.sample(26_000, seed=seed)
            print(f"  DRS acceptance {drs.stats.acceptance:.3f}, {drs.stats}", flush=True)
        for label, source in sources.items():
            modes, kl = stacked_scores(source)
            rows.setdefault(label, ([], []))
            rows[label][0].append(modes)
            rows[label][1].append(kl)
            print(f"  {label} seed {seed}: {modes:.0f} modes, KL {kl:.3f}, {secs[-1]:.0f} s")
    n = len(args.seeds)
    mean = statistics.mean
    for label, (modes_l, kl_l) in rows.items():
        print(
            f"| ganforge {label} | {n} | {mean(modes_l):.1f} (min {min(modes_l):.0f}) | "
            f"{mean(kl_l):.3f} (max {max(kl_l):.3f}) | {statistics.median(secs):.0f} |",
            flush=True,
        )
    for name, m, k in PUBLISHED:
        print(f"| published {name} | – | {m:g} | {k:.2f} | – |")


if __name__ == "__main__":
    main()
