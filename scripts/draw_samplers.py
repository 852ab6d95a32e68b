"""Draw one 2-D run's samples three ways side by side: G alone, rejection sampling and
discriminator-driven latent sampling (docs/img/grid25-samplers.png in BENCHMARKS.md).

    ganforge train gan-grid25 --out runs/gan-grid25
    python scripts/draw_samplers.py runs/gan-grid25 --out docs/img/grid25-samplers.png

Each panel gives the share of high-quality samples (within 3 std of a mode) and the reverse
KL of the modes' histogram (ganforge.metrics.modes2d) of its 2,500 samples.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ganforge.core.checkpoint import config_of, load_checkpoint  # noqa: E402
from ganforge.data.builtin import MIXTURES  # noqa: E402
from ganforge.metrics import modes2d  # noqa: E402
from ganforge.sampling.langevin import langevin_sampler_for_run  # noqa: E402
from ganforge.sampling.rejection import sampler_for_run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("run", help="a ring8 or grid25 run folder (it holds D)")
    ap.add_argument("--out", required=True, help="PNG file to write")
    ap.add_argument("-n", type=int, default=2500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rejection-power", type=float, default=2.0)
    args = ap.parse_args()
    cfg = config_of(load_checkpoint(args.run))
    data = cfg.data.spec
    if data not in MIXTURES:
        raise SystemExit(f"{args.run}: a ring8 or grid25 run is needed, this one is {data!r}")
    ddls = langevin_sampler_for_run(args.run, seed=args.seed)
    drs = sampler_for_run(args.run, power=args.rejection_power, seed=args.seed)
    panels = [
        ("G alone", ddls.G.sample(args.n, seed=args.seed)),
        (f"rejection sampling, power {args.rejection_power:g}", drs.sample(args.n, seed=args.seed)),
        (
            f"latent Langevin, {ddls.steps} steps, power {ddls.power:g}",
            ddls.sample(args.n, seed=args.seed),
        ),
    ]
    centers = MIXTURES[data][0]()
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2), dpi=90, sharex=True, sharey=True)
    for ax, (title, x) in zip(axes, panels, strict=True):
        r = modes2d(x, data)
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, color="tab:blue")
        ax.scatter(centers[:, 0], centers[:, 1], s=30, marker="x", color="tab:red")
        ax.set_title(
            f"{title}\n{100 * r['high_quality']:.1f}% high quality, reverse KL "
            f"{r['reverse_kl']:.3f}",
            fontsize=10,
        )
        ax.set_aspect("equal")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
