"""Adversarial losses: pure functions of D's logits, always in ``(real, fake)`` order.

Each registered loss is an :class:`AdversarialLoss` with

* ``d(real_logits, fake_logits) -> scalar`` — minimised by D, and
* ``g(real_logits, fake_logits) -> scalar`` — minimised by G. Most G losses ignore
  ``real_logits``; losses that need them (relativistic) set ``g_uses_real`` so the
  engine only runs D on real data in the G step when it must.

plus the D-side regularisation the loss family calls for (gradient penalty weight,
R1 weight and interval, weight clipping). Those are plain numbers: the functions that
compute them live in :mod:`ganforge.training.regularizers` and the engine applies them, so a
loss never touches a network or an optimizer.

Logits have shape (N,) (or anything; every loss averages over all elements) and may
be bf16/fp16 under autocast; every loss casts them to fp32 first because the
softplus/square of a half-precision logit loses the small differences that drive
training late in a run.

Registered losses:

* ``minimax`` / ``ns`` — BCE with logits (Goodfellow et al. 2014). D minimises
  ``-log D(x) - log(1 - D(G(z)))``. The original minimax G minimises ``log(1 - D(G(z)))``
  (minimax); the non-saturating variant (``ns``, the default) maximises ``log D(G(z))``
  instead, which gives G strong gradients early in training (same paper, section 3).
* ``wgan`` — Wasserstein GAN (Arjovsky, Chintala & Bottou 2017): the critic minimises
  ``E[D(G(z))] - E[D(x)]``, G minimises ``-E[D(G(z))]``; the Lipschitz constraint is
  weight clipping to ``[-0.01, 0.01]`` after every critic update (``d_weight_clip``).
  The paper trains with RMSprop (lr 5e-5, no momentum) and 5 critic steps per G step.
* ``wgan-gp`` — the same losses with the gradient penalty of Gulrajani et al. 2017
  (``gp_weight = 10``) instead of clipping; the paper uses Adam(1e-4, 0, 0.9), 5 critic
  steps, and no BatchNorm in the critic (the penalty is per sample).
* ``lsgan`` — least squares (Mao et al. 2017, eq. 2 with a=0, b=1, c=1):
  D minimises ``0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2]``, G ``0.5 E[(D(G(z)) - 1)^2]``.
* ``hinge`` — hinge loss (Lim & Ye 2017; Miyato et al. 2018, SN-GAN):
  D minimises ``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``, G ``-E[D(G(z))]``.
* ``ragan`` — relativistic average GAN, BCE form (Jolicoeur-Martineau 2018, eq. 11-12
  "RaSGAN"): D judges whether a real sample is more realistic than the average fake,
  ``D~(x) = C(x) - E[C(G(z))]``; G's loss is the mirror image and needs real logits.
* ``ralsgan`` — relativistic average least squares ("RaLSGAN", same paper, eq. 13-14).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ganforge.core.registry import LOSSES

Tensor = torch.Tensor


@dataclass(frozen=True)
class AdversarialLoss:
    """A pair of loss functions over D's logits (N,) and the D regularisation they need.

    Attributes:
        d: ``d(real_logits, fake_logits) -> scalar`` minimised by D.
        g: ``g(real_logits_or_None, fake_logits) -> scalar`` minimised by G.
        g_uses_real: the engine must pass D's logits on a real batch to ``g`` (otherwise
            it passes ``None`` and saves a D forward pass).
        gp_weight: weight of :func:`ganforge.training.regularizers.gradient_penalty` added to D's
            loss every D step (0 = off; WGAN-GP uses 10).
        gp_center: target gradient norm of the penalty (1 = WGAN-GP; 0 = zero-centred
            penalty of Thanh-Tung et al. 2019).
        r1_gamma: R1 weight gamma (Mescheder et al. 2018); D's loss gets
            ``gamma / 2 * r1_interval * r1_penalty(...)`` every ``r1_interval`` D steps.
        r1_interval: lazy regularisation interval (StyleGAN2 uses 16; 1 = every step).
        d_weight_clip: after each D update clamp every D parameter to
            ``[-d_weight_clip, d_weight_clip]`` (WGAN uses 0.01; 0 = off).
        d_grads: optional closed form of ``d`` and its gradients,
            ``(real, fake) -> (loss, d loss/d real, d loss/d fake)``, for steps that
            differentiate by hand (:mod:`ganforge.training.objectives.chain_step`); None:
            they differentiate ``d`` with autograd.
        g_grad: the same for ``g`` with real logits unused: ``fake -> (loss, d loss/d
            fake)``.
    """

    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor | None, Tensor], Tensor]
    g_uses_real: bool = False
    gp_weight: float = 0.0
    gp_center: float = 1.0
    r1_gamma: float = 0.0
    r1_interval: int = 1
    d_weight_clip: float = 0.0
    d_grads: Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]] | None = None
    g_grad: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None

    def __post_init__(self) -> None:
        for name in ("gp_weight", "r1_gamma", "d_weight_clip"):
            if getattr(self, name) < 0:
                raise ValueError(f"loss.args.{name} must be >= 0, got {getattr(self, name)}")
        if self.gp_center < 0:
            raise ValueError(f"loss.args.gp_center must be >= 0, got {self.gp_center}")
        if int(self.r1_interval) != self.r1_interval or self.r1_interval < 1:
            raise ValueError(
                f"loss.args.r1_interval must be a positive integer, got {self.r1_interval}"
            )


# Fields of AdversarialLoss a config may override (loss.args); d/g are code, not config.
TUNABLE_FIELDS = ("gp_weight", "gp_center", "r1_gamma", "r1_interval", "d_weight_clip")


def build_loss(name: str, **args: Any) -> AdversarialLoss:
    """The registered loss ``name`` with some regularisation settings overridden.

    This is how ``[loss] name = "wgan-gp"`` plus ``[loss.args] gp_weight = 5`` or
    ``r1_gamma = 10`` becomes one object for the engine.

    Args:
        name: a name registered in :data:`ganforge.core.registry.LOSSES`.
        **args: any of :data:`TUNABLE_FIELDS`.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists valid names).
        ValueError: an argument is not tunable or is out of range.
    """
    base = LOSSES.get(name)
    bad = sorted(set(args) - set(TUNABLE_FIELDS))
    if bad:
        raise ValueError(
            f"loss.args has unknown key(s) {bad} for loss {name!r}; "
            f"valid keys: {', '.join(TUNABLE_FIELDS)}"
        )
    if "r1_interval" in args:
        args["r1_interval"] = int(args["r1_interval"])
    for k in ("gp_weight", "gp_center", "r1_gamma", "d_weight_clip"):
        if k in args:
            args[k] = float(args[k])
    return dataclasses.replace(base, **args)


def _softplus_mean(x: Tensor) -> Tensor:
    return F.softplus(x).mean()


# ----------------------------------------------------------------------------- BCE
def bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """``E[-log sigmoid(real)] + E[-log(1 - sigmoid(fake))]``, computed stably.

    ``-log sigmoid(t) == softplus(-t)`` and ``-log(1 - sigmoid(t)) == softplus(t)``.
    """
    return _softplus_mean(-real.float()) + _softplus_mean(fake.float())


def bce_d_loss_and_grads(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`bce_d_loss` and its gradients: ``-sigmoid(-real) / N``, ``sigmoid(fake) / M``
    (``d softplus(t) / dt = sigmoid(t)``)."""
    r, f = real.float(), fake.float()
    grad_real = torch.sigmoid(-r).neg_().div_(r.numel())
    return bce_d_loss(r, f), grad_real, torch.sigmoid(f).div_(f.numel())


