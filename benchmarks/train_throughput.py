"""Training throughput: ganforge's training step against a plain PyTorch loop.

For each model, the plain loop is written out here with the identical architecture
(the textbook DCGAN of the PyTorch examples, or the tutorial MLP GAN), the same batch, the
same loss and Adam settings, so the ratio isolates what the engine adds or saves.
Images/s count real images per G step (``batch_size * steps / seconds``).

    python benchmarks/train_throughput.py                    # dcgan-64, mlp-28, dcgan-32
    python benchmarks/train_throughput.py --models dcgan64 --repeats 5 --steps 20
    python benchmarks/train_throughput.py --precision bf16 --channels-last
    python benchmarks/train_throughput.py --precision bf16 --channels-last --compile
    python benchmarks/train_throughput.py --profile --models dcgan64   # where the time goes

Also printed: the machine's measured matrix-multiply rate in fp32 and bf16 (2048^3
products, median of 5) and each step's achieved GFLOP/s, from FLOPs counted with
``torch.utils.flop_counter`` on one step of the plain loop (the same work on both sides).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import ran_as, warmed_trainer
from torch import nn

from ganforge.core.config import DataConfig, LogConfig, ModelConfig, OptimConfig, TrainConfig
from ganforge.data import TensorData

MODELS = {
    # name: (ganforge model name, out_shape, batch size)
    "mlp28": ("mlp", (1, 28, 28), 64),
    "dcgan32": ("dcgan", (3, 32, 32), 64),
    "dcgan64": ("dcgan", (3, 64, 64), 64),
}


def plain_dcgan(c: int, res: int, nz: int = 100, ngf: int = 64, ndf: int = 64):
    """The PyTorch-examples DCGAN, written out layer by layer (32 or 64 pixels)."""
    ups = {32: [ngf * 4, ngf * 2, ngf], 64: [ngf * 8, ngf * 4, ngf * 2, ngf]}[res]
    g: list[nn.Module] = [
        nn.ConvTranspose2d(nz, ups[0], 4, 1, 0, bias=False),
        nn.BatchNorm2d(ups[0]),
        nn.ReLU(True),
    ]
    for a, b in zip(ups, ups[1:], strict=False):
        g += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
    g += [nn.ConvTranspose2d(ups[-1], c, 4, 2, 1), nn.Tanh()]
    downs = list(reversed(ups))
    d: list[nn.Module] = [nn.Conv2d(c, downs[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for a, b in zip(downs, downs[1:], strict=False):
        d += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
    d += [nn.Conv2d(downs[-1], 1, 4, 1, 0), nn.Flatten(0)]
    return nn.Sequential(nn.Unflatten(1, (nz, 1, 1)), *g), nn.Sequential(*d)


def plain_mlp(c: int, res: int, nz: int = 100):
    """The seed's model: MLP G and a 4-layer 5x5 stride-2 conv D."""
    g = nn.Sequential(
        nn.Linear(nz, 128),
        nn.LeakyReLU(0.2),
        nn.Linear(128, 128),
        nn.LeakyReLU(0.2),
        nn.Linear(128, c * res * res),
        nn.Tanh(),
        nn.Unflatten(1, (c, res, res)),
    )
    layers: list[nn.Module] = []
    ch, s = c, res
    for out in (64, 128, 256, 512):
        layers += [nn.Conv2d(ch, out, 5, 2, 2), nn.LeakyReLU(0.2)]
        ch, s = out, (s + 1) // 2
    d = nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * s * s, 1), nn.Flatten(0))
    return g, d


