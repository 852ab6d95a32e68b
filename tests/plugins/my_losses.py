"""A loss registered from a module of its own, exactly as ARCHITECTURE.md shows."""

import torch.nn.functional as F

from ganforge.core.registry import LOSSES
from ganforge.training.losses import AdversarialLoss


def d_loss(real, fake):  # D's logits (N,) on real and generated data
    return F.softplus(-real.float()).mean() + F.softplus(fake.float()).mean()


def g_loss(real, fake):  # real is None unless g_uses_real=True
    return F.softplus(-fake.float()).mean()


if "my-loss" not in LOSSES:
    LOSSES.add("my-loss", AdversarialLoss(d_loss, g_loss), help="a test loss")
