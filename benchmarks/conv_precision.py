"""Does bf16 pay on this CPU? One DCGAN-sized convolution, forward + backward, in fp32 and
bf16 autocast, NCHW and channels-last (fastest of ``--repeats`` after a warm-up).

    python benchmarks/conv_precision.py

On a CPU with AMX, bf16 is several times faster; with AVX-512 BF16 alone it can be slower
than fp32, which is why ``precision = "auto"`` measures instead of assuming.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.randn(64, 64, 32, 32)
    conv = torch.nn.Conv2d(64, 128, 4, 2, 1)
    print("| precision | layout | ms (forward + backward) |\n|---|---|---:|")
    for nhwc in (False, True):
        fmt = torch.channels_last if nhwc else torch.contiguous_format
        m = conv.to(memory_format=fmt)
        xx = x.contiguous(memory_format=fmt).requires_grad_(True)
        for dt in ("fp32", "bf16"):
            times = []
            for _ in range(args.repeats + 1):
                t0 = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dt == "bf16"):
                    y = m(xx)
                y.float().sum().backward()
                times.append(time.perf_counter() - t0)
            print(f"| {dt} | {'NHWC' if nhwc else 'NCHW'} | {min(times[1:]) * 1e3:.1f} |")


if __name__ == "__main__":
    main()
