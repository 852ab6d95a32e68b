"""Optimizers and learning-rate schedules by name.

G and D each get their own optimizer of the same family with their own learning rate
(two time-scale update rule, TTUR: Heusel et al. 2017). One pair of coefficients,
``beta1`` and ``beta2``, configures every family with the same meaning:

===========  =====================================================================
name         mapping
===========  =====================================================================
``adam``     ``Adam(betas=(beta1, beta2))`` (Kingma & Ba 2015); DCGAN uses beta1=0.5
``adamw``    ``AdamW(betas=(beta1, beta2))``, decoupled weight decay
             (Loshchilov & Hutter 2019)
``rmsprop``  ``RMSprop(alpha=beta2, momentum=beta1)``: ``alpha`` is the decay of the
             squared-gradient average, Adam's ``beta2``; ``beta1`` is momentum. The
             WGAN paper uses RMSprop *without* momentum — set ``beta1 = 0`` for it.
``adagrad``  ``Adagrad``; it has no moment decays, so ``beta1``/``beta2`` are ignored
``sgd``      ``SGD(momentum=beta1)`` (heavy ball; ``beta2`` is ignored)
===========  =====================================================================

``weight_decay`` is passed to every family (L2 in the gradient, decoupled for AdamW).
Multi-tensor (``foreach``) kernels are used where the optimizer supports them: one
kernel launch per parameter group instead of one per tensor. Adam and AdamW use the fused
kernels (one pass over each tensor for the whole update) when every parameter is a
floating tensor on the CPU or a GPU: measured 1.2 vs 1.5 ms per step on the 2-D toy D —
called directly (:class:`~ganforge.training.fused_adam.FusedAdam`, bit-identical to
``torch.optim.Adam(fused=True)``), which spares a run ``torch.optim``'s 1.5 s import of
``torch._dynamo`` and its per-step wrappers. Everything the engine needs of an optimizer
is the :class:`Optimizer` protocol.

Schedules are multipliers of the base learning rates, :func:`lr_factor` of the step; the
engine sets both optimizers' rates from it before every step, so the schedule's only
state is the step counter the checkpoint already holds. All support a linear warm-up and
a hold before the decay.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

import torch

from ganforge.core.registry import OPTIMIZERS, Registry
from ganforge.training.fused_adam import FusedAdam

Params = Iterable[torch.Tensor] | Iterable[dict[str, Any]]


@runtime_checkable
class Optimizer(Protocol):
    """What the engine uses of an optimizer (``torch.optim.Optimizer`` and
    :class:`~ganforge.training.fused_adam.FusedAdam` both are one): learning rates are set
    in ``param_groups``; ``state_dict`` goes into checkpoints and the guard's snapshots."""

    param_groups: list[dict[str, Any]]

    def zero_grad(self, set_to_none: bool = True) -> None: ...

    def step(self) -> Any: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...


def _check(lr: float, beta1: float, beta2: float, weight_decay: float) -> None:
    if not lr > 0:
        raise ValueError(f"optim learning rate must be > 0, got {lr}")
    for name, b in (("beta1", beta1), ("beta2", beta2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"optim.{name} must be in [0, 1), got {b}")
    if weight_decay < 0:
        raise ValueError(f"optim.weight_decay must be >= 0, got {weight_decay}")


def _kernel_choice(params: list[Any], extra: dict[str, Any]) -> dict[str, bool]:
    """``{"fused": True}`` when Adam's fused kernel supports every parameter, else foreach;
    nothing when the caller chose a kernel in ``extra``."""
    if "fused" in extra or "foreach" in extra:
        return {}
    tensors = [t for p in params for t in (p["params"] if isinstance(p, dict) else [p])]
    fusable = bool(tensors) and all(
        t.is_floating_point() and t.device.type in ("cpu", "cuda") for t in tensors
    )
    return {"fused": True} if fusable else {"foreach": True}


@OPTIMIZERS.register("adam", help="Adam, betas=(beta1, beta2)")
def _adam(
    params: Params, *, lr: float, beta1: float, beta2: float, weight_decay: float, **extra: Any
) -> Optimizer:
    params = list(params)
    kernel = _kernel_choice(params, extra)
    if kernel.get("fused") and not extra:
        return FusedAdam(params, lr=lr, betas=(beta1, beta2), weight_decay=weight_decay)
    return torch.optim.Adam(
        params, lr=lr, betas=(beta1, beta2), weight_decay=weight_decay, **kernel, **extra
    )


@OPTIMIZERS.register("adamw", help="AdamW (decoupled weight decay), betas=(beta1, beta2)")
def _adamw(
    params: Params, *, lr: float, beta1: float, beta2: float, weight_decay: float, **extra: Any
) -> Optimizer:
    params = list(params)
    kernel = _kernel_choice(params, extra)
    if kernel.get("fused") and not extra:
        return FusedAdam(
            params, lr=lr, betas=(beta1, beta2), weight_decay=weight_decay, decoupled=True
        )
    return torch.optim.AdamW(
        params, lr=lr, betas=(beta1, beta2), weight_decay=weight_decay, **kernel, **extra
    )


@OPTIMIZERS.register("rmsprop", help="RMSprop, alpha=beta2, momentum=beta1")
def _rmsprop(
    params: Params, *, lr: float, beta1: float, beta2: float, weight_decay: float, **extra: Any
) -> Optimizer:
    return torch.optim.RMSprop(
        params,
        lr=lr,
        alpha=beta2,
        momentum=beta1,
        weight_decay=weight_decay,
        foreach=True,
        **extra,
    )


@OPTIMIZERS.register("adagrad", help="Adagrad (beta1/beta2 ignored)")
def _adagrad(
    params: Params, *, lr: float, beta1: float, beta2: float, weight_decay: float, **extra: Any
) -> Optimizer:
    return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay, foreach=True, **extra)