def time_plain(
    name: str, data: torch.Tensor, steps: int, warmup: int, *, tuned: bool = False
) -> float:
    """The plain loop of the PyTorch DCGAN example; ``tuned`` is what an expert adds by
    hand: bf16 autocast (where the hardware has it), channels-last (image models), fused
    Adam, and each update backpropagating only into its own network."""
    from ganforge.training.precision import cpu_has_bf16

    model, (c, res, _), bs = MODELS[name]
    torch.manual_seed(0)
    G, D = plain_dcgan(c, res) if model == "dcgan" else plain_mlp(c, res)
    dev = data.device
    G, D = G.to(dev), D.to(dev)
    bf16 = tuned and (cpu_has_bf16() if dev.type == "cpu" else torch.cuda.is_bf16_supported())
    nhwc = tuned and data.dim() == 4
    if nhwc:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
        data = data.contiguous(memory_format=torch.channels_last)
    fused = {"fused": True} if tuned else {}
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999), **fused)
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999), **fused)
    g_params, d_params = list(G.parameters()), list(D.parameters())
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(bs, device=dev), torch.zeros(bs, device=dev)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
    t0 = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        real = data[torch.randint(len(data), (bs,), device=dev)]
        with autocast:
            fake = G(torch.randn(bs, 100, device=dev))
            d_real, d_fake = D(real), D(fake.detach())
        opt_d.zero_grad(set_to_none=True)
        loss_d = bce(d_real.float(), ones) + bce(d_fake.float(), zeros)
        loss_d.backward(inputs=d_params if tuned else None)
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        with autocast:
            d_gen = D(fake)
        loss_g = bce(d_gen.float(), ones)
        loss_g.backward(inputs=g_params if tuned else None)
        opt_g.step()
    _sync(dev)
    return bs * steps / (time.perf_counter() - t0)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def matmul_gflops(
    dtype: torch.dtype, n: int = 2048, repeats: int = 5, device: str = "cpu"
) -> float:
    """The machine's dense matrix-multiply rate in ``dtype``, GFLOP/s."""
    dev = torch.device(device)
    a = torch.randn(n, n, dtype=dtype, device=dev)
    b = torch.randn(n, n, dtype=dtype, device=dev)
    a @ b
    times = []
    for _ in range(repeats):
        _sync(dev)
        t0 = time.perf_counter()
        a @ b
        _sync(dev)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def step_flops(name: str, data: torch.Tensor) -> float:
    """FLOPs of one plain training step (three D forwards, one G forward, backwards)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        time_plain(name, data, steps=1, warmup=0)
    return float(counter.get_total_flops())


def time_ganforge(
    name: str,
    data: torch.Tensor,
    steps: int,
    warmup: int,
    precision: str,
    channels_last: str,
    compile: bool = False,
) -> tuple[float, str]:
    """ganforge's images/s on the same model, and the precision/layout it ran with."""
    model, shape, bs = MODELS[name]
    cfg = TrainConfig(
        batch_size=bs,
        device=str(data.device),
        precision=precision,
        channels_last=channels_last,
        compile=compile,
        data=DataConfig(spec="bench"),
        model=ModelConfig(name=model, z_dim=100),
        optim=OptimConfig(),
        log=LogConfig(every=10**9, sample_every=10**9, ckpt_every=10**9, progress=False),
    )
    torch.manual_seed(0)
    t = warmed_trainer(cfg, "/tmp/ganforge-bench", TensorData(data, name="bench"), warmup, steps)
    t0 = time.perf_counter()
    t.run(progress=False)
    _sync(data.device)
    return bs * steps / (time.perf_counter() - t0), ran_as(t)


#: Profiler op names -> the part of the step they belong to (first match wins).
PARTS = [
    ("convolution backward", ("convolution_backward", "ConvolutionBackward")),
    ("convolution forward", ("convolution", "conv2d", "conv_transpose", "mkldnn_convolution")),
    ("batch norm (fwd + bwd)", ("batch_norm",)),
    ("activations (fwd + bwd)", ("leaky_relu", "relu", "tanh", "threshold", "sigmoid")),
    ("optimizer (fused Adam)", ("adam", "Optimizer")),
    ("EMA, guard, grad norms", ("lerp", "norm", "isfinite", "_foreach")),
    ("losses, casts, copies", ("binary_cross", "softplus", "copy_", "to_copy", "mean", "sum")),
    ("random numbers, batching", ("randn", "normal", "index", "randperm", "uniform")),
]  # fmt: skip


