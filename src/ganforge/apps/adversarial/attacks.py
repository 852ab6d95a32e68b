"""Gradient attacks on image classifiers: FGSM and PGD (L-inf and L2, targeted or not).

* FGSM — Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples",
  ICLR 2015: one step of size ``eps`` along the sign of the input gradient of the loss.
* PGD — Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models Resistant
  to Adversarial Attacks", ICLR 2018: iterated gradient steps from a random start inside
  the ``eps`` ball, each followed by projection onto the ball and the valid pixel range.

The update rules, random starts and clamping order follow the torchattacks library
(Kim, 2020; v3.5.1 ``FGSM``, ``PGD``, ``PGDL2``) so that, given the same model, inputs and
random start, the adversarial batches agree with it to float precision (checked in
``tests/test_attacks.py``). Targeted attacks take the *target* labels as ``y`` and descend
the cross-entropy of the target (torchattacks' ``set_mode_targeted_by_label``).

Attacks work on inputs in [0, 1] (the attack literature's convention: ``eps = 0.3`` means
30% of the pixel range), not the library's [-1, 1]; wrap a [-1, 1] classifier with
:class:`ganforge.apps.adversarial.classifier.Range01` first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "fgsm",
    "pgd",
    "random_start_point",
    "predict",
    "attack_in_batches",
    "attack_report",
    "frozen_eval",
]

# Tolerance for "inputs in [0, 1]": images decoded from uint8 can land a hair outside.
_RANGE_TOL = 1e-4
# Added to the L2 norm of the gradient before dividing, as torchattacks' PGDL2 does, so a
# zero gradient gives a zero step instead of NaN.
_L2_DIV_EPS = 1e-10


@contextlib.contextmanager
def frozen_eval(model: nn.Module | Callable[[torch.Tensor], torch.Tensor]) -> Iterator[None]:
    """Put ``model`` in eval mode with parameters frozen; restore both on exit.

    Eval mode makes batch norm use its running statistics and switches dropout off, so the
    attack sees the deployed function. Freezing (``requires_grad=False``) keeps the
    attack from building graphs through, or accumulating ``.grad`` into, the weights. Each
    submodule's own ``training`` flag is restored, not just the root's, so a model that
    was partly in eval mode (a frozen backbone, say) comes back exactly as it was.
    """
    if not isinstance(model, nn.Module):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    grads = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in grads:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training
        for p, flag in grads:
            p.requires_grad_(flag)


def _check_inputs(x: torch.Tensor, y: torch.Tensor, eps: float) -> None:
    if x.dim() < 2:
        raise ValueError(f"x must be a batch (N, C, H, W), got shape {tuple(x.shape)}")
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"y must hold one label per input, shape ({x.shape[0]},), got {tuple(y.shape)}"
        )
    if y.dtype != torch.long:
        raise ValueError(f"y must be int64 class indices, got {y.dtype}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if x.numel() and (x.min() < -_RANGE_TOL or x.max() > 1 + _RANGE_TOL):
        raise ValueError(
            f"attacks expect inputs in [0, 1], got [{x.min():.3f}, {x.max():.3f}]; "
            "library images in [-1, 1] convert with (x + 1) / 2 (and wrap the classifier "
            "with ganforge.apps.adversarial.classifier.Range01)"
        )


def _input_grad(model: Callable, x: torch.Tensor, y: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Gradient of the attack objective w.r.t. ``x``: ascend CE(y), or CE(target) negated."""
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    cost = -loss if targeted else loss
    return torch.autograd.grad(cost, x)[0]


