"""Mode coverage on the 2-D mixtures (VEEGAN/PacGAN protocol), several seeds per setting.

Protocol (ganforge.metrics.modes2d): 2,500 samples from G_ema; a sample is high quality
within 3 standard deviations of its nearest mode; a mode is captured when at least one
high-quality sample lands on it; reverse KL of the captured-mode histogram to uniform.
Printed beside the PacGAN paper's Table 1 (Lin et al., NeurIPS 2018).

    python benchmarks/mode_coverage.py                      # presets and baselines, 10 seeds
    python benchmarks/mode_coverage.py --seeds 3 --data ring8 --configs preset,plain
    python benchmarks/mode_coverage.py --data grid25 --configs preset --set steps=4000
    python benchmarks/mode_coverage.py --configs preset --rejection   # + DRS rows

``--rejection`` also scores each run's samples drawn through discriminator rejection
sampling (ganforge.sampling.rejection: the run's D, Platt-calibrated; Azadi et al. 2019) and prints
them as further rows of the same runs: at the preset's ``sample.power``, or at each of
``--powers 1,2``. ``--langevin`` does the same for discriminator-driven latent sampling
(ganforge.sampling.langevin; Che et al. 2020) at the setting's ``sample.langevin_steps`` and
``sample.langevin_step_size``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import tempfile
import time

import torch
from common import quiet_config

from ganforge.apps.gan import gan_trainer
from ganforge.core.config import apply_override
from ganforge.core.presets import load_preset_or_file
from ganforge.data import load_data
from ganforge.metrics import modes2d
from ganforge.sampling.langevin import LatentLangevinSampler
from ganforge.sampling.rejection import DiscriminatorRejectionSampler

# setting -> overrides applied on top of the preset
PLAIN = [  # the plain recipe on the toy networks: ns loss, Adam 1e-3, one D step, no R1
    "loss.args.r1_gamma=0",
    "optim.schedule=constant",
    "optim.d_steps=1",
    "optim.lr_d=1e-3",
    "model.args.d_hidden=[128, 128, 128]",
    "steps=3000",
]
CONFIGS = {
    "preset": [],
    "plain": PLAIN,
    "pacgan2": [*PLAIN, "tricks.pac=2"],
    "pac2+preset": ["tricks.pac=2"],
}
PUBLISHED = {  # PacGAN Table 1: modes, % high quality, reverse KL
    "ring8": [("GAN", 6.3, 98.2, 0.45), ("PacGAN2", 7.9, 95.6, 0.07)],
    "grid25": [("GAN", 17.3, 94.8, 0.70), ("PacGAN4", 24.8, 93.6, 0.04)],
}


def mean_se(xs: list[float]) -> str:
    if not all(math.isfinite(x) for x in xs):  # e.g. reverse KL with an empty mode
        return "inf" if any(math.isinf(x) for x in xs) else "nan"
    if len(xs) == 1:
        return f"{xs[0]:.3g}"
    se = statistics.stdev(xs) / math.sqrt(len(xs))
    return f"{statistics.mean(xs):.3g} ± {se:.2g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default="ring8,grid25")
    ap.add_argument("--configs", default="preset,plain,pacgan2")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra override applied after the setting's own (repeatable)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--rejection", action="store_true", help="also score discriminator rejection sampling"
    )
    ap.add_argument(
        "--langevin",
        action="store_true",
        help="also score discriminator-driven latent sampling (the setting's "
        "sample.langevin_steps and sample.langevin_step_size)",
    )
    ap.add_argument(
        "--powers",
        default="",
        help="with --rejection/--langevin: comma-separated powers to score (default: the "
        "preset's sample.power)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(
        "| data | setting | seeds | modes | all modes in | high quality % | min HQ % "
        "| reverse KL | s/run |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for data in args.data.split(","):
        _, base = load_preset_or_file(f"gan-{data}")
        n_modes = 8 if data == "ring8" else 25
        for name in args.configs.split(","):
            cfg = base
            for a in [*CONFIGS[name], *args.set]:
                cfg = apply_override(cfg, a)
            cfg = quiet_config(cfg)
            rows: dict[str, dict[str, list[float]]] = {}
            secs: list[float] = []
            real = load_data(cfg.data).x if args.rejection or args.langevin else None
            powers = [float(p) for p in args.powers.split(",") if p] or [cfg.sample.power]
            sc = cfg.sample
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                t0 = time.perf_counter()
                with tempfile.TemporaryDirectory() as run_dir:
                    tr = gan_trainer(dataclasses.replace(cfg, seed=seed), run_dir)
                    tr.run()
                secs.append(time.perf_counter() - t0)
                samples = {name: tr.G_ema.sample(2500, seed=10_000 + seed)}
                for power in powers if real is not None else []:
                    tag = f" power {power:g}" if power != 1 else ""
                    if args.rejection:
                        drs = DiscriminatorRejectionSampler(
                            tr.G_ema, tr.D, real, m_quantile=sc.m_quantile, power=power, seed=seed
                        ).fit()
                        samples[f"{name} + DRS{tag}"] = drs.sample(2500, seed=10_000 + seed)
                    if args.langevin:
                        ddls = LatentLangevinSampler(
                            tr.G_ema,
                            tr.D,
                            real,
                            steps=sc.langevin_steps,
                            step_size=sc.langevin_step_size,
                            power=power,
                            seed=seed,
                        ).fit()
                        chain = f"DDLS {sc.langevin_steps} x {sc.langevin_step_size:g}{tag}"
                        samples[f"{name} + {chain}"] = ddls.sample(2500, seed=10_000 + seed)
                for label, x in samples.items():
                    r = modes2d(x, data)
                    row = rows.setdefault(label, {"modes": [], "hq": [], "kl": []})
                    row["modes"].append(r["modes_captured"])
                    row["hq"].append(100 * r["high_quality"])
                    row["kl"].append(r["reverse_kl"])
                    print(
                        f"  {data} {label} seed {seed}: {r['modes_captured']:.0f} modes, "
                        f"{100 * r['high_quality']:.1f}% HQ, reverse KL {r['reverse_kl']:.4f}, "
                        f"{secs[-1]:.0f} s",
                        flush=True,
                    )
            extra = f", {' '.join(args.set)}" if args.set else ""
            for label, row in rows.items():
                modes, hq, kl = row["modes"], row["hq"], row["kl"]
                full = sum(m == n_modes for m in modes)
                print(
                    f"| {data} | {label} ({cfg.steps} steps{extra}) | {args.seeds} | "
                    f"{mean_se(modes)} | {full}/{args.seeds} | {mean_se(hq)} | {min(hq):.1f} | "
                    f"{mean_se(kl)} | {statistics.median(secs):.0f} |",
                    flush=True,
                )
        for label, m, q, k in PUBLISHED[data]:
            print(f"| {data} | published {label} | 10 | {m} | – | {q} | – | {k} | – |")


if __name__ == "__main__":
    main()
