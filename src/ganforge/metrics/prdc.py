"""Improved precision/recall and density/coverage: k-nearest-neighbour manifold metrics.

* Precision and recall: Kynkäänniemi et al., "Improved Precision and Recall Metric for
  Assessing Generative Models", NeurIPS 2019 (k = 3). The real manifold is the union
  of balls around each real feature with radius its distance to its k-th nearest real
  neighbour (itself excluded); precision is the fraction of fake samples inside it.
  Recall swaps the roles: the fraction of real samples inside the fake manifold.
* Density and coverage: Naeem et al., "Reliable Fidelity and Diversity Metrics for
  Generative Models", ICML 2020 (k = 5). Density = mean over fake samples of the number
  of real balls containing it, divided by k (can exceed 1); coverage = fraction of real
  samples whose ball contains at least one fake sample.

Conventions (implementations disagree on both; ours are fixed and tested):

* **Argument order is (real, fake).** Precision and density measure the fake samples
  against the real manifold.
* **A point on the boundary is inside (``<=``)**, as in the official stylegan2-ada
  implementation of Kynkäänniemi et al. The ``prdc`` package of Naeem et al. uses
  ``<``; the two differ only on exact ties, which happen with duplicated samples: with
  ``<=``, precision and recall of a set against itself are exactly 1 even when more
  than k samples coincide (the radius is then 0).

Distances are Euclidean, computed in float64 in blocks after centring on the real mean
(the metrics are translation invariant; centring keeps the ``|x|^2 + |y|^2 - 2 x.y``
expansion accurate).
"""

from __future__ import annotations

from typing import Any

import torch

from ganforge.metrics._arrays import as_features

__all__ = ["precision_recall", "density_coverage", "knn_radii"]

_BLOCK = 1024  # rows of a distance block: 1024 x N float64 stays ~80 MB for N = 10k


def _sqdist(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    d = (a * a).sum(1, keepdim=True) + b_sq[None, :] - 2 * (a @ b.T)
    return d.clamp_(min=0)


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Squared distance of each row of ``x`` (N, D) to its k-th nearest other row (N,)."""
    if len(x) <= k:
        raise ValueError(f"k={k} nearest neighbours need more than {k} samples, got {len(x)}")
    x_sq = (x * x).sum(1)
    out = []
    for start in range(0, len(x), _BLOCK):
        d = _sqdist(x[start : start + _BLOCK], x, x_sq)
        rows = torch.arange(len(d))
        d[rows, rows + start] = 0.0  # the point itself, exactly 0 despite rounding
        # k + 1 smallest includes the point itself (0), so the largest of them is the
        # k-th nearest *other* point.
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, -1])
    return torch.cat(out)


def _prepare(real: Any, fake: Any) -> tuple[torch.Tensor, torch.Tensor]:
    r = as_features(real, "real")
    f = as_features(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"feature sizes differ: real {r.shape[1]} vs fake {f.shape[1]}")
    center = r.mean(0)
    return r - center, f - center


def _ball_counts(points: torch.Tensor, centers: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """For each point (M, D): how many balls (centers (N, D), squared radii (N,)) hold it."""
    c_sq = (centers * centers).sum(1)
    out = []
    for start in range(0, len(points), _BLOCK):
        d = _sqdist(points[start : start + _BLOCK], centers, c_sq)
        out.append((d <= radii[None, :]).sum(1))
    return torch.cat(out)


def _nearest(points: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """Squared distance from each point (M, D) to its nearest row of ``others`` (M,)."""
    o_sq = (others * others).sum(1)
    return torch.cat(
        [
            _sqdist(points[s : s + _BLOCK], others, o_sq).min(1).values
            for s in range(0, len(points), _BLOCK)
        ]
    )


def precision_recall(real: Any, fake: Any, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Args:
        real: real features (N_r, D), array or tensor.
        fake: generated features (N_f, D).
        k: the k-th nearest neighbour sets each ball's radius (3 in the paper).

    Returns:
        ``{"precision": fraction of fake in the real manifold,
        "recall": fraction of real in the fake manifold}``, both in [0, 1].
    """
    r, f = _prepare(real, fake)
    precision = (_ball_counts(f, r, knn_radii(r, k)) > 0).double().mean()
    recall = (_ball_counts(r, f, knn_radii(f, k)) > 0).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real: Any, fake: Any, k: int = 5) -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020).

    Args:
        real: real features (N_r, D), array or tensor.
        fake: generated features (N_f, D).
        k: neighbourhood size of the real balls (5 in the paper).

    Returns:
        ``{"density": mean number of real balls per fake sample / k (>= 0, ~1 when the
        distributions match), "coverage": fraction of real balls holding a fake sample}``.
    """
    r, f = _prepare(real, fake)
    radii = knn_radii(r, k)
    density = _ball_counts(f, r, radii).double().mean() / k
    coverage = (_nearest(r, f) <= radii).double().mean()
    return {"density": float(density), "coverage": float(coverage)}