def profile_parts(name: str, data: torch.Tensor, steps: int, warmup: int) -> None:
    """Where ganforge's step spends its time at the defaults: self CPU time of each
    profiler op, grouped into the parts of a step, as a markdown table."""
    from torch.profiler import ProfilerActivity, profile

    model, _, bs = MODELS[name]
    cfg = TrainConfig(
        batch_size=bs, device="cpu", data=DataConfig(spec="bench"),
        model=ModelConfig(name=model, z_dim=100), optim=OptimConfig(),
        log=LogConfig(every=10**9, sample_every=10**9, ckpt_every=10**9, progress=False),
    )  # fmt: skip
    torch.manual_seed(0)
    t = warmed_trainer(cfg, "/tmp/ganforge-bench", TensorData(data, name="bench"), warmup, steps)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        t.run(progress=False)
        wall = time.perf_counter() - t0
    totals: dict[str, float] = {}
    for ev in prof.key_averages():
        part = next((p for p, keys in PARTS if any(k.lower() in ev.key.lower() for k in keys)),
                    "other (dispatch, autograd engine, Python)")  # fmt: skip
        totals[part] = totals.get(part, 0.0) + ev.self_cpu_time_total / 1e6
    ran = ran_as(t)
    print(f"\nprofile of ganforge's {name} step ({ran}), {steps} steps, {wall / steps * 1e3:.0f}"
          " ms per step (profiler on)")  # fmt: skip
    print("| part of the step | ms per step | share |\n|---|---:|---:|")
    whole = sum(totals.values())
    for part, sec in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"| {part} | {sec / steps * 1e3:.1f} | {100 * sec / whole:.0f}% |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", default="dcgan64,mlp28,dcgan32")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--precision", default="auto", help="ganforge's precision (default: auto)")
    ap.add_argument("--channels-last", default="auto", choices=["auto", "true", "false"])
    ap.add_argument("--compile", action="store_true", help="ganforge with compile = true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--profile", action="store_true", help="only profile ganforge's step")
    args = ap.parse_args()
    if args.profile:
        for name in args.models.split(","):
            _, shape, _ = MODELS[name]
            profile_parts(name, torch.rand(512, *shape) * 2 - 1, args.steps, args.warmup)
        return
    mm32 = matmul_gflops(torch.float32, device=args.device)
    mm16 = matmul_gflops(torch.bfloat16, device=args.device)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of "
        f"{args.repeats} interleaved runs x {args.steps} steps; ganforge precision="
        f"{args.precision}, channels_last={args.channels_last}, compile={args.compile}"
    )
    print(f"matrix multiply: fp32 {mm32:.0f} GFLOP/s, bf16 {mm16:.0f} GFLOP/s")
    print(
        "| model | plain fp32 img/s | tuned hand loop img/s | ganforge img/s (ran as) "
        "| vs plain | vs tuned | GFLOP/step | ganforge GFLOP/s | % of bf16 mm |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        _, shape, bs = MODELS[name]
        data = (torch.rand(512, *shape) * 2 - 1).to(args.device)
        plain, tuned, ours, chosen = [], [], [], ""
        for _ in range(args.repeats):  # interleaved so machine noise hits all alike
            plain.append(time_plain(name, data, args.steps, args.warmup))
            tuned.append(time_plain(name, data, args.steps, args.warmup, tuned=True))
            rate, chosen = time_ganforge(
                name, data, args.steps, args.warmup, args.precision, args.channels_last,
                args.compile,
            )  # fmt: skip
            ours.append(rate)
        p, h, o = statistics.median(plain), statistics.median(tuned), statistics.median(ours)
        gflop = step_flops(name, data) / 1e9
        rate = gflop * o / bs
        print(
            f"| {name} | {p:.1f} | {h:.1f} | {o:.1f} ({chosen}) | {o / p:.2f}x | {o / h:.2f}x | "
            f"{gflop:.2f} | {rate:.0f} | {100 * rate / mm16:.0f}% |",
            flush=True,
        )


if __name__ == "__main__":
    main()
