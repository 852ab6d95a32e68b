"""Per-variant training steps. The engine owns the loop; a variant is a small function.

A step function takes the :class:`~ganforge.training.trainer.Trainer` (which holds G, D,
G_ema, the optimizers, the loss and the batcher) and returns a dict of scalar tensors to
log. It never syncs with the host: numbers become Python floats only at log time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ganforge.core.registry import Registry

if TYPE_CHECKING:
    from ganforge.training.trainer import Trainer

Tensor = torch.Tensor
STEPS: Registry = Registry("training step")


@STEPS.register("gan")
def gan_step(t: Trainer) -> dict[str, Tensor]:
    """One G update preceded by ``optim.d_steps`` D updates (Goodfellow et al. 2014, Alg. 1).

    The fake batch of the last D update is generated with gradients on and reused for the
    G update (as PyTorch's DCGAN example does), saving one G forward pass per step.
    """
    cfg = t.cfg
    logs: dict[str, Tensor] = {}
    for i in range(cfg.optim.d_steps):
        real, labels = t.next_batch()
        real = t.prepare_real(real)
        z = t.make_z(cfg.batch_size)
        last = i == cfg.optim.d_steps - 1
        with t.autocast():
            fake = t.generate(z, with_grad=last)
            d_real = t.D_forward(real)
            d_fake = t.D_forward(fake.detach())
        loss_d = t.d_loss(d_real, d_fake, real, fake)
        t.backward_step("D", loss_d)
    with t.autocast():
        g_fake = t.D_forward(fake)
        g_real = t.D_forward(real.detach()).detach() if t.loss.g_uses_real else None
    loss_g = t.loss.g(g_real, g_fake) + t.g_regularizers(z)
    t.backward_step("G", loss_g)
    logs["loss_d"] = loss_d.detach()
    logs["loss_g"] = loss_g.detach()
    logs["d_real"] = torch.sigmoid(d_real.detach().float()).mean()
    logs["d_fake"] = torch.sigmoid(d_fake.detach().float()).mean()
    logs["d_acc_real"] = (d_real.detach() > 0).float().mean()
    logs["d_acc_fake"] = (d_fake.detach() < 0).float().mean()
    return logs
