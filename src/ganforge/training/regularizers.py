"""Regularizers for D: gradient penalty, R1, weight clipping, spectral normalisation.

These are pure functions of a network and its inputs/outputs; their weights and the
interval at which they run are applied by the engine (stylegan2-ada's lazy
regularisation), read from the :class:`~ganforge.training.losses.AdversarialLoss` fields
``gp_weight``, ``gp_center``, ``r1_gamma``, ``r1_interval`` and ``d_weight_clip``.

References:
    * Gulrajani et al. 2017, "Improved Training of Wasserstein GANs" (WGAN-GP).
    * Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually
      Converge?" (R1).
    * Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN" (lazy R1).
    * Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN" (weight clipping).
    * Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks".

How the engine applies them in a D step (``loss`` is the AdversarialLoss, ``k`` the
index of this D update counted from 0)::

    r1_now = loss.r1_gamma > 0 and k % loss.r1_interval == 0
    if r1_now:
        real = real.detach().requires_grad_(True)   # before D sees it
    d_real, d_fake = D(real), D(fake.detach())
    loss_d = loss.d(d_real, d_fake) + d_penalties(loss, D, real, fake, d_real, step=k)
    ... backward, optimizer step ...
    if loss.d_weight_clip > 0:
        clip_weights_(D, loss.d_weight_clip)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from ganforge.models.layers import apply_spectral_norm  # noqa: F401  (public here too)

if TYPE_CHECKING:
    from ganforge.training.losses import AdversarialLoss

Tensor = torch.Tensor


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
    """Uniform [0, 1) numbers drawn from ``generator`` (on its own device), moved to ``like``."""
    if generator is None:
        return torch.rand(shape, device=like.device, dtype=torch.float32)
    r = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float32)
    return r.to(like.device)


def gradient_penalty(
    D: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    center: float = 1.0,
    one_sided: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP gradient penalty on random interpolates (Gulrajani et al. 2017, eq. 3).

    ``x_hat = a * real + (1 - a) * fake`` with ``a ~ U[0, 1]`` per sample, and the penalty
    is ``E[(||grad_x D(x_hat)||_2 - center)^2]``. The two-sided form (default) is the
    paper's; ``one_sided=True`` penalises only norms above ``center``
    (``E[relu(||grad|| - center)^2]``, the paper's appendix variant). ``center=0`` gives the
    zero-centred penalty of Thanh-Tung et al. 2019. The result is unweighted: the engine
    multiplies by ``AdversarialLoss.gp_weight`` (10 in the paper).

    The penalty is per sample, so D should not use BatchNorm (the paper uses LayerNorm or
    nothing). Gradients flow into D's parameters (``create_graph=True``), never into G:
    ``real`` and ``fake`` are detached here.

    Args:
        D: the discriminator/critic, (N, *shape) -> logits (N,) (or (N/pac,) for PacGAN).
        real: real batch (N, *shape).
        fake: generated batch (N, *shape), same shape as ``real``.
        center: target gradient norm.
        one_sided: penalise only norms above ``center``.
        generator: RNG for the interpolation weights (reproducible runs).

    Returns:
        fp32 scalar.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"gradient_penalty needs real and fake batches of one shape, got "
            f"{tuple(real.shape)} and {tuple(fake.shape)}"
        )
    x_hat = interpolates(real, fake, generator)
    return penalty_at(D(x_hat), x_hat, center=center, one_sided=one_sided)


def interpolates(real: Tensor, fake: Tensor, generator: torch.Generator | None) -> Tensor:
    """``a * real + (1 - a) * fake`` with ``a ~ U[0, 1]`` per sample (N, *shape), detached
    from both and requiring grad: the points WGAN-GP penalises."""
    n = real.shape[0]
    alpha = _rand((n,) + (1,) * (real.dim() - 1), generator, real).to(real.dtype)
    return (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)


def penalty_at(
    out: Tensor, x_hat: Tensor, *, center: float = 1.0, one_sided: bool = False
) -> Tensor:
    """``E[(||grad_x out||_2 - center)^2]`` for D's outputs ``out`` at ``x_hat`` (from
    :func:`interpolates`); for a D that judged ``x_hat`` in one batch with other rows
    (``out`` is then its slice of that batch's outputs)."""
    (grad,) = torch.autograd.grad(out.float().sum(), x_hat, create_graph=True)
    norm = grad.float().flatten(1).norm(2, dim=1)
    dev = norm - center
    if one_sided:
        dev = dev.clamp(min=0)
    return dev.square().mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1: ``E[||grad_x D(x)||^2]`` on real data (Mescheder et al. 2018, eq. 9).

    Returns the bare expectation; the engine adds ``r1_gamma / 2 * r1_interval * R1`` to
    D's loss every ``r1_interval`` D steps — multiplying by the interval keeps the
    effective strength of lazy regularisation equal to applying it every step (StyleGAN2,
    appendix B).

    Args:
        real_logits: D(real), (N,), computed from ``real`` with ``requires_grad`` set
            *before* the forward pass (``real = real.detach().requires_grad_(True)``).
        real: the real batch (N, *shape) that produced ``real_logits``.

    Returns:
        fp32 scalar; differentiable w.r.t. D's parameters.
    """
    if not real.requires_grad:
        raise ValueError(
            "r1_penalty needs the real batch to require grad before D's forward pass: "
            "call real = real.detach().requires_grad_(True) and then D(real)"
        )
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean()


def d_penalties(
    loss: AdversarialLoss,
    D: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    real_logits: Tensor,
    *,
    step: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The weighted D regularisation terms ``loss`` asks for at D update number ``step``.

    Args:
        loss: the adversarial loss (its ``gp_*`` and ``r1_*`` fields).
        D: the discriminator.
        real: real batch (N, *shape); must require grad when R1 is due (see
            :func:`r1_due`).
        fake: generated batch (N, *shape) (detached here).
        real_logits: D(real), (N,).
        step: index of this D update, counted from 0 (R1 runs when
            ``step % r1_interval == 0``).
        generator: RNG for the gradient-penalty interpolation.

    Returns:
        fp32 scalar (a zero tensor when nothing is due).
    """
    total = torch.zeros((), device=real_logits.device, dtype=torch.float32)
    if loss.gp_weight > 0:
        gp = gradient_penalty(D, real, fake, center=loss.gp_center, generator=generator)
        total = total + loss.gp_weight * gp
    if r1_due(loss, step):
        total = total + (0.5 * loss.r1_gamma * loss.r1_interval) * r1_penalty(real_logits, real)
    return total


def r1_due(loss: AdversarialLoss, step: int) -> bool:
    """Whether R1 runs at D update ``step`` (the engine then sets ``real.requires_grad``)."""
    return loss.r1_gamma > 0 and step % loss.r1_interval == 0


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> None:
    """Clamp every parameter of ``module`` to ``[-c, c]`` in place (WGAN, Algorithm 1).

    Called after each critic update. All parameters are clipped, BatchNorm scales
    included, as in the reference implementation. ``c <= 0`` is a no-op.
    """
    if c <= 0:
        return
    params = [p for p in module.parameters()]
    if params:
        torch._foreach_clamp_min_(params, -c)
        torch._foreach_clamp_max_(params, c)
