"""DCGAN (Radford, Metz & Chintala, ICLR 2016) for any channel count and resolutions
``base * 2**k`` with base 4 or 7 — so 28, 32 and 64 (and 14, 16, 56, 128 ...) from one file
— square or not: an H x W image whose aspect is a power of two (1:2, 2:1, 1:4 ...).

G: a transposed convolution lifts z to ``h0 x w0`` feature maps (``base x base`` for
square images; 4x8 for 2:1 ones, as stylegan2-ada's non-square forks start from a
non-square block), then stride-2 transposed convolutions (4x4) with BatchNorm and ReLU
double both sides until the output layer, which ends in tanh. D mirrors it: stride-2 4x4
convolutions with LeakyReLU(0.2) (BatchNorm on all but the first), then an ``h0 x w0``
convolution to one logit. Weights are initialised from N(0, 0.02) as in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.core.registry import MODELS
from ganforge.models.base import Generator
from ganforge.models.layers import MinibatchStdDev


def plan_resolution(resolution: int) -> tuple[int, int]:
    """Return ``(base, n_up)`` with ``resolution == base * 2**n_up``, base in {4, 7}.

    Raises:
        ValueError: the resolution is not of that form.
    """
    for base in (4, 7):
        n, r = 0, resolution
        while r > base and r % 2 == 0:
            r //= 2
            n += 1
        if r == base and n >= 1:
            return base, n
    raise ValueError(
        f"DCGAN supports resolutions 4*2^k or 7*2^k (e.g. 28, 32, 64), not {resolution}; "
        "set data.resolution to one of those"
    )


def plan_shape(height: int, width: int, family: str = "DCGAN") -> tuple[int, int, int]:
    """Return ``(h0, w0, n_up)`` with ``height == h0 * 2**n_up`` and ``width == w0 *
    2**n_up``: the starting block of the upsampling stack.

    The shorter side must be ``4*2^k`` or ``7*2^k`` (:func:`plan_resolution`) and the
    longer one a power-of-two multiple of it, so the stack is the square one with a
    block of ``base x (base * aspect)`` (or its transpose) at the bottom.

    Raises:
        ValueError: the shape is not of that form (the message names the valid ones).
    """
    short, long_ = min(height, width), max(height, width)
    ratio = long_ // short if short > 0 else 0
    if short < 1 or long_ % short or ratio & (ratio - 1):
        raise ValueError(
            f"{family} supports images whose aspect (width:height) is a power of two "
            f"(1:1, 2:1, 1:2, 4:1 ...), not {height}x{width} (height x width); set "
            "data.resolution (the height) and data.width so that one is the other times "
            "1, 2, 4 ..."
        )
    try:
        base, n_up = plan_resolution(short)
    except ValueError:
        raise ValueError(
            f"{family} needs the shorter side 4*2^k or 7*2^k (e.g. 28, 32, 64), not {short} "
            f"(image {height}x{width}, height x width); set data.resolution/data.width"
        ) from None
    return base * (height // short), base * (width // short), n_up


def init_dcgan_weights(m: nn.Module) -> None:
    """N(0, 0.02) for conv weights, N(1, 0.02) for BatchNorm scales (DCGAN section 4).

    Nothing on a size-only build (``meta`` tensors; see :mod:`ganforge.models.meta_safe`)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and not m.weight.is_meta:
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d) and not m.weight.is_meta:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def upsampling_layers(chans: list[int], c_out: int) -> list[nn.Module]:
    """DCGAN's stride-2 4x4 transposed convolutions (BatchNorm + ReLU) through ``chans``,
    then the output layer to ``c_out`` channels with tanh; each layer doubles the size."""
    layers: list[nn.Module] = []
    for c_in, c_next in zip(chans, chans[1:], strict=False):
        layers += [
            nn.ConvTranspose2d(c_in, c_next, 4, 2, 1, bias=False),
            nn.BatchNorm2d(c_next),
            nn.ReLU(True),
        ]
    return [*layers, nn.ConvTranspose2d(chans[-1], c_out, 4, 2, 1), nn.Tanh()]


class DCGANGenerator(Generator):
    """z (N, z_dim) -> images (N, C, H, W) in [-1, 1]."""

    def __init__(
        self, z_dim: int, out_shape: tuple[int, ...], ngf: int = 64, max_channels: int = 512
    ) -> None:
        super().__init__(z_dim, out_shape)
        c_out, h, w = out_shape
        h0, w0, n_up = plan_shape(h, w)
        chans = [min(ngf * 2 ** (n_up - 1 - i), max_channels) for i in range(n_up)]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, chans[0], (h0, w0), 1, 0, bias=False),
            nn.BatchNorm2d(chans[0]),
            nn.ReLU(True),
        ]
        layers += upsampling_layers(chans, c_out)
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Images (N, C, H, W) -> logits (N,)."""

    def __init__(
        self,
        in_shape: tuple[int, ...],
        ndf: int = 64,
        max_channels: int = 512,
        batchnorm: bool = True,
        mbstd_group: int = 0,
    ) -> None:
        super().__init__()
        c_in, h, w = in_shape
        h0, w0, n_down = plan_shape(h, w)
        chans = [min(ndf * 2**i, max_channels) for i in range(n_down)]
        layers: list[nn.Module] = []
        c = c_in
        for i, ch in enumerate(chans):
            layers.append(nn.Conv2d(c, ch, 4, 2, 1, bias=not (batchnorm and i > 0)))
            if batchnorm and i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c = ch
        self.features = nn.Sequential(*layers)
        # ProGAN's minibatch stddev before the last layer: D sees the batch's variety.
        self.mbstd = MinibatchStdDev(mbstd_group) if mbstd_group > 0 else nn.Identity()
        self.out = nn.Conv2d(c + (mbstd_group > 0), 1, (h0, w0), 1, 0)
        self.apply(init_dcgan_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.mbstd(self.features(x))).flatten()


@MODELS.register("dcgan")
def build_dcgan(
    *,
    z_dim: int,
    out_shape: tuple[int, ...],
    ngf: int = 64,
    ndf: int = 64,
    max_channels: int = 512,
    d_batchnorm: bool = True,
    mbstd_group: int = 0,
) -> tuple[Generator, nn.Module]:
    """DCGAN (Radford et al. 2016) for H x W images, the shorter side 4*2^k or 7*2^k and
    the aspect a power of two (:func:`plan_shape`), any channel count.

    ``mbstd_group > 0`` appends minibatch standard deviation over groups of that many
    samples before D's last layer (Karras et al. 2018); the batch size must be a multiple."""
    if len(out_shape) != 3:
        raise ValueError("the 'dcgan' model generates images (C, H, W)")
    plan_shape(out_shape[1], out_shape[2])  # a clear error before any layer is built
    return (
        DCGANGenerator(z_dim, out_shape, ngf, max_channels),
        DCGANDiscriminator(out_shape, ndf, max_channels, d_batchnorm, mbstd_group),
    )
