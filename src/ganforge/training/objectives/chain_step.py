"""The GAN step for networks that are plain linear chains, with hand-written gradients.

:class:`ChainStep` does what :meth:`GanObjective.step <ganforge.training.objectives.gan.
GanObjective.step>` does — ``optim.d_steps`` D updates, lazy R1, then one G update on the
last D update's fake batch — for a G and a D that declare themselves chains
(:class:`~ganforge.models.base.LinearChainNet`: the 2-D mixtures' MLPs), with the
networks' forward and backward passes from :mod:`ganforge.training.linear_chain` instead
of autograd. Only the loss on the logits (any ``loss.name``, label smoothing included) goes
through autograd — a few operators on (N,) vectors. D sees the real and the fake batch in
one forward pass (its chain has no batch statistics, so this is exact).

The gradients equal autograd's to float rounding (tested); the random draws and their
order are the autograd step's, so a run resumes bit-exactly on either path. Measured on
``gan-ring8`` (BENCHMARKS.md, issue 19): 1.2-1.4x faster a step than autograd's.

It runs where nothing needs autograd's generality: fp32, no ``compile``, no augmentation,
gradient penalty or path-length term, plain chains (no latent clusters, minibatch std,
spectral norm or PacGAN packing); ``hand_gradients = false`` turns it off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from ganforge.models.base import LinearChainNet
from ganforge.training.linear_chain import Chain, chain_backward, chain_forward, r1_weight_grads
from ganforge.training.objective import StepContext
from ganforge.training.regularizers import clip_weights_, r1_due

if TYPE_CHECKING:
    from ganforge.training.objectives.gan import GanObjective

Tensor = torch.Tensor


def _loss_and_grad(loss_fn: Callable[[Tensor], Tensor], logits: Tensor) -> tuple[Tensor, Tensor]:
    """The loss of ``logits`` (N,) and its gradient with respect to them (N,)."""
    leaf = logits.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(leaf)
        (grad,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), grad


def unsupported_reason(objective: GanObjective, ctx: StepContext) -> str | None:
    """Why this run's step needs autograd (None: :class:`ChainStep` can run it in fp32)."""
    cfg = objective.cfg
    if not cfg.hand_gradients:
        return "hand_gradients = false"
    if cfg.compile:
        return "compile = true"
    if objective.augment is not None or objective.path_length is not None:
        return "augmentation or a path-length term"
    if objective.loss.gp_weight > 0:
        return "a gradient penalty"
    for name in ("G", "D"):
        net = ctx.nets[name]
        if not isinstance(net, LinearChainNet) or net.linear_chain() is None:
            return f"{name} is not a plain linear chain"
    d_layers, _ = ctx.nets["D"].linear_chain()  # type: ignore[union-attr, misc]
    if d_layers[-1].out_features != 1:
        return "D has more than one output"
    return None


class ChainStep:
    """One training step of a chain G and a chain D, gradients by hand (module docstring)."""

    def __init__(self, objective: GanObjective, ctx: StepContext) -> None:
        reason = unsupported_reason(objective, ctx)
        if reason is not None:
            raise ValueError(f"the hand-written step cannot run this model: {reason}")
        self.objective = objective
        self.g = Chain.of(*ctx.nets["G"].linear_chain())  # type: ignore[union-attr, misc]
        self.d = Chain.of(*ctx.nets["D"].linear_chain())  # type: ignore[union-attr, misc]

    def _d_loss_and_grad(self, logits: Tensor, n: int) -> tuple[Tensor, Tensor]:
        """D's adversarial loss on [real | fake] logits (2N,), and its gradient (2N,): the
        loss's closed form where it has one, else autograd on the logits."""
        obj = self.objective
        tricks = obj.cfg.tricks
        if obj.loss.d_grads is not None and not (tricks.label_smoothing or tricks.label_flip):
            loss, grad_real, grad_fake = obj.loss.d_grads(logits[:n], logits[n:])
            return loss, torch.cat([grad_real, grad_fake])
        return _loss_and_grad(lambda o: obj.adversarial_d_loss(o[:n], o[n:]), logits)

    def step(self, ctx: StepContext) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The step's updates; returns D's and G's losses and the last D update's logits
        on the real and the fake batch, (N,) each."""
        obj, cfg = self.objective, self.objective.cfg
        G, D = self.g, self.d
        loss = obj.loss
        with torch.no_grad():
            for _ in range(cfg.optim.d_steps):
                real, _labels = ctx.next_batch()
                real = real.flatten(1)
                z = obj.latents(ctx, cfg.batch_size)
                g_acts = chain_forward(G, z)
                fake = g_acts[-1]
                n = real.shape[0]
                d_acts = chain_forward(D, torch.cat([real, fake]))
                logits = d_acts[-1].squeeze(1)
                loss_d, grad_logits = self._d_loss_and_grad(logits, n)
                grads, _ = chain_backward(D, d_acts, grad_logits.unsqueeze(1))
                if r1_due(loss, obj.d_updates):
                    scale = 0.5 * loss.r1_gamma * loss.r1_interval
                    r1_grads, penalty = r1_weight_grads(D, [a[:n] for a in d_acts], scale)
                    grads = [(gw + r, gb) for (gw, gb), r in zip(grads, r1_grads, strict=True)]
                    loss_d = loss_d + penalty
                obj.d_updates += 1
                ctx.update_with_grads("D", D.parameters_with(grads))
                if loss.d_weight_clip > 0:
                    clip_weights_(ctx.nets["D"], loss.d_weight_clip)
            d_real, d_fake = logits[:n], logits[n:]

            uses_real = loss.g_uses_real
            d_acts = chain_forward(D, torch.cat([fake, real]) if uses_real else fake)
            logits = d_acts[-1].squeeze(1)
            m = fake.shape[0]
            real_logits = logits[m:] if uses_real else None
            if loss.g_grad is not None and not uses_real:
                loss_g, grad_fake_logits = loss.g_grad(logits)
            else:
                loss_g, grad_fake_logits = _loss_and_grad(
                    lambda o: loss.g(real_logits, o), logits[:m]
                )
            grad_logits = grad_fake_logits.unsqueeze(1)
            if uses_real:  # the real logits are constants of G's loss
                grad_logits = torch.cat([grad_logits, torch.zeros_like(grad_logits)])
            _, grad_fake = chain_backward(
                D, d_acts, grad_logits, weight_grads=False, input_grad=True
            )
            grads, _ = chain_backward(G, g_acts, grad_fake[:m])
            ctx.update_with_grads("G", G.parameters_with(grads))
        return loss_d, loss_g, d_real, d_fake