@OPTIMIZERS.register("sgd", help="SGD with momentum=beta1 (beta2 ignored)")
def _sgd(
    params: Params, *, lr: float, beta1: float, beta2: float, weight_decay: float, **extra: Any
) -> Optimizer:
    return torch.optim.SGD(
        params, lr=lr, momentum=beta1, weight_decay=weight_decay, foreach=True, **extra
    )


def build_optimizer(
    name: str,
    params: Params,
    *,
    lr: float,
    beta1: float = 0.5,
    beta2: float = 0.999,
    weight_decay: float = 0.0,
    **extra: Any,
) -> Optimizer:
    """Build the optimizer registered as ``name`` (see the module docstring for the mapping).

    Args:
        name: one of ``adam``, ``adamw``, ``rmsprop``, ``adagrad``, ``sgd``.
        params: parameters or parameter groups (e.g. ``D.parameters()``).
        lr: learning rate.
        beta1: first-moment decay / momentum, in [0, 1).
        beta2: second-moment decay, in [0, 1).
        weight_decay: L2 penalty (decoupled for ``adamw``), >= 0.
        **extra: passed to the torch constructor unchanged (e.g. ``nesterov=True``).

    Raises:
        UnknownNameError: unknown ``name`` (the message lists the valid ones).
        ValueError: a hyper-parameter is out of range.
    """
    builder = OPTIMIZERS.get(name)
    _check(lr, beta1, beta2, weight_decay)
    return builder(params, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay, **extra)


# ----------------------------------------------------------------------------- schedules
SCHEDULES: Registry[Callable[[float], float]] = Registry("lr schedule")


@SCHEDULES.register("constant", help="constant learning rate (after the warm-up)")
def _constant(t: float) -> float:
    return 1.0


@SCHEDULES.register("linear", help="linear decay to 0 at the last step")
def _linear(t: float) -> float:
    return 1.0 - t


@SCHEDULES.register("cosine", help="cosine decay to 0 at the last step")
def _cosine(t: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * t))


SCHEDULES.add("warmup", _constant, help="linear warm-up over `warmup` steps, then constant")


def lr_factor(
    name: str, step: int, total_steps: int, warmup: int = 0, decay_start: float = 0.0
) -> float:
    """Multiplier of the base learning rate after ``step`` optimizer steps.

    During the warm-up (``step < warmup``) the factor rises linearly,
    ``(step + 1) / warmup``, so the first update already moves. It then holds at 1 until
    ``start = max(warmup, decay_start * total_steps)``; afterwards
    ``t = (step - start) / (total_steps - start)`` runs from 0 to 1 and the named shape
    gives the factor (constant 1, linear ``1 - t``, cosine ``(1 + cos(pi t)) / 2``).
    pix2pix and CycleGAN (Isola et al. 2017; Zhu et al. 2017) hold, then decay linearly to
    zero over the second half: ``linear`` with ``decay_start = 0.5``.
    """
    shape = SCHEDULES.get(name)
    if step < warmup:
        return (step + 1) / warmup
    start = max(float(warmup), decay_start * total_steps)
    t = (step - start) / max(1.0, total_steps - start)
    return shape(min(max(t, 0.0), 1.0))


def check_schedule(name: str, total_steps: int, warmup: int = 0, decay_start: float = 0.0) -> None:
    """Raise for a schedule that cannot run: an unknown name (the valid ones listed), a
    warm-up not shorter than the run, ``warmup`` without warm-up steps, or a decay start
    outside [0, 1)."""
    SCHEDULES.get(name)
    if total_steps >= 1 and not 0 <= warmup < max(total_steps, 1):
        raise ValueError(
            f"optim.warmup must be in [0, steps={total_steps}), got {warmup}; lower optim.warmup"
        )
    if name == "warmup" and warmup == 0:
        raise ValueError("optim.schedule = 'warmup' needs optim.warmup > 0 steps (or 'constant')")
    if not 0.0 <= decay_start < 1.0:
        raise ValueError(f"optim.decay_start must be in [0, 1), got {decay_start}")
