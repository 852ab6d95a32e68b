"""Image-to-image networks: the pix2pix U-Net, the CycleGAN ResNet generator and PatchGAN.

References:
    Isola, Zhu, Zhou, Efros. "Image-to-Image Translation with Conditional Adversarial
    Networks" (pix2pix), CVPR 2017, appendix 6.1: U-Net encoder C64-C128-C256-C512-C512...
    with skip connections, dropout 0.5 in the first decoder layers, 70x70 PatchGAN.
    Zhu, Park, Isola, Efros. "Unpaired Image-to-Image Translation using Cycle-Consistent
    Adversarial Networks" (CycleGAN), ICCV 2017, appendix 7.2: c7s1-64, d128, d256, R256 x n,
    u128, u64, c7s1-3 with instance norm and reflection padding.
    Johnson, Alahi, Fei-Fei. "Perceptual Losses for Real-Time Style Transfer", ECCV 2016
    (the residual generator CycleGAN adopts).

All networks take and return float (N, C, H, W) images in [-1, 1]; widths and depths are
keyword arguments so one file serves 28x28 digits on a laptop and 256x256 photos on a GPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "UNetGenerator",
    "ResnetGenerator",
    "PatchDiscriminator",
    "HistoryPool",
    "unet_depth",
    "patch_receptive_field",
    "init_weights",
]


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        # CycleGAN's instance norm has no affine parameters and no running statistics,
        # so train and eval mode compute the same thing.
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; use 'batch', 'instance' or 'none'")


def init_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """Both papers initialise conv weights from N(0, 0.02) and norm scales from N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def _pad_to_multiple(x: torch.Tensor, m: int) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad H and W up to a multiple of ``m`` (reflect when possible), return the pad amounts
    so the output can be cropped back; lets 28x28 digits pass a net that halves 5 times."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph == 0 and pw == 0:
        return x, (0, 0, 0, 0)
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    mode = "reflect" if max(pad[:2]) < w and max(pad[2:]) < h else "replicate"
    return F.pad(x, pad, mode=mode), pad


