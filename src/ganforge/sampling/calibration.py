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

    Newton's method on the two parameters (the logistic loss is convex; its Hessian is a
    2x2 matrix), with a backtracking line search, in float64 — the optimum a solver
    library would reach (tested against scikit-learn's unpenalised logistic regression),
    without constructing a ``torch.optim`` optimizer, whose first construction in a process
    imports ``torch._dynamo`` (1.5 s of every 2-D run's final evaluation). When D separates
    the two sets perfectly the loss has no minimum; the iterations stop at
    :data:`NEWTON_STEPS` with a steep calibration.

    Args:
        logit_real: D's logits on real samples (N,).
        logit_fake: D's logits on generated samples (M,).

    Returns:
        ``(a, b, loss)``: the calibration and its logistic loss on these logits
        (``log 2`` = D tells nothing apart).
    """
    s = torch.cat([logit_real, logit_fake]).detach().double().cpu()
    y = torch.cat([torch.ones(len(logit_real)), torch.zeros(len(logit_fake))]).double()

    def loss_at(ab: Tensor) -> float:
        return float(F.binary_cross_entropy_with_logits(ab[0] * s + ab[1], y))

    ab = torch.tensor([1.0, 0.0], dtype=torch.float64)
    current = loss_at(ab)
    for _ in range(NEWTON_STEPS):
        p = torch.sigmoid(ab[0] * s + ab[1])
        w = p * (1 - p)
        grad = torch.stack([((p - y) * s).mean(), (p - y).mean()])
        hess = torch.stack([torch.stack([(w * s * s).mean(), (w * s).mean()]),
                            torch.stack([(w * s).mean(), w.mean()])])  # fmt: skip
        hess = hess + 1e-12 * torch.eye(2, dtype=torch.float64)
        step = torch.linalg.solve(hess, grad)
        decrease = float(grad @ step)
        if not decrease > 1e-15:  # at the optimum, or a flat/degenerate direction
            break
        t = 1.0
        while t > 1e-10:  # Armijo backtracking
            trial = ab - t * step
            trial_loss = loss_at(trial)
            if trial_loss <= current - 1e-4 * t * decrease:
                break
            t *= 0.5
        else:
            break
        ab, current = trial, trial_loss
    a, b = float(ab[0]), float(ab[1])
    with torch.no_grad():
        loss = F.binary_cross_entropy_with_logits(a * s.float() + b, y.float())
    return a, b, float(loss)


#: Newton iterations at most (a non-separable fit converges in about ten).
NEWTON_STEPS = 100