def minimax_g_loss(real: Tensor | None, fake: Tensor) -> Tensor:
    """Original minimax G loss ``E[log(1 - sigmoid(fake))] = -E[softplus(fake)]``."""
    return -_softplus_mean(fake.float())


def ns_g_loss(real: Tensor | None, fake: Tensor) -> Tensor:
    """Non-saturating G loss ``E[-log sigmoid(fake)] = E[softplus(-fake)]``."""
    return _softplus_mean(-fake.float())


def ns_g_loss_and_grad(fake: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`ns_g_loss` and its gradient ``-sigmoid(-fake) / N``."""
    f = fake.float()
    return ns_g_loss(None, f), torch.sigmoid(-f).neg_().div_(f.numel())


# ----------------------------------------------------------------------------- WGAN
def wgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Critic loss ``E[fake] - E[real]`` (the negative Wasserstein-1 estimate)."""
    return fake.float().mean() - real.float().mean()


def wgan_g_loss(real: Tensor | None, fake: Tensor) -> Tensor:
    """Generator loss ``-E[fake]``."""
    return -fake.float().mean()


# ----------------------------------------------------------------------------- LSGAN
def lsgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """``0.5 E[(real - 1)^2] + 0.5 E[fake^2]`` (Mao et al. 2017, a=0, b=1)."""
    return 0.5 * (real.float() - 1).square().mean() + 0.5 * fake.float().square().mean()


def lsgan_g_loss(real: Tensor | None, fake: Tensor) -> Tensor:
    """``0.5 E[(fake - 1)^2]`` (Mao et al. 2017, c=1)."""
    return 0.5 * (fake.float() - 1).square().mean()


# ----------------------------------------------------------------------------- hinge
def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """``E[relu(1 - real)] + E[relu(1 + fake)]`` (Lim & Ye 2017)."""
    return F.relu(1 - real.float()).mean() + F.relu(1 + fake.float()).mean()


def hinge_g_loss(real: Tensor | None, fake: Tensor) -> Tensor:
    """``-E[fake]`` (Miyato et al. 2018 use this, not a hinge, for G)."""
    return -fake.float().mean()


# ----------------------------------------------------------------------------- relativistic
def _require_real(real: Tensor | None, name: str) -> Tensor:
    if real is None:
        raise ValueError(
            f"the {name} G loss needs D's logits on a real batch; the engine must pass them "
            "when AdversarialLoss.g_uses_real is True"
        )
    return real.float()


def ragan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """``E[softplus(-(real - E[fake]))] + E[softplus(fake - E[real])]`` (RaSGAN, D)."""
    r, f = real.float(), fake.float()
    return _softplus_mean(-(r - f.mean())) + _softplus_mean(f - r.mean())


def ragan_g_loss(real: Tensor | None, fake: Tensor) -> Tensor:
    """``E[softplus(real - E[fake])] + E[softplus(-(fake - E[real]))]`` (RaSGAN, G).

    Gradients reach G through both terms (``E[fake]`` appears in the first), so the real
    logits may be detached but the fake ones must not be.
    """
    r, f = _require_real(real, "ragan"), fake.float()
    return _softplus_mean(r - f.mean()) + _softplus_mean(-(f - r.mean()))


def ralsgan_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """``E[(real - E[fake] - 1)^2] + E[(fake - E[real] + 1)^2]`` (RaLSGAN, D)."""
    r, f = real.float(), fake.float()
    return (r - f.mean() - 1).square().mean() + (f - r.mean() + 1).square().mean()


def ralsgan_g_loss(real: Tensor | None, fake: Tensor) -> Tensor:
    """``E[(real - E[fake] + 1)^2] + E[(fake - E[real] - 1)^2]`` (RaLSGAN, G)."""
    r, f = _require_real(real, "ralsgan"), fake.float()
    return (r - f.mean() + 1).square().mean() + (f - r.mean() - 1).square().mean()


LOSSES.add(
    "minimax",
    AdversarialLoss(bce_d_loss, minimax_g_loss),
    help="the BCE minimax loss of Goodfellow et al. 2014 (saturates early)",
)
LOSSES.add(
    "ns",
    AdversarialLoss(bce_d_loss, ns_g_loss, d_grads=bce_d_loss_and_grads, g_grad=ns_g_loss_and_grad),
    help="BCE with the non-saturating G loss (default)",
)
LOSSES.add(
    "wgan",
    AdversarialLoss(wgan_d_loss, wgan_g_loss, d_weight_clip=0.01),
    help="Wasserstein GAN with weight clipping 0.01 (Arjovsky et al. 2017)",
)
LOSSES.add(
    "wgan-gp",
    AdversarialLoss(wgan_d_loss, wgan_g_loss, gp_weight=10.0),
    help="Wasserstein GAN with gradient penalty 10 (Gulrajani et al. 2017)",
)
LOSSES.add(
    "lsgan",
    AdversarialLoss(lsgan_d_loss, lsgan_g_loss),
    help="least squares GAN, a=0 b=1 c=1 (Mao et al. 2017)",
)
LOSSES.add(
    "hinge",
    AdversarialLoss(hinge_d_loss, hinge_g_loss),
    help="hinge loss (Lim & Ye 2017; Miyato et al. 2018)",
)
LOSSES.add(
    "ragan",
    AdversarialLoss(ragan_d_loss, ragan_g_loss, g_uses_real=True),
    help="relativistic average GAN, BCE form (Jolicoeur-Martineau 2018)",
)
LOSSES.add(
    "ralsgan",
    AdversarialLoss(ralsgan_d_loss, ralsgan_g_loss, g_uses_real=True),
    help="relativistic average least squares GAN (Jolicoeur-Martineau 2018)",
)