def _crop(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    return x[..., top : h - bottom, left : w - right]


def unet_depth(resolution: int, max_depth: int = 8) -> int:
    """Number of stride-2 levels that take a ``resolution`` image down to 1x1 (after padding
    up to a power of two), as in pix2pix where 256x256 uses 8 levels; capped at ``max_depth``."""
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    return min(max_depth, math.ceil(math.log2(resolution)))


class UNetGenerator(nn.Module):
    """pix2pix U-Net: encoder-decoder whose level-i encoder output is concatenated onto the
    decoder input at the mirrored level (skip connections carry low-level detail across).

    Encoder: ``Conv4x4/2`` (no norm on the first), ``LeakyReLU(0.2)``, norm; the innermost
    level has no norm (its output is 1x1). Decoder: ``ReLU``, ``ConvTranspose4x4/2``, norm,
    dropout 0.5 on the first ``n_dropout`` decoder layers (the paper's CD512 x 3, and fewer
    for shallow nets, so the outer three levels never drop), ``Tanh`` at the end.

    Args:
        in_channels: channels of the input domain A.
        out_channels: channels of the output domain B.
        resolution: training side; sets ``depth`` = ceil(log2(resolution)) when not given.
        ngf: channels of the first level; level i has ``ngf * min(2**i, max_mult)``.
        depth: number of down/up levels (input sides are padded to a multiple of 2**depth).
        max_mult: width cap multiplier (8 in the paper: C512 = 64 * 8).
        norm: "batch" (paper), "instance" or "none".
        dropout: dropout probability in the inner decoder layers (0.5 in the paper).
        n_dropout: how many decoder layers use dropout; default ``min(3, depth - 3)``.

    Shapes:
        forward: (N, in_channels, H, W) in [-1, 1] -> (N, out_channels, H, W) in [-1, 1].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        resolution: int = 32,
        *,
        ngf: int = 32,
        depth: int | None = None,
        max_mult: int = 8,
        norm: str = "batch",
        dropout: float = 0.5,
        n_dropout: int | None = None,
    ) -> None:
        super().__init__()
        self.depth = depth = depth or unet_depth(resolution)
        if depth < 2:
            raise ValueError(f"U-Net depth must be >= 2, got {depth}")
        self.n_dropout = max(0, min(3, depth - 3)) if n_dropout is None else n_dropout
        ch = [ngf * min(2**i, max_mult) for i in range(depth)]
        self.channels = ch
        bias = norm != "batch"  # a norm with a shift makes the conv bias redundant
        down: list[nn.Module] = [nn.Conv2d(in_channels, ch[0], 4, 2, 1, bias=bias)]
        for i in range(1, depth):
            innermost = i == depth - 1
            down.append(
                nn.Sequential(
                    nn.LeakyReLU(0.2),
                    nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=bias or innermost),
                    nn.Identity() if innermost else _norm(norm, ch[i]),
                )
            )
        self.down = nn.ModuleList(down)
        up: list[nn.Module] = []
        # up[j] undoes down[depth-1-j]; all but the first take [decoder, skip] concatenated.
        for j in range(depth):
            level = depth - 1 - j
            c_in = ch[level] if j == 0 else 2 * ch[level]
            if level == 0:
                up.append(
                    nn.Sequential(
                        nn.ReLU(), nn.ConvTranspose2d(c_in, out_channels, 4, 2, 1), nn.Tanh()
                    )
                )
                continue
            layers: list[nn.Module] = [
                nn.ReLU(),
                nn.ConvTranspose2d(c_in, ch[level - 1], 4, 2, 1, bias=bias),
                _norm(norm, ch[level - 1]),
            ]
            if j < self.n_dropout and dropout > 0:
                layers.append(nn.Dropout(dropout))
            up.append(nn.Sequential(*layers))
        self.up = nn.ModuleList(up)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, pad = _pad_to_multiple(x, 2**self.depth)
        skips = []
        h = x
        for enc in self.down:
            h = enc(h)
            skips.append(h)
        h = self.up[0](skips[-1])
        for j, dec in enumerate(self.up[1:], start=1):
            h = dec(torch.cat([h, skips[self.depth - 1 - j]], dim=1))
        return _crop(h, pad)


class _ResidualBlock(nn.Module):
    """``x + [ReflPad1, Conv3x3, norm, ReLU, ReflPad1, Conv3x3, norm](x)`` (CycleGAN R256)."""

    def __init__(self, channels: int, norm: str, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=norm != "batch"),
            _norm(norm, channels),
            nn.ReLU(),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=norm != "batch"),
            _norm(norm, channels),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN generator: c7s1-ngf, ``n_down`` stride-2 convs, ``n_blocks`` residual blocks,
    ``n_down`` fractionally strided convs, c7s1-out, Tanh; reflection padding throughout to
    avoid border artefacts (paper: 6 blocks at 128x128, 9 at 256x256).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        ngf: channels of the first layer (64 in the paper).
        n_blocks: residual blocks at the bottleneck.
        n_down: downsampling steps (2 in the paper); sides are padded to a multiple of
            ``2**n_down`` so 28x28 works.
        norm: "instance" (paper), "batch" or "none".
        dropout: dropout inside residual blocks (0 in the paper).

    Shapes:
        forward: (N, in_channels, H, W) in [-1, 1] -> (N, out_channels, H, W) in [-1, 1].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        ngf: int = 32,
        n_blocks: int = 3,
        n_down: int = 2,
        norm: str = "instance",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_down = n_down
        bias = norm != "batch"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=bias),
            _norm(norm, ngf),
            nn.ReLU(),
        ]
        c = ngf
        for _ in range(n_down):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), _norm(norm, 2 * c), nn.ReLU()]
            c *= 2
        layers += [_ResidualBlock(c, norm, dropout) for _ in range(n_blocks)]
        for _ in range(n_down):
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias),
                _norm(norm, c // 2),
                nn.ReLU(),
            ]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, pad = _pad_to_multiple(x, 2**self.n_down)
        return _crop(self.net(x), pad)


def patch_receptive_field(n_layers: int) -> int:
    """Side of the input patch one PatchGAN output sees: 70 for ``n_layers=3`` (the paper's
    70x70 PatchGAN), 34 for 2, 16 for 1 (all 4x4 kernels, ``n_layers`` of stride 2 then
    two of stride 1)."""
    rf = 1
    for stride in [1, 1] + [2] * n_layers:  # walk back from the output
        rf = (rf - 1) * stride + 4
    return rf


class PatchDiscriminator(nn.Module):
    """PatchGAN: a fully convolutional D that scores every overlapping patch as real/fake,
    i.e. models high frequencies only and leaves low frequencies to the L1/cycle loss.

    ``C(ndf) - C(2ndf) - ... `` with 4x4 convs, stride 2 for the first ``n_layers``, then
    one stride-1 conv and a 1-channel stride-1 conv; no norm on the first layer;
    LeakyReLU(0.2). ``n_layers=3`` is the paper's 70x70 PatchGAN; the default 2 (34x34)
    fits 28-64 px inputs, where a 70x70 patch would be larger than the image.

    For pix2pix the input is the condition and the image concatenated along channels
    (``in_channels = C_A + C_B``); for CycleGAN it is one domain's image.

    Shapes:
        forward: (N, in_channels, H, W) -> logits (N, 1, H', W'), one per patch, with
        H' = floor(H / 2**n_layers) - 2 for H divisible by 2**n_layers.
    """

    def __init__(
        self, in_channels: int, *, ndf: int = 32, n_layers: int = 2, norm: str = "batch"
    ) -> None:
        super().__init__()
        bias = norm != "batch"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = ndf
        for i in range(1, n_layers + 1):
            c_out = ndf * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [
                nn.Conv2d(c, c_out, 4, stride, 1, bias=bias),
                _norm(norm, c_out),
                nn.LeakyReLU(0.2),
            ]
            c = c_out
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        self.n_layers = n_layers
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class HistoryPool:
    """Buffer of previously generated images fed to D (Shrivastava et al. 2017, CycleGAN 4).

    Until ``capacity`` images are stored, each query image is stored and returned. After
    that, each image is, with probability 1/2, swapped with a uniformly chosen stored one
    (the stored image is returned and the new one takes its slot), else returned as is —
    so D sees a history of G's outputs, which damps oscillation. ``capacity=0`` disables it.

    The pool has its own RNG, and :meth:`state_dict` saves images and RNG so a resumed run
    draws exactly as an uninterrupted one.
    """

    def __init__(self, capacity: int = 50, seed: int = 0) -> None:
        self.capacity = capacity
        self.images: list[torch.Tensor] = []
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) generated images -> (N, C, H, W) mix of them and stored ones."""
        if self.capacity <= 0:
            return images
        out = []
        for img in images.detach():
            if len(self.images) < self.capacity:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand((), generator=self.gen).item() < 0.5:
                k = int(torch.randint(len(self.images), (), generator=self.gen))
                out.append(self.images[k].clone())
                self.images[k] = img.clone()
            else:
                out.append(img)
        return torch.stack(out)

    def state_dict(self) -> dict[str, object]:
        images = torch.stack(self.images).cpu() if self.images else torch.empty(0)
        return {"capacity": self.capacity, "images": images, "rng": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.capacity = int(state["capacity"])  # type: ignore[arg-type]
        images = state["images"]
        assert isinstance(images, torch.Tensor)
        self.images = [im for im in images] if images.numel() else []
        self.gen.set_state(state["rng"])  # type: ignore[arg-type]
