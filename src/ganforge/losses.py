"""Adversarial losses: pure functions of D's logits, always in ``(real, fake)`` order.

Each registered loss is an :class:`AdversarialLoss` with

* ``d(real_logits, fake_logits) -> scalar`` — minimised by D, and
* ``g(real_logits, fake_logits) -> scalar`` — minimised by G. Most G losses ignore
  ``real_logits``; losses that need them (relativistic) set ``g_uses_real`` so the
  engine only runs D on real data in the G step when it must.

The seed document's loss is BCE with logits (Goodfellow et al. 2014): D minimises
``-log D(x) - log(1 - D(G(z)))``. The seed's G minimises ``log(1 - D(G(z)))`` (minimax,
``"minimax"``); the non-saturating variant (``"ns"``, the default) maximises
``log D(G(z))`` instead, which gives G strong gradients early in training (same paper,
section 3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.registry import LOSSES

Tensor = torch.Tensor


@dataclass(frozen=True)
class AdversarialLoss:
    """A pair of loss functions over D's logits (N,) and what the engine must provide."""

    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor | None, Tensor], Tensor]
    g_uses_real: bool = False


def _softplus_mean(x: Tensor) -> Tensor:
    return F.softplus(x).mean()


def bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """``E[-log sigmoid(real)] + E[-log(1 - sigmoid(fake))]``, computed stably.

    ``-log sigmoid(t) == softplus(-t)`` and ``-log(1 - sigmoid(t)) == softplus(t)``.
    """
    return _softplus_mean(-real.float()) + _softplus_mean(fake.float())


def minimax_g_loss(real: Tensor | None, fake: Tensor) -> Tensor:
    """Original minimax G loss ``E[log(1 - sigmoid(fake))] = -E[softplus(fake)]``."""
    return -_softplus_mean(fake.float())


def ns_g_loss(real: Tensor | None, fake: Tensor) -> Tensor:
    """Non-saturating G loss ``E[-log sigmoid(fake)] = E[softplus(-fake)]``."""
    return _softplus_mean(-fake.float())


LOSSES.add(
    "minimax",
    AdversarialLoss(bce_d_loss, minimax_g_loss),
    help="the seed's BCE minimax loss (Goodfellow et al. 2014)",
)
LOSSES.add(
    "ns",
    AdversarialLoss(bce_d_loss, ns_g_loss),
    help="BCE with the non-saturating G loss (default)",
)
