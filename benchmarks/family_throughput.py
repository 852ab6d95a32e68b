"""Every model family's training speed: ganforge at its defaults against hand-written loops.

For each family the networks come from the family's preset (``build_gan``, same seed, same
data, same batch size); the game is the plain non-saturating GAN with the preset's EMA, so
both sides do the same work per step: one G forward, three D forwards, two backwards, two
Adam updates and one EMA update. Three columns:

* **plain loop** — the PyTorch DCGAN example's loop over these networks: fp32, default
  Adam, ``loss.backward()`` into every parameter;
* **tuned loop** — what an expert writes by hand: the faster of fp32 and bf16 autocast
  (each timed, where the CPU has bf16), channels-last for image models, fused Adam, each
  update backpropagating into its own network only, a ``_foreach_lerp_`` EMA;
* **ganforge** — ``Trainer.run`` at its defaults (``precision = channels_last = "auto"``),
  guard, logging and EMA included; checkpoints and sample PNGs are switched off on both
  sides (they are I/O, timed elsewhere).

Images (or items) per second are ``batch_size * steps / seconds``; every number is the
median over ``--repeats`` rounds, the columns interleaved within each round. ganforge's
window is one ``Trainer.run`` and so also holds what a run does once — the guard's first
snapshot of weights and optimizer states, the last step's log line — which a window of 10
steps counts at several times its share of a real run (cgan-mnist 0.86x the tuned loop
over 10 steps, 1.01x over 60); hence 60 steps by default.

    python benchmarks/family_throughput.py
    python benchmarks/family_throughput.py --families dcgan,stylegan --steps 20 --repeats 5
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from common import ran_as, warmed_trainer

from ganforge.core.config import (
    EvalConfig,
    LogConfig,
    LossConfig,
    ObjectiveConfig,
    TricksConfig,
)
from ganforge.core.presets import load_preset_or_file
from ganforge.data import load_data
from ganforge.models import build_gan
from ganforge.training.precision import cpu_has_bf16

FAMILIES = {
    # name: preset whose networks, data and batch size are timed
    "dcgan": "dcgan-mnist",
    "stylegan": "stylegan-mnist",
    "conditional": "cgan-mnist",
    "infogan": "infogan-mnist",
    "mlp": "mlp-mnist",
    "wavegan": "wavegan-tones",
    "text": "textgan-words",
    "toy2d": "gan-ring8",
}


def bench_config(preset: str, steps: int):
    """The preset with its own networks, data, batch and EMA, playing the plain game."""
    _, cfg = load_preset_or_file(preset)
    return dataclasses.replace(
        cfg,
        steps=steps,
        loss=LossConfig("ns"),
        objective=ObjectiveConfig("gan"),
        tricks=TricksConfig(),
        optim=dataclasses.replace(cfg.optim, d_steps=1, schedule="constant", grad_clip=0.0),
        log=LogConfig(every=10**9, sample_every=10**9, ckpt_every=10**9, progress=False,
                      report=False, monitor=False),
        eval=EvalConfig(every=0),
        sample=dataclasses.replace(cfg.sample, rejection=False, langevin=False),
    )  # fmt: skip


def time_hand_loop(cfg, data: torch.Tensor, steps: int, warmup: int, *, tuned: bool,
                   bf16: bool = False) -> float:  # fmt: skip
    """Items/s of the hand-written loop over the preset's networks."""
    torch.manual_seed(cfg.seed)
    G, D = build_gan(cfg, tuple(data.shape[1:]))
    G_ema = copy.deepcopy(G).requires_grad_(False)
    image = data.dim() == 4
    if tuned and image:
        G, D, G_ema = (m.to(memory_format=torch.channels_last) for m in (G, D, G_ema))
        data = data.contiguous(memory_format=torch.channels_last)
    fused = {"fused": True} if tuned else {}
    betas = (cfg.optim.beta1, cfg.optim.beta2)
    opt_g = torch.optim.Adam(G.parameters(), cfg.optim.lr_g, betas=betas, **fused)
    opt_d = torch.optim.Adam(D.parameters(), cfg.optim.lr_d, betas=betas, **fused)
    g_params, d_params = list(G.parameters()), list(D.parameters())
    ema_params, decay = list(G_ema.parameters()), cfg.ema.decay
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    bs = cfg.batch_size
    t0 = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        real = data[torch.randint(len(data), (bs,))]
        with autocast:
            fake = G(torch.randn(bs, G.z_dim))
            d_real, d_fake = D(real), D(fake.detach())
        loss_d = F.softplus(-d_real.float()).mean() + F.softplus(d_fake.float()).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward(inputs=d_params if tuned else None)
        opt_d.step()
        with autocast:
            d_gen = D(fake)
        loss_g = F.softplus(-d_gen.float()).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward(inputs=g_params if tuned else None)
        opt_g.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, g_params, 1.0 - decay)
    return bs * steps / (time.perf_counter() - t0)


def time_ganforge(cfg, data, steps: int, warmup: int) -> tuple[float, str]:
    """Items/s of ``Trainer.run`` at its defaults, and the precision/layout it chose."""
    torch.manual_seed(cfg.seed)
    with tempfile.TemporaryDirectory(prefix="ganforge-bench-") as out:
        t = warmed_trainer(cfg, out, data, warmup, steps)
        t0 = time.perf_counter()
        t.run(progress=False)
        seconds = time.perf_counter() - t0
    return cfg.batch_size * steps / seconds, ran_as(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    bf16_ok = cpu_has_bf16()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, bf16 native: {bf16_ok}")
    header = "| family (preset) | batch | plain loop | tuned loop (best of) | ganforge | chose | vs plain | vs tuned |"  # noqa: E501
    print(header + "\n|" + "---|" * 8)
    for fam in args.families.split(","):
        preset = FAMILIES[fam]
        cfg = bench_config(preset, args.warmup)
        data = load_data(cfg.data)
        x = data.x
        plain, tuned, ours, chosen = [], [], [], ""
        tuned_kind = {}
        for _ in range(args.repeats):
            plain.append(time_hand_loop(cfg, x, args.steps, args.warmup, tuned=False))
            t32 = time_hand_loop(cfg, x, args.steps, args.warmup, tuned=True)
            t16 = (time_hand_loop(cfg, x, args.steps, args.warmup, tuned=True, bf16=True)
                   if bf16_ok else 0.0)  # fmt: skip
            tuned.append(max(t32, t16))
            tuned_kind["bf16" if t16 > t32 else "fp32"] = True
            rate, chosen = time_ganforge(cfg, data, args.steps, args.warmup)
            ours.append(rate)
        p, t, g = (statistics.median(v) for v in (plain, tuned, ours))
        print(f"| {fam} ({preset}) | {cfg.batch_size} | {p:.0f} | {t:.0f} "
              f"({'/'.join(sorted(tuned_kind))}) | {g:.0f} | {chosen} | {g / p:.2f}x "
              f"| {g / t:.2f}x |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
