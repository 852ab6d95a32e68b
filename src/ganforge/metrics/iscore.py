"""Inception Score (Salimans et al., NeurIPS 2016) from a classifier's logits.

    IS = exp( E_x KL( p(y|x) || p(y) ) ),  p(y) = E_x p(y|x)

computed per split (10 in the paper) and reported as mean and standard deviation over
splits. We work in float64 with ``log_softmax`` and never take ``log(p)`` of a
probability: a class probability that underflows to 0 in float32 softmax makes the
classic ``p * (log p - log p_mean)`` evaluate ``0 * -inf = NaN``; with log-probabilities
the same term is ``exp(logp) * (logp - log p_mean)``, which is 0 times a finite number.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ganforge.metrics._arrays import as_features

__all__ = ["inception_score"]


def inception_score(logits: Any, splits: int = 10, seed: int | None = 0) -> dict[str, float]:
    """Inception Score of classifier logits.

    Args:
        logits: (N, K) unnormalised class scores (array or tensor).
        splits: number of blocks of N // splits rows the score is computed on separately
            (the remainder is dropped).
        seed: rows are shuffled with this seed before splitting (as torchmetrics does),
            so that data stored sorted by class (mnist5k is) does not put one class in
            each split and score ~1; None keeps the input order.

    Returns:
        ``{"is": mean over splits, "is_std": std over splits (population, as in the
        original code)}``. The score lies in [1, K].
    """
    z = as_features(logits, "logits")
    if splits < 1 or len(z) < splits:
        raise ValueError(f"need at least {splits} samples for {splits} splits, got {len(z)}")
    if seed is not None:
        z = z[torch.randperm(len(z), generator=torch.Generator().manual_seed(seed))]
    logp = torch.log_softmax(z, dim=1)
    size = len(z) // splits
    scores = []
    for i in range(splits):
        lp = logp[i * size : (i + 1) * size]
        log_mean = torch.logsumexp(lp, dim=0) - math.log(len(lp))  # log p(y), stable
        kl = (lp.exp() * (lp - log_mean)).sum(1).mean()
        scores.append(float(kl.exp()))
    t = torch.tensor(scores, dtype=torch.float64)
    return {"is": float(t.mean()), "is_std": float(t.std(unbiased=False))}
