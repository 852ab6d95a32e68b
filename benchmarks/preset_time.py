"""End-to-end wall time of the 2-D presets against a plain PyTorch loop of the same recipe.

``ganforge train PRESET`` runs in a fresh process (imports, data, training, scatter plots,
checkpoints, the final evaluation through the preset's sampler, the report), median of
``--repeats`` runs. Beside it, the same training written out as a plain loop in this script
— same networks, batch, steps, ns loss, Adam with TTUR, linear decay, lazy R1, EMA — with
nothing else: the host's speed today, and the ratio shows what the toolkit adds.

    python benchmarks/preset_time.py                      # gan-ring8 and gan-grid25, 3 runs
    python benchmarks/preset_time.py --presets gan-grid25 --repeats 5

The presets set ``threads = 1``; the plain loop uses one thread too.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.core.presets import load_preset_or_file
from ganforge.data import load_data


def mlp(sizes: list[int], act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def plain_loop(preset: str) -> float:
    """Seconds for the preset's training recipe as a bare PyTorch loop (one thread)."""
    cfg = load_preset_or_file(preset)[1]
    torch.manual_seed(0)
    real = load_data(cfg.data).x
    args = cfg.model.args
    G = mlp([cfg.model.z_dim, *args.get("g_hidden", [128, 128, 128]), 2], nn.ReLU)
    D = mlp([2, *args.get("d_hidden", [128, 128, 128]), 1], lambda: nn.LeakyReLU(0.2))
    G_ema = mlp([cfg.model.z_dim, *args.get("g_hidden", [128, 128, 128]), 2], nn.ReLU)
    G_ema.load_state_dict(G.state_dict())
    o = cfg.optim
    opt_g = torch.optim.Adam(G.parameters(), o.lr_g, betas=(o.beta1, o.beta2))
    opt_d = torch.optim.Adam(D.parameters(), o.lr_d, betas=(o.beta1, o.beta2))
    decay = lambda s: 1.0 - s / cfg.steps  # noqa: E731 - the preset's linear schedule
    sched = [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in (opt_g, opt_d)]
    gamma, every = cfg.loss.args.get("r1_gamma", 0.0), cfg.loss.args.get("r1_interval", 1)
    bs = cfg.batch_size
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        x = real[torch.randint(len(real), (bs,))]
        fake = G(torch.randn(bs, cfg.model.z_dim)).detach()
        r1 = gamma > 0 and step % every == 0
        x.requires_grad_(r1)
        d_real = D(x)
        loss_d = F.softplus(-d_real).mean() + F.softplus(D(fake)).mean()
        if r1:
            (g,) = torch.autograd.grad(d_real.sum(), x, create_graph=True)
            loss_d = loss_d + gamma / 2 * every * g.pow(2).sum(1).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-D(G(torch.randn(bs, cfg.model.z_dim)))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward(inputs=list(G.parameters()))
        opt_g.step()
        for s in sched:
            s.step()
        with torch.no_grad():
            torch._foreach_lerp_(
                list(G_ema.parameters()), list(G.parameters()), 1.0 - cfg.ema.decay
            )
    return time.perf_counter() - t0


def ganforge_train(preset: str) -> float:
    """Seconds for ``ganforge train PRESET`` in a fresh process, start to exit."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "ganforge", "train", preset, "--out", out, "--no-progress"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--presets", default="gan-ring8,gan-grid25")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| preset | steps | plain PyTorch loop (s) | `ganforge train` end to end (s) | ratio |")
    print("|---|---|---|---|---|")
    for preset in args.presets.split(","):
        steps = load_preset_or_file(preset)[1].steps
        plain = statistics.median(plain_loop(preset) for _ in range(args.repeats))
        full = statistics.median(ganforge_train(preset) for _ in range(args.repeats))
        print(f"| {preset} | {steps} | {plain:.1f} | {full:.1f} | {full / plain:.2f} |", flush=True)


if __name__ == "__main__":
    main()
