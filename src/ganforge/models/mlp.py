"""The classic tutorial GAN: an MLP generator and a convolutional discriminator
(docs/mlp_gan.md has the recipe and what it does on MNIST).

Generator: z(100) -> 128 -> 128 -> 784 with leaky ReLU and a tanh
output, reshaped to (1, 28, 28). Discriminator: four 5x5 stride-2 'SAME' convolutions
with 64, 128, 256, 512 channels and leaky ReLU, flattened, then a linear layer to one
logit (the recipe's sigmoid lives in the BCE-with-logits loss instead, for stability).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ganforge.core.registry import MODELS
from ganforge.models.base import Generator


class MLPGenerator(Generator):
    """z (N, z_dim) -> images (N, C, H, W) in [-1, 1] through fully connected layers."""

    def __init__(
        self,
        z_dim: int,
        out_shape: tuple[int, ...],
        hidden: Sequence[int] = (128, 128),
        slope: float = 0.2,
    ) -> None:
        super().__init__(z_dim, out_shape)
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope)]
            width = h
        layers += [nn.Linear(width, math.prod(out_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)


class ConvDiscriminator(nn.Module):
    """Images (N, C, H, W) -> logits (N,) through 5x5 stride-2 'SAME' convolutions."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        channels: Sequence[int] = (64, 128, 256, 512),
        slope: float = 0.2,
    ) -> None:
        super().__init__()
        c, h, w = in_shape
        layers: list[nn.Module] = []
        for ch in channels:
            # padding=2 with kernel 5 and stride 2 reproduces TF's 'SAME': ceil(h / 2).
            layers += [nn.Conv2d(c, ch, 5, stride=2, padding=2), nn.LeakyReLU(slope)]
            c, h, w = ch, (h + 1) // 2, (w + 1) // 2
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c * h * w, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).flatten(1)).squeeze(1)


class MLPDiscriminator(nn.Module):
    """Images (N, C, H, W) -> logits (N,) through fully connected layers with leaky ReLU and
    dropout (the vanilla GAN of Goodfellow et al. 2014 used maxout with dropout in D)."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        hidden: Sequence[int],
        slope: float = 0.2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(in_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


@MODELS.register("mlp")
def build_mlp(
    *,
    z_dim: int,
    out_shape: tuple[int, ...],
    g_hidden: Sequence[int] = (128, 128),
    d_channels: Sequence[int] = (64, 128, 256, 512),
    d_hidden: Sequence[int] = (),
    d_dropout: float = 0.3,
    slope: float = 0.2,
) -> tuple[Generator, nn.Module]:
    """MLP generator against the tutorial's 4-layer 5x5 conv discriminator, or, with
    ``d_hidden``, an MLP discriminator of those widths (with ``d_dropout``)."""
    if len(out_shape) != 3:
        raise ValueError("the 'mlp' model generates images (C, H, W); use 'toy2d' for points")
    D: nn.Module
    if d_hidden:
        D = MLPDiscriminator(out_shape, d_hidden, slope, d_dropout)
    else:
        D = ConvDiscriminator(out_shape, d_channels, slope)
    return MLPGenerator(z_dim, out_shape, g_hidden, slope), D
