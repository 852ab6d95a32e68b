"""A small "Are GANs Created Equal?" on mnist5k: fid5k_lenet of each loss at equal steps.

Every row trains the ``dcgan-mnist`` preset (DCGAN, batch 64, G_ema 0.999) for the same
number of generator steps with one loss changed, and evaluates G_ema with
``fid5k_lenet`` (FID in the shipped LeNet's feature space, 5,000 samples against
mnist5k) and ``classes_mnist`` (digits captured of 10). The losses that their papers run
with another optimiser get it (Lucic et al. 2018 likewise tune per loss):

* ``wgan``: RMSprop(5e-5), 5 critic steps per G step, weight clipping 0.01 (Arjovsky et
  al. 2017, Algorithm 1);
* ``wgan-gp``: Adam(1e-4, betas (0, 0.9)), 5 critic steps, no BatchNorm in the critic
  (Gulrajani et al. 2017, Algorithm 1 and section 4);
* every other loss: the preset's Adam(2e-4, beta1 0.5), one D step.

The tutorial MLP GAN (``mlp-mnist-tutorial``) is a row of its own at the same steps.

    python benchmarks/loss_table.py                            # every loss, 1,000 steps
    python benchmarks/loss_table.py --losses ns,hinge --steps 500 --seeds 0 1
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
from ganforge.metrics import evaluate

LOSS_SETTINGS = {
    "minimax": [],
    "ns": [],
    "lsgan": [],
    "hinge": [],
    "ragan": [],
    "ralsgan": [],
    "wgan": ["optim.name=rmsprop", "optim.lr_g=5e-5", "optim.lr_d=5e-5", "optim.d_steps=5"],
    "wgan-gp": [
        "optim.lr_g=1e-4",
        "optim.lr_d=1e-4",
        "optim.beta1=0.0",
        "optim.beta2=0.9",
        "optim.d_steps=5",
        "model.args.d_batchnorm=false",
    ],
}
ROWS = [*LOSS_SETTINGS, "mlp"]


def row_config(row: str, steps: int):  # noqa: ANN201 (TrainConfig)
    if row == "mlp":
        _, cfg = load_preset_or_file("mlp-mnist-tutorial")
    else:
        _, cfg = load_preset_or_file("dcgan-mnist")
        for a in [f"loss.name={row}", *LOSS_SETTINGS[row]]:
            cfg = apply_override(cfg, a)
    return quiet_config(cfg, steps=steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--losses", default=",".join(ROWS), help=f"rows among {', '.join(ROWS)}")
    ap.add_argument("--steps", type=int, default=1000, help="generator steps for every row")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print("| loss | optimiser | seeds | fid5k_lenet ↓ | digits captured | KL to uniform | s/run |")
    print("|---|---|---|---|---|---|---|")
    for row in args.losses.split(","):
        if row not in ROWS:
            raise SystemExit(f"unknown row {row!r}; choose among {', '.join(ROWS)}")
        cfg = row_config(row, args.steps)
        fids, modes, kls, secs = [], [], [], []
        for seed in args.seeds:
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as run_dir:
                tr = gan_trainer(dataclasses.replace(cfg, seed=seed), run_dir)
                tr.run()
                secs.append(time.perf_counter() - t0)
                G = tr.G_ema if tr.G_ema is not None else tr.G
                r = evaluate(
                    G.eval(), ["fid5k_lenet", "classes_mnist"], real="mnist5k", progress=False
                )
            fids.append(r["fid5k_lenet"])
            modes.append(r["classes_mnist_modes_captured"])
            kls.append(r["classes_mnist_kl"])
        o = cfg.optim
        opt = f"{o.name}({o.lr_g:g}), {o.d_steps} D step{'s' if o.d_steps > 1 else ''}"
        spread = f" ± {statistics.stdev(fids):.1f}" if len(fids) > 1 else ""
        name = "seed's MLP GAN (ns)" if row == "mlp" else row
        print(
            f"| {name} | {opt} | {len(args.seeds)} | {statistics.mean(fids):.1f}{spread} | "
            f"{statistics.mean(modes):.1f} | {statistics.mean(kls):.3f} | "
            f"{statistics.median(secs):.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
