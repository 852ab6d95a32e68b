"""Kernel Inception Distance (Bińkowski et al., ICLR 2018), as in stylegan2-ada.

KID is the unbiased estimate of the squared MMD between two feature sets with the cubic
polynomial kernel ``k(x, y) = (x . y / d + 1)^3``:

    MMD^2_u = 1/(m(m-1)) sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)] - 2/m^2 sum_{i, j} k(x_i, y_j)

averaged over ``subsets`` random subsets of ``subset_size`` samples per side, drawn
without replacement (100 subsets of 1,000 in the paper's code and stylegan2-ada). Being
unbiased, it can be slightly negative for two samples of one distribution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ganforge.metrics._arrays import as_features

__all__ = ["kid", "mmd2_unbiased"]


def _poly(g: torch.Tensor, d: int) -> torch.Tensor:
    return (g / d + 1) ** 3


def mmd2_unbiased(kxx: torch.Tensor, kyy: torch.Tensor, kxy: torch.Tensor) -> float:
    """Unbiased MMD^2 from the three (m, m) kernel matrices of one subset pair."""
    m = kxx.shape[0]
    sxx = kxx.sum() - kxx.diagonal().sum()
    syy = kyy.sum() - kyy.diagonal().sum()
    return float((sxx + syy) / (m * (m - 1)) - 2 * kxy.sum() / (m * m))


def kid(
    a: Any,
    b: Any,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """KID between feature sets ``a`` (N_a, D) and ``b`` (N_b, D), computed in float64.

    Args:
        a, b: features, numpy arrays or tensors. The estimate is symmetric in a and b.
        subsets: number of random subset pairs averaged.
        subset_size: samples per side in each subset; capped at ``min(N_a, N_b)``.
        seed: seed of the subset draws (a fixed seed makes the number reproducible).

    Returns:
        ``{"kid": mean over subsets, "kid_std": standard deviation over subsets,
        "subset_size": m, "subsets": count}``.
    """
    x = as_features(a, "a", min_n=2)
    y = as_features(b, "b", min_n=2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sizes differ: {x.shape[1]} vs {y.shape[1]}")
    d = x.shape[1]
    m = min(len(x), len(y), subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 samples per side")
    rng = np.random.default_rng(seed)
    draws = [
        (rng.choice(len(x), m, replace=False), rng.choice(len(y), m, replace=False))
        for _ in range(subsets)
    ]
    # With many subsets of a moderate set, the full kernel matrices are cheaper than
    # subsets * 3 products of m x m (3 N^2 d vs subsets * 3 m^2 d flops); subsets are
    # then gathered from them. Large sets would not fit: compute per subset instead.
    full = len(x) ** 2 + len(y) ** 2 + len(x) * len(y) < subsets * 3 * m * m
    full = full and max(len(x), len(y)) <= 8192
    if full:
        kxx, kyy, kxy = _poly(x @ x.T, d), _poly(y @ y.T, d), _poly(x @ y.T, d)
    values = []
    for ix, iy in draws:
        ix_t, iy_t = torch.from_numpy(ix), torch.from_numpy(iy)
        if full:
            sxx = kxx[ix_t][:, ix_t]
            syy = kyy[iy_t][:, iy_t]
            sxy = kxy[ix_t][:, iy_t]
        else:
            xs, ys = x[ix_t], y[iy_t]
            sxx, syy, sxy = _poly(xs @ xs.T, d), _poly(ys @ ys.T, d), _poly(xs @ ys.T, d)
        values.append(mmd2_unbiased(sxx, syy, sxy))
    v = np.asarray(values)
    return {
        "kid": float(v.mean()),
        "kid_std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        "subset_size": float(m),
        "subsets": float(subsets),
    }
