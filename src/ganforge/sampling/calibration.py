"""Density-ratio calibration of a discriminator, shared by the samplers D drives.

A discriminator trained with the logistic loss estimates the density ratio: at its
optimum ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``, so its logit is
``log p_data(x) / p_g(x)``. The adversarially trained D is not that optimum for the final
G (G kept moving, the EMA generator was never shown to D, regularisers bias it), so its
logit is calibrated by Platt scaling (``a * logit + b``, a logistic regression of real
against generated samples) before rejection sampling (Azadi et al. 2019) or latent
Langevin sampling (Che et al. 2020) use it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


def discriminator_logits(D: nn.Module, x: Tensor) -> Tensor:
    """D's logits (N,) in float32 for inputs ``x`` (N, ...) already on D's device."""
    out = D(x)
    if isinstance(out, tuple):  # InfoGAN's D returns (logits, Q) only when asked
        out = out[0]
    return out.float().reshape(-1)


def platt_scale(logit_real: Tensor, logit_fake: Tensor) -> tuple[float, float, float]:
    """Fit ``log ratio = a * logit + b`` by logistic regression of real (1) against fake (0).

    Args:
        logit_real: D's logits on real samples (N,).
        logit_fake: D's logits on generated samples (M,).

    Returns:
        ``(a, b, loss)``: the calibration and its logistic loss on these logits
        (``log 2`` = D tells nothing apart).
    """
    s = torch.cat([logit_real, logit_fake]).detach().float().cpu()
    y = torch.cat([torch.ones(len(logit_real)), torch.zeros(len(logit_fake))])
    ab = torch.tensor([1.0, 0.0], requires_grad=True)
    opt = torch.optim.LBFGS([ab], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(ab[0] * s + ab[1], y)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        a, b = float(ab[0]), float(ab[1])
        loss = F.binary_cross_entropy_with_logits(a * s + b, y)
    return a, b, float(loss)
