"""Mode coverage of 2-D Gaussian mixtures, the VEEGAN / PacGAN protocol.

Srivastava et al., "VEEGAN", NeurIPS 2017 and Lin et al., "PacGAN", NeurIPS 2018
(reference code: github.com/fjxmlzn/PacGAN, ``MetricLogger`` in
``synthetic_data_experiments/PacGAN/pacgan/extensions.py``). With 2,500 generated points:

* each point is assigned to its nearest mode centre; it is **high quality** when its
  distance to that centre is **strictly less than 3 standard deviations** of the mode
  (``< 3``, as in the PacGAN code);
* a mode is **captured** when at least one high-quality point is assigned to it (the
  PacGAN code counts modes with a non-zero count; no larger threshold);
* **reverse KL** is ``KL(p_gen || uniform) = sum_k p_k log(p_k K)`` where ``p`` is the
  histogram of the high-quality points over the K modes (PacGAN's Table 1). It is 0
  for a perfectly balanced generator and ``log K`` when one mode holds everything; with
  no high-quality point it is undefined and reported as ``inf``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ganforge.metrics._arrays import as_features

__all__ = ["modes2d", "mode_histogram", "MIXTURE_NAMES", "N_MODES2D"]

MIXTURE_NAMES = ("ring8", "grid25")
N_MODES2D = 2500  # samples of the protocol
HQ_STDS = 3.0


def _mixture(dataset: str) -> tuple[torch.Tensor, float]:
    from ganforge.data.builtin import MIXTURES

    if dataset not in MIXTURES:
        raise ValueError(
            f"modes2d knows the mixtures {', '.join(sorted(MIXTURES))}, not {dataset!r}"
        )
    centers_fn, std = MIXTURES[dataset]
    return centers_fn().to(torch.float64), float(std)


def mode_histogram(points: Any, dataset: str) -> tuple[torch.Tensor, int]:
    """Counts of high-quality points per mode (K,) int64, and the number of points."""
    x = as_features(points, "points")
    if x.shape[1] != 2:
        raise ValueError(f"modes2d needs (N, 2) points, got (N, {x.shape[1]})")
    centers, std = _mixture(dataset)
    d = torch.cdist(x, centers)  # (N, K), exact differences (no expansion) in 2-D
    dist, idx = d.min(1)
    hq = dist < HQ_STDS * std
    counts = torch.bincount(idx[hq], minlength=len(centers))
    return counts, len(x)


def modes2d(points: Any, dataset: str) -> dict[str, float]:
    """Mode coverage of generated 2-D points against ``"ring8"`` or ``"grid25"``.

    Args:
        points: generated points (N, 2), array or tensor (the protocol uses N = 2,500).
        dataset: ``"ring8"`` (8 modes, std 0.01) or ``"grid25"`` (25 modes, std 0.05);
            centres and std come from :mod:`ganforge.data.builtin`.

    Returns:
        ``{"modes_captured": modes with >= 1 high-quality point, "high_quality":
        fraction of points within 3 std of their nearest mode, "reverse_kl":
        KL(histogram of high-quality points || uniform), "n": N, "modes": K}``.
    """
    counts, n = mode_histogram(points, dataset)
    k = len(counts)
    n_hq = int(counts.sum())
    if n_hq == 0:
        reverse_kl = math.inf
    else:
        p = counts[counts > 0].double() / n_hq
        reverse_kl = float((p * (p * k).log()).sum())
    return {
        "modes_captured": float((counts > 0).sum()),
        "high_quality": n_hq / n,
        "reverse_kl": max(reverse_kl, 0.0),
        "n": float(n),
        "modes": float(k),
    }