def fgsm(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    targeted: bool = False,
) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015), L-inf.

    ``x_adv = clip_[0,1](x + eps * sign(grad_x CE(model(x), y)))``; targeted attacks step
    down the cross-entropy of the target label instead.

    Args:
        model: classifier mapping (N, C, H, W) in [0, 1] to logits (N, K). It is put in
            eval mode with frozen weights during the attack and restored afterwards.
        x: (N, C, H, W) float inputs in [0, 1].
        y: (N,) int64 true labels, or target labels when ``targeted``.
        eps: L-inf budget in pixel units of [0, 1].
        targeted: make the model predict ``y`` instead of moving away from it.

    Returns:
        (N, C, H, W) adversarial batch in [0, 1], detached, on ``x``'s device and dtype.
    """
    _check_inputs(x, y, eps)
    x = x.detach()
    with frozen_eval(model):
        grad = _input_grad(model, x, y, targeted)
    return (x + eps * grad.sign()).clamp(0, 1).detach()


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm of (N, ...) as (N,)."""
    return t.reshape(t.shape[0], -1).norm(p=2, dim=1)


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 1, 1, ...) to broadcast against ``like``."""
    return v.view(-1, *([1] * (like.dim() - 1)))


def random_start_point(
    x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None
) -> torch.Tensor:
    """A random point of the eps-ball around ``x``, clipped to [0, 1].

    L-inf: uniform in the cube. L2: a Gaussian direction scaled to a radius ``r * eps`` with
    ``r ~ U(0, 1)`` (torchattacks' PGDL2 start; not uniform in volume, which in high
    dimension would put nearly every start on the sphere). The draws happen in the same
    order as torchattacks', so a shared seed gives the same start.
    """
    if norm == "inf":
        delta = torch.empty_like(x).uniform_(-eps, eps, generator=generator)
    else:
        delta = torch.empty_like(x).normal_(generator=generator)
        n = _bcast(_flat_norm(delta), x)
        r = torch.zeros_like(n).uniform_(0, 1, generator=generator)
        delta = delta * (r / n * eps)
    return (x + delta).clamp(0, 1).detach()


def pgd(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    alpha: float,
    steps: int,
    random_start: bool = True,
    norm: str = "inf",
    targeted: bool = False,
    generator: torch.Generator | None = None,
    start: torch.Tensor | None = None,
) -> torch.Tensor:
    """Projected gradient descent (Madry et al. 2018), L-inf or L2.

    Each step moves ``alpha`` along ``sign(grad)`` (L-inf) or ``grad / ||grad||_2`` (L2),
    then projects the perturbation onto the eps-ball (clipping per pixel for L-inf,
    rescaling for L2) and the image onto [0, 1].

    Args:
        model: classifier mapping (N, C, H, W) in [0, 1] to logits (N, K); eval mode with
            frozen weights during the attack, restored afterwards.
        x: (N, C, H, W) float inputs in [0, 1].
        y: (N,) int64 true labels, or target labels when ``targeted``.
        eps: radius of the ball (L-inf: per pixel; L2: of the whole image), in [0, 1] units.
        alpha: step size (Madry et al. use 0.01 with 40 steps for L-inf eps 0.3 on MNIST).
        steps: number of gradient steps; 0 returns the start point.
        random_start: start from a random point of the ball (as Madry et al.) instead of x.
        norm: ``"inf"`` or ``"2"`` (``"l2"``/``"linf"`` are accepted too).
        targeted: make the model predict ``y`` instead of moving away from it.
        generator: RNG for the random start; None uses torch's global RNG (so that
            ``torch.manual_seed(s)`` reproduces torchattacks' start for the same seed).
        start: an explicit (N, C, H, W) starting point, overriding ``random_start``; it is
            not projected, so pass a point of the ball.

    Returns:
        (N, C, H, W) adversarial batch in [0, 1], detached.
    """
    norm = {"inf": "inf", "linf": "inf", "Linf": "inf", "2": "2", "l2": "2", "L2": "2"}.get(
        str(norm), ""
    )
    if not norm:
        raise ValueError("norm must be 'inf' or '2'")
    if steps < 0 or alpha < 0:
        raise ValueError(f"steps and alpha must be >= 0, got steps={steps}, alpha={alpha}")
    _check_inputs(x, y, eps)
    x = x.detach()
    if start is not None:
        if start.shape != x.shape:
            raise ValueError(f"start has shape {tuple(start.shape)}, x has {tuple(x.shape)}")
        adv = start.detach().clone()
    elif random_start:
        adv = random_start_point(x, eps, norm, generator)
    else:
        adv = x.clone()
    with frozen_eval(model):
        for _ in range(steps):
            grad = _input_grad(model, adv, y, targeted)
            if norm == "inf":
                adv = adv + alpha * grad.sign()
                delta = (adv - x).clamp(-eps, eps)
            else:
                g_norm = _bcast(_flat_norm(grad) + _L2_DIV_EPS, grad)
                adv = adv + alpha * (grad / g_norm)
                delta = adv - x
                # Rescale only what lies outside the ball; eps / 0 = inf -> factor 1.
                factor = torch.clamp(eps / _flat_norm(delta), max=1.0)
                delta = delta * _bcast(factor, delta)
            adv = (x + delta).clamp(0, 1).detach()
    return adv


@torch.no_grad()
def predict(model: Callable, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Arg-max labels (N,) of ``model`` on ``x``, in eval mode, batched."""
    with frozen_eval(model):
        out = [model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def attack_in_batches(
    attack: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int = 250,
    progress: bool = False,
    desc: str = "attack",
) -> torch.Tensor:
    """Run ``attack(xb, yb) -> adv_b`` over ``x`` in batches (bounded memory), with tqdm."""
    starts = range(0, len(x), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=desc, unit="batch", leave=False)
    return torch.cat([attack(x[i : i + batch_size], y[i : i + batch_size]) for i in starts])


def attack_report(
    model: Callable,
    x: torch.Tensor,
    x_adv: torch.Tensor,
    y: torch.Tensor,
    *,
    target: torch.Tensor | None = None,
) -> dict[str, float]:
    """Clean accuracy, adversarial accuracy and attack success rate.

    Success rate (untargeted) is the fraction of the *correctly classified* clean inputs
    that the attack makes misclassified — inputs the model already gets wrong are no
    success of the attack's. Targeted: the fraction of all inputs classified as ``target``.

    Args:
        model: classifier on [0, 1] inputs.
        x, x_adv: (N, C, H, W) clean and adversarial inputs in [0, 1].
        y: (N,) true labels.
        target: (N,) target labels of a targeted attack, or None.

    Returns:
        ``{"n", "clean_acc", "adv_acc", "success_rate", "linf", "l2"}`` (fractions in [0, 1];
        ``linf``/``l2`` are the largest and mean perturbation norms).
    """
    clean = predict(model, x)
    adv = predict(model, x_adv)
    correct = clean == y
    if target is not None:
        success = (adv == target).float().mean().item()
    else:
        n_ok = int(correct.sum())
        success = float(((adv != y) & correct).sum()) / n_ok if n_ok else float("nan")
    d = (x_adv - x).reshape(len(x), -1)
    return {
        "n": len(x),
        "clean_acc": correct.float().mean().item(),
        "adv_acc": (adv == y).float().mean().item(),
        "success_rate": success,
        "linf": d.abs().max().item() if len(x) else 0.0,
        "l2": d.norm(dim=1).mean().item() if len(x) else 0.0,
    }
