"""Speed and agreement of the metrics: FID from features, feature extraction, FID floor.

    python benchmarks/metrics_speed.py                # 10,000 x 2,048 per side, 3 runs
    python benchmarks/metrics_speed.py --repeats 1 --n 5000

1. FID from N x D random features per side (correlated, ReLU'd like network
   features), end to end (mean + covariance + distance), median of ``--repeats`` runs:
   * ganforge: two-pass float64 covariance (BLAS syrk) + Cholesky/eigvalsh trace sqrt;
   * the scipy ``sqrtm`` formulation (pytorch-fid / TTUR): ``np.cov`` + ``sqrtm(S1 S2)``;
   * torchmetrics ``FrechetInceptionDistance`` fed the same features (identity module).
   The "from statistics" columns time the distance alone on shared statistics.
2. Feature extraction throughput (images/s) of ``lenet_mnist`` (28x28 digits) and
   ``inception_fid`` (random weights: speed does not depend on them; 299x299 input).
3. ``fid2.5k_lenet`` of mnist5k against itself split in two random halves: the floor
   a perfect generator would reach with 2,500 samples per side.

Absolute seconds depend on the machine and its load; the ratios are the result.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def make_features(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g) / d**0.5
    a = torch.relu(torch.randn(n, d, generator=g) @ mix)
    b = torch.relu(torch.randn(n, d, generator=g) @ mix * 1.05 + 0.02)
    return a.numpy(), b.numpy()


def bench_fid(n: int, d: int, repeats: int) -> list[dict]:
    from scipy import linalg  # noqa: F401  (import cost outside the timings)

    from ganforge.metrics.fid import feature_stats, frechet_distance, frechet_distance_sqrtm

    a, b = make_features(n, d, 0)

    def ours() -> tuple[float, float]:
        stats = [*feature_stats(a), *feature_stats(b)]
        t_dist = time.perf_counter()
        v = frechet_distance(*stats)
        return v, time.perf_counter() - t_dist

    def sqrtm_formulation() -> tuple[float, float]:
        stats = []
        for x in (a, b):
            x64 = x.astype(np.float64)
            stats += [x64.mean(0), np.cov(x64, rowvar=False)]
        t_dist = time.perf_counter()
        v = frechet_distance_sqrtm(*stats)
        return v, time.perf_counter() - t_dist

    def torchmetrics_fid() -> tuple[float, float]:
        from torchmetrics.image.fid import FrechetInceptionDistance

        class Identity(torch.nn.Module):
            num_features = d

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x

        m = FrechetInceptionDistance(feature=Identity())
        m.update(torch.from_numpy(a), real=True)
        m.update(torch.from_numpy(b), real=False)
        return float(m.compute()), float("nan")

    rows = []
    impls = [("ganforge", ours), ("scipy sqrtm (pytorch-fid)", sqrtm_formulation)]
    try:
        import torchmetrics  # noqa: F401

        impls.append(("torchmetrics", torchmetrics_fid))
    except ImportError:
        pass
    for name, fn in impls:
        e2e, dist, value = [], [], 0.0
        for _ in range(repeats):
            t = time.perf_counter()
            value, t_dist = fn()
            e2e.append(time.perf_counter() - t)
            dist.append(t_dist)
        rows.append(
            dict(impl=name, e2e=statistics.median(e2e), stats=statistics.median(dist), value=value)
        )
    return rows


@torch.no_grad()
def bench_extract(name: str, images: torch.Tensor, repeats: int) -> float:
    from ganforge.metrics import features as fx

    if name == "inception_fid":
        from ganforge.metrics.inception import FIDInceptionV3

        ext = fx.InceptionExtractor(model=FIDInceptionV3())
    else:
        ext = fx.get_extractor(name)
    ext(images[:2])  # warm-up
    t, _ = timed(lambda: ext(images), repeats)
    return len(images) / t


def fid_floor() -> float:
    from ganforge.core.config import DataConfig
    from ganforge.data import load_data
    from ganforge.metrics import evaluate

    x = load_data(DataConfig(spec="mnist5k")).x
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    half = len(x) // 2
    r = evaluate(x[perm[:half]], metrics=["fid2.5k_lenet"], real=x[perm[half:]], progress=False)
    return r["fid2.5k_lenet"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=10000, help="features per side")
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--inception-images", type=int, default=8)
    args = ap.parse_args()

    print(f"torch threads: {torch.get_num_threads()}")
    print(f"\n## FID from {args.n:,} x {args.dim:,} features per side "
          f"(median of {args.repeats})\n")  # fmt: skip
    rows = bench_fid(args.n, args.dim, args.repeats)
    ref = next(r for r in rows if r["impl"].startswith("scipy"))
    ours = rows[0]
    print(
        "| implementation | end to end (s) | from statistics (s) | speed-up e2e | FID "
        "| rel. diff vs sqrtm |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        rel = abs(r["value"] - ref["value"]) / abs(ref["value"])
        print(
            f"| {r['impl']} | {r['e2e']:.2f} | {r['stats']:.2f} | "
            f"{ref['e2e'] / r['e2e']:.1f}x | {r['value']:.6f} | {rel:.1e} |"
        )
    print(
        f"\nganforge vs sqrtm: {ref['e2e'] / ours['e2e']:.1f}x end to end, "
        f"{ref['stats'] / ours['stats']:.1f}x from statistics"
    )

    print("\n## Feature extraction (CPU)\n")
    print("| extractor | input | images/s |")
    print("|---|---|---:|")
    digits = torch.rand(1000, 1, 28, 28) * 2 - 1
    ips = bench_extract("lenet_mnist", digits, args.repeats)
    print(f"| lenet_mnist | 1x28x28, batch 1000 | {ips:,.0f} |")
    imgs = torch.rand(args.inception_images, 3, 32, 32) * 2 - 1
    ips = bench_extract("inception_fid", imgs, 1)
    print(f"| inception_fid | 3x32x32 -> 299, batch {args.inception_images} | {ips:,.2f} |")

    print("\n## FID floor\n")
    print(f"fid2.5k_lenet, mnist5k vs itself in random halves (seed 0): {fid_floor():.4f}")


if __name__ == "__main__":
    main()
