"""StyleGAN2 generator and residual discriminator in plain PyTorch (no compiled ops).

Follows Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"
(CVPR 2020), configuration F, with the layout of NVIDIA's stylegan2-ada-pytorch
``training/networks.py`` (Karras et al. 2020b) as reference. Written from the paper;
only the ideas, not the code, come from the reference implementation.

Generator ``G(z) = synthesis(mapping(z))``:

* **Mapping network** ``z -> w``: ``z`` is normalised by its second moment, then
  ``mapping_layers`` fully-connected layers with leaky ReLU and a learning-rate
  multiplier of 0.01 (StyleGAN 2019, appendix C). ``w`` is broadcast to ``num_ws``
  copies (one per style input). The running mean of ``w`` (``w_avg``, beta 0.995) is
  tracked during training forward passes and used by the truncation trick.
* **Synthesis network**: a learned 4x4 constant, then one block per resolution
  ``8, 16, ..., R``. Each block has two 3x3 *modulated/demodulated* convolutions (the
  first upsamples by 2), per-pixel noise with a learned strength, bias and leaky ReLU
  with gain sqrt(2). ``architecture="skip"`` (default, the paper's config F) sums
  upsampled ToRGB outputs of every block; ``"resnet"`` uses residual blocks and one
  ToRGB on the last block.
* **Upsampling** is a stride-2 transposed convolution followed by a [1,3,3,1] binomial
  blur (the paper's choice): the 3x3 weights are applied at the *low* resolution, which
  costs a quarter of "bilinear upsample then 3x3 conv" and gives the same alias-reducing
  low-pass as bilinear interpolation (a [1,3,3,1]/4 filter is exactly bilinear x2).
* **Equalized learning rate** everywhere (ProGAN, Karras et al. 2018): parameters are
  stored as N(0, 1) / lr_multiplier and scaled at run time by
  ``lr_multiplier / sqrt(fan_in)``, so Adam's step is uniform across layers.

**Non-square images** (H x W with a power-of-two aspect, e.g. 64x128): the blocks are
those of the square network at the shorter side, each ``aspect`` times longer along the
longer side — a ``4 x 8`` constant for 2:1 — so channels, ``num_ws`` and the style
layout are the square network's; the per-layer noise, D's blocks, its minibatch-stddev
epilogue (a ``4 x 8`` map) and its fully connected layer follow the aspect, as in the
non-square forks of stylegan2-ada-pytorch (issue #52).

The output is **not** squashed by tanh (as in the paper): images are *roughly* in
[-1, 1] and may overshoot slightly; :meth:`StyleGANGenerator.sample` returns them raw,
so clamp before saving to 8-bit if needed.

Discriminator: StyleGAN2's residual D — FromRGB (1x1), residual blocks whose 3x3 and
1x1 skip convolutions downsample by 2 after a [1,3,3,1] blur, then minibatch standard
deviation (group 4, one feature), a 3x3 conv, a fully connected layer and a linear
layer to one logit (N,).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.core.registry import MODELS
from ganforge.models import meta_safe
from ganforge.models.base import Generator

Tensor = torch.Tensor


NOISE_MODES = ("random", "const", "none")
ARCHITECTURES = ("skip", "resnet")
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)  # keeps activations' second moment ~1 through leaky ReLU


# ----------------------------------------------------------------------------------------
# Small helpers


def normalize_2nd_moment(x: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Scale ``x`` so that ``mean(x**2)`` along ``dim`` is 1 (pixel norm on z)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def lrelu_agc(x: Tensor, gain: float = 1.0) -> Tensor:
    """Leaky ReLU (slope 0.2) times ``sqrt(2) * gain``."""
    return F.leaky_relu(x, LRELU_SLOPE) * (LRELU_GAIN * gain)


def _blur_kernel(channels: int, gain: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Depthwise [1,3,3,1] x [1,3,3,1] binomial filter (channels, 1, 4, 4), summing to ``gain``."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float32)
    f = torch.outer(f, f)
    f = f / f.sum() * gain
    return f.to(dtype=dtype, device=device).expand(channels, 1, 4, 4)


def blur(x: Tensor, pad: int, gain: float = 1.0) -> Tensor:
    """Depthwise 4x4 binomial blur of (N, C, H, W) with ``pad`` zeros on every side."""
    c = x.shape[1]
    return F.conv2d(x, _blur_kernel(c, gain, x.dtype, x.device), padding=pad, groups=c)


def upsample2d(x: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, 2H, 2W): zero insertion + [1,3,3,1] filter (gain 4).

    A stride-2 transposed convolution with the 4x4 filter does both at once; padding 1
    crops the full output (2H+2) to the pixel-centred 2H. This equals bilinear
    upsampling (align_corners=False) except that borders see zeros.
    """
    c = x.shape[1]
    return F.conv_transpose2d(
        x, _blur_kernel(c, 4.0, x.dtype, x.device), stride=2, padding=1, groups=c
    )


def downsample2d(x: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, H/2, W/2): [1,3,3,1] filter, then keep every other pixel."""
    return blur(x, pad=1)[:, :, ::2, ::2]


# ----------------------------------------------------------------------------------------
# Equalized-learning-rate layers


class EqualLinear(nn.Module):
    """Fully connected layer with equalized learning rate.

    The stored weight is N(0, 1) / ``lr_multiplier``; at run time it is multiplied by
    ``lr_multiplier / sqrt(in_features)`` (and the bias by ``lr_multiplier``), so the
    effective initial weight has std ``1 / sqrt(in_features)`` while Adam's updates to
    the effective weight are scaled by ``lr_multiplier``.

    Args:
        in_features: input size.
        out_features: output size.
        bias: add a bias.
        bias_init: initial value of the effective bias (1 for style affines, so styles
            start near 1).
        lr_multiplier: learning-rate multiplier (0.01 in the mapping network).
        activation: ``"linear"`` or ``"lrelu"`` (leaky ReLU with gain sqrt(2)).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,
        activation: str = "linear",
    ) -> None:
        super().__init__()
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"activation must be 'linear' or 'lrelu', not {activation!r}")
        self.in_features, self.out_features = in_features, out_features
        self.activation = activation
        weight = meta_safe.randn(out_features, in_features)
        self.weight = nn.Parameter(meta_safe.divided(weight, lr_multiplier))
        bias_0 = torch.full((out_features,), float(bias_init))
        self.bias = nn.Parameter(meta_safe.divided(bias_0, lr_multiplier)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def effective_weight(self) -> Tensor:
        """The weight actually applied, (out_features, in_features)."""
        return self.weight * self.weight_gain

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_features) -> (N, out_features)."""
        w = self.effective_weight().to(x.dtype)
        b = None if self.bias is None else (self.bias * self.bias_gain).to(x.dtype)
        x = F.linear(x, w, b)
        return lrelu_agc(x) if self.activation == "lrelu" else x

    def extra_repr(self) -> str:
        return (
            f"in={self.in_features}, out={self.out_features}, act={self.activation}, "
            f"lr_mul={self.bias_gain}"
        )


class EqualConv2d(nn.Module):
    """2-D convolution with equalized learning rate and optional 2x resampling.

    ``down=2`` blurs with [1,3,3,1] and then convolves with stride 2 (StyleGAN2's
    anti-aliased downsampling); ``up=2`` upsamples with :func:`upsample2d` first.

    Args:
        in_channels, out_channels, kernel_size: as in :class:`torch.nn.Conv2d` (odd k).
        bias: add a bias.
        activation: ``"linear"`` or ``"lrelu"``.
        up, down: 1 or 2.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
    ) -> None:
        super().__init__()
        if up not in (1, 2) or down not in (1, 2) or (up == 2 and down == 2):
            raise ValueError(f"EqualConv2d supports up or down in (1, 2), got {up=} {down=}")
        self.in_channels, self.out_channels, self.kernel_size = (
            in_channels,
            out_channels,
            kernel_size,
        )
        self.activation, self.up, self.down = activation, up, down
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(meta_safe.randn(*shape))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)

    def effective_weight(self) -> Tensor:
        return self.weight * self.weight_gain

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        """(N, in, H, W) -> (N, out, H*up/down, W*up/down); ``gain`` scales the output."""
        w = self.effective_weight().to(x.dtype)
        b = None if self.bias is None else self.bias.to(x.dtype)
        k = self.kernel_size
        if self.up == 2:
            x = upsample2d(x)
        if self.down == 2:
            if k == 1:
                x = F.conv2d(downsample2d(x), w, b)
            else:
                # Blur (pad 2) then stride-2 valid conv keeps pixel centres aligned.
                x = F.conv2d(blur(x, pad=(k - 1) // 2 + 1), w, b, stride=2)
        else:
            x = F.conv2d(x, w, b, padding=k // 2)
        if self.activation == "lrelu":
            return lrelu_agc(x, gain)
        return x * gain if gain != 1.0 else x

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, k={self.kernel_size}, "
            f"act={self.activation}, up={self.up}, down={self.down}"
        )


# ----------------------------------------------------------------------------------------
# Modulated convolution


class ModulatedConv2d(nn.Module):
    """Modulated (and optionally demodulated) convolution, StyleGAN2 section 2.2.

    The style ``s`` (N, in) scales the input channels of the shared weight, and
    demodulation rescales every output channel of the *per-sample* weight to unit L2
    norm, which replaces AdaIN's instance normalisation without its droplet artefacts:

        w'_{n,o,i,k} = s_{n,i} * w_{o,i,k};   w''_{n,o,i,k} = w' / sqrt(sum_{i,k} w'^2 + eps)

    ``fused=True`` builds the per-sample weights and runs one grouped convolution with
    ``groups=N`` (the paper's implementation); ``fused=False`` scales activations
    instead (``x * s``, shared conv, ``* d``), which is mathematically identical and is
    usually faster for training on CPU, because the backward pass of a grouped
    convolution over per-sample weights is slow there.

    Args:
        in_channels, out_channels, kernel_size: conv sizes (odd kernel).
        demodulate: apply demodulation (False for ToRGB).
        up: 1, or 2 for transposed-conv upsampling followed by a [1,3,3,1] blur.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        demodulate: bool = True,
        up: int = 1,
    ) -> None:
        super().__init__()
        if up not in (1, 2):
            raise ValueError(f"ModulatedConv2d supports up in (1, 2), got {up}")
        self.in_channels, self.out_channels, self.kernel_size = (
            in_channels,
            out_channels,
            kernel_size,
        )
        self.demodulate, self.up = demodulate, up
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(meta_safe.randn(*shape))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)

    def modulated_weight(self, styles: Tensor) -> Tensor:
        """Per-sample effective weights (N, out, in, k, k) for styles (N, in).

        Computed in float32 (then the caller casts), because the sum of squares in the
        demodulation can overflow half precision.
        """
        w = self.weight.float() * self.weight_gain
        w = w.unsqueeze(0) * styles.float()[:, None, :, None, None]
        if self.demodulate:
            w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
        return w

    def _conv(self, x: Tensor, w: Tensor, groups: int) -> Tensor:
        """Shared conv/upsampling path; ``w`` is (groups*out, in, k, k)."""
        k = self.kernel_size
        if self.up == 1:
            return F.conv2d(x, w, padding=k // 2, groups=groups)
        # Transposed conv wants (in_total, out/groups, k, k): regroup the out axis.
        in_c = w.shape[1]
        wt = w.reshape(groups, -1, in_c, k, k).transpose(1, 2).reshape(groups * in_c, -1, k, k)
        x = F.conv_transpose2d(x, wt, stride=2, groups=groups)  # (2H + k - 2) square
        # The [1,3,3,1] low-pass after zero-insertion; gain 4 restores the magnitude.
        # Padding (k - 1) // 2 crops the transposed output back to exactly 2H.
        return blur(x, pad=(k - 1) // 2, gain=4.0)

    def forward(self, x: Tensor, styles: Tensor, *, fused: bool = True) -> Tensor:
        """(N, in, H, W), styles (N, in) -> (N, out, H*up, W*up)."""
        n, c, h, w_ = x.shape
        if fused:
            w = self.modulated_weight(styles).to(x.dtype)
            w = w.reshape(n * self.out_channels, c, self.kernel_size, self.kernel_size)
            y = self._conv(x.reshape(1, n * c, h, w_), w, groups=n)
            return y.reshape(n, self.out_channels, *y.shape[2:])
        weight = self.weight * self.weight_gain
        x = x * styles.to(x.dtype)[:, :, None, None]
        y = self._conv(x, weight.to(x.dtype), groups=1)
        if self.demodulate:
            # sum_{i,k} (s_i w_{o,i,k})^2 = (s^2) @ (sum_k w^2)^T, done in float32.
            wsq = weight.float().square().sum(dim=(2, 3))  # (out, in)
            d = (styles.float().square() @ wsq.t() + 1e-8).rsqrt()  # (N, out)
            y = y * d.to(y.dtype)[:, :, None, None]
        return y


class SynthesisLayer(nn.Module):
    """Style affine + modulated 3x3 conv + noise + bias + leaky ReLU (gain sqrt(2))."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        *,
        up: int = 1,
        aspect: tuple[int, int] = (1, 1),
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.size = (resolution * aspect[0], resolution * aspect[1])  # (H, W)
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, up=up)
        # Fixed noise image for noise_mode="const" (saved with the weights, so a
        # checkpoint reproduces the same images), and its learned per-layer strength.
        self.register_buffer("noise_const", meta_safe.randn(*self.size))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(
        self,
        x: Tensor,
        w: Tensor,
        *,
        noise_mode: str = "random",
        fused: bool = True,
        gain: float = 1.0,
    ) -> Tensor:
        """x (N, in, H, W), w (N, w_dim) -> (N, out, *self.size)."""
        x = self.conv(x, self.affine(w), fused=fused)
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, *self.size, device=x.device, dtype=x.dtype)
            x = x + noise * self.noise_strength.to(x.dtype)
        elif noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength.to(x.dtype)
        return lrelu_agc(x + self.bias.to(x.dtype)[None, :, None, None], gain)


class ToRGB(nn.Module):
    """Style affine + modulated 1x1 conv *without* demodulation + bias, linear output."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.conv = ModulatedConv2d(in_channels, img_channels, 1, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(self, x: Tensor, w: Tensor, *, fused: bool = True) -> Tensor:
        """(N, in, H, W), w (N, w_dim) -> (N, img_channels, H, W)."""
        x = self.conv(x, self.affine(w), fused=fused)
        return x + self.bias.to(x.dtype)[None, :, None, None]


# ----------------------------------------------------------------------------------------
# Mapping and synthesis networks


class MappingNetwork(nn.Module):
    """z (N, z_dim) -> ws (N, num_ws, w_dim), with the tracked mean ``w_avg``.

    Args:
        z_dim: latent size.
        w_dim: intermediate latent size (also the hidden width).
        num_ws: copies of w to broadcast (one per style input of the synthesis net).
        num_layers: fully connected layers (8 in the paper; 4 is plenty for small data).
        lr_multiplier: equalized-lr multiplier of every layer (0.01, StyleGAN appendix C).
        w_avg_beta: decay of the running mean of w, updated in training mode.
    """

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 4,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"mapping_layers must be >= 1, got {num_layers}")
        self.z_dim, self.w_dim, self.num_ws = z_dim, w_dim, num_ws
        self.w_avg_beta = w_avg_beta
        feats = [z_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            EqualLinear(a, b, lr_multiplier=lr_multiplier, activation="lrelu")
            for a, b in zip(feats[:-1], feats[1:], strict=True)
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: Tensor,
        *,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_w_avg: bool = True,
    ) -> Tensor:
        """Map latents to broadcast styles.

        Args:
            z: (N, z_dim) latents.
            truncation_psi: 1 = no truncation, 0 = every w is ``w_avg``.
            truncation_cutoff: truncate only the first ``cutoff`` ws (None = all).
            update_w_avg: move ``w_avg`` toward this batch's mean w (only in training mode).

        Returns:
            (N, num_ws, w_dim).
        """
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(
                f"StyleGAN mapping expects z of shape (N, {self.z_dim}), got {tuple(z.shape)}"
            )
        x = normalize_2nd_moment(z.float())
        for layer in self.layers:
            x = layer(x)
        if update_w_avg and self.training:
            with torch.no_grad():
                # w_avg <- beta * w_avg + (1 - beta) * mean(w)
                # (in fp32: under bf16 autocast the mapping's output is bf16)
                self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1.0:
            cut = self.num_ws if truncation_cutoff is None else int(truncation_cutoff)
            ws = ws.clone()
            ws[:, :cut] = self.w_avg.to(ws.dtype).lerp(ws[:, :cut], truncation_psi)
        return ws


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network.

    ``in_channels == 0`` marks the 4x4 block (``4*aspect``), which starts from the learned
    constant; ``resolution`` is the shorter side, ``aspect`` (H, W) multiplies it.
    Consumes ``num_conv + num_torgb`` ws; the ToRGB w is shared with the next block's
    first conv (the official indexing, which gives ``num_ws = 2*log2(R) - 2``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        *,
        is_last: bool,
        architecture: str,
        aspect: tuple[int, int] = (1, 1),
    ) -> None:
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        self.architecture = architecture
        h, w = resolution * aspect[0], resolution * aspect[1]
        if in_channels == 0:
            self.const = nn.Parameter(meta_safe.randn(out_channels, h, w))
            self.conv0 = None
        else:
            self.conv0 = SynthesisLayer(
                in_channels, out_channels, w_dim, resolution, up=2, aspect=aspect
            )
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, aspect=aspect)
        self.num_conv = 1 if in_channels == 0 else 2
        self.torgb = (
            ToRGB(out_channels, img_channels, w_dim) if is_last or architecture == "skip" else None
        )
        self.num_torgb = 0 if self.torgb is None else 1
        self.skip = (
            EqualConv2d(in_channels, out_channels, 1, bias=False, up=2)
            if in_channels != 0 and architecture == "resnet"
            else None
        )

    def forward(
        self,
        x: Tensor | None,
        img: Tensor | None,
        ws: Tensor,
        *,
        noise_mode: str,
        fused: bool,
    ) -> tuple[Tensor, Tensor | None]:
        """x (N, in, R/2, R/2) or None, img (N, C, R/2, R/2) or None, ws (N, k, w_dim)."""
        i = 0
        if self.conv0 is None:
            x = self.const.to(ws.dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x, ws[:, 0], noise_mode=noise_mode, fused=fused)
            i = 1
        elif self.skip is not None:
            # Residual block; both branches scaled by sqrt(1/2) to keep the variance.
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, ws[:, 0], noise_mode=noise_mode, fused=fused)
            x = self.conv1(x, ws[:, 1], noise_mode=noise_mode, fused=fused, gain=math.sqrt(0.5))
            x = y + x
            i = 2
        else:
            x = self.conv0(x, ws[:, 0], noise_mode=noise_mode, fused=fused)
            x = self.conv1(x, ws[:, 1], noise_mode=noise_mode, fused=fused)
            i = 2
        if img is not None:
            img = upsample2d(img)
        if self.torgb is not None:
            y = self.torgb(x, ws[:, i], fused=fused)
            img = y if img is None else img + y
        return x, img


def channels_per_resolution(resolution: int, channel_base: int, channel_max: int) -> dict[int, int]:
    """``{4: c4, ..., resolution: cR}`` with ``c_r = min(channel_base // r, channel_max)``."""
    res = [2**i for i in range(2, int(np.log2(resolution)) + 1)]
    return {r: max(1, min(channel_base // r, channel_max)) for r in res}


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> images (N, img_channels, R*aspect[0], R*aspect[1]), R the
    shorter side ``img_resolution``."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        *,
        channel_base: int,
        channel_max: int,
        architecture: str = "skip",
        fused_modconv: bool | None = None,
        aspect: tuple[int, int] = (1, 1),
    ) -> None:
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.fused_modconv = fused_modconv
        chans = channels_per_resolution(img_resolution, channel_base, channel_max)
        blocks = []
        for r, c in chans.items():
            blocks.append(
                SynthesisBlock(
                    chans.get(r // 2, 0) if r > 4 else 0,
                    c,
                    w_dim,
                    r,
                    img_channels,
                    is_last=r == img_resolution,
                    architecture=architecture,
                    aspect=aspect,
                )
            )
        self.blocks = nn.ModuleList(blocks)
        self.num_ws = sum(b.num_conv for b in blocks) + blocks[-1].num_torgb

    def forward(self, ws: Tensor, *, noise_mode: str = "random") -> Tensor:
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, not {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(
                f"synthesis expects ws of shape (N, {self.num_ws}, {self.w_dim}), "
                f"got {tuple(ws.shape)}"
            )
        # Auto (None): grouped conv for inference, activation scaling while training,
        # where its backward pass is several times faster (stylegan2-ada does the same).
        fused = (not self.training) if self.fused_modconv is None else bool(self.fused_modconv)
        x = img = None
        idx = 0
        for block in self.blocks:
            k = block.num_conv + block.num_torgb
            x, img = block(x, img, ws[:, idx : idx + k], noise_mode=noise_mode, fused=fused)
            idx += block.num_conv
        assert img is not None
        return img


# ----------------------------------------------------------------------------------------
# Generator


class StyleGANGenerator(Generator):
    """StyleGAN2 generator: z (N, z_dim) -> images (N, C, H, W), roughly in [-1, 1].

    Args:
        z_dim: latent size.
        out_shape: (img_channels, H, W), H and W powers of two >= 8 (the aspect is then
            a power of two; the network is the square one at min(H, W), widened).
        w_dim: size of W.
        mapping_layers: depth of the mapping network.
        channel_base, channel_max: width at resolution r is ``min(channel_base // r, channel_max)``.
        architecture: ``"skip"`` (default) or ``"resnet"`` output.
        mixing_prob: probability of style-mixing regularisation per training batch.
        fused_modconv: grouped-conv (True) or activation-scaling (False) modulation;
            None (default) uses grouped conv in eval mode and activation scaling in
            training mode. Both compute the same function.
        w_avg_beta: decay of the tracked mean of W.
    """

    def __init__(
        self,
        z_dim: int,
        out_shape: tuple[int, ...],
        *,
        w_dim: int = 128,
        mapping_layers: int = 4,
        channel_base: int = 2048,
        channel_max: int = 64,
        architecture: str = "skip",
        mixing_prob: float = 0.9,
        fused_modconv: bool | None = None,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__(z_dim, out_shape)
        check_image_shape(out_shape)
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, not {architecture!r}")
        if not 0.0 <= mixing_prob <= 1.0:
            raise ValueError(f"mixing_prob must be in [0, 1], got {mixing_prob}")
        c, h, w = out_shape
        r = min(h, w)
        self.w_dim, self.img_channels, self.img_resolution = w_dim, c, r
        self.mixing_prob = float(mixing_prob)
        self.synthesis_net = SynthesisNetwork(
            w_dim,
            r,
            c,
            channel_base=channel_base,
            channel_max=channel_max,
            architecture=architecture,
            fused_modconv=fused_modconv,
            aspect=(h // r, w // r),
        )
        self.mapping_net = MappingNetwork(
            z_dim, w_dim, self.synthesis_net.num_ws, mapping_layers, w_avg_beta=w_avg_beta
        )

    @property
    def num_ws(self) -> int:
        """Number of style inputs of the synthesis network (``2*log2(R) - 2``, R the shorter
        side)."""
        return self.synthesis_net.num_ws

    @property
    def w_avg(self) -> Tensor:
        """Tracked mean of W, (w_dim,)."""
        return self.mapping_net.w_avg

    def mapping(
        self,
        z: Tensor,
        *,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_w_avg: bool = True,
    ) -> Tensor:
        """z (N, z_dim) -> ws (N, num_ws, w_dim); see :class:`MappingNetwork`."""
        return self.mapping_net(
            z,
            truncation_psi=truncation_psi,
            truncation_cutoff=truncation_cutoff,
            update_w_avg=update_w_avg,
        )

    def synthesis(self, ws: Tensor, *, noise_mode: str = "random") -> Tensor:
        """ws (N, num_ws, w_dim) -> images (N, C, H, W)."""
        return self.synthesis_net(ws, noise_mode=noise_mode)

    def training_ws(
        self, z: Tensor, *, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> Tensor:
        """ws for ``z``, with style-mixing regularisation applied in training mode.

        With probability ``mixing_prob`` (per batch, as in stylegan2-ada) a second latent
        is drawn and its ws replace ``ws[:, cutoff:]`` for a random ``cutoff`` in
        ``[1, num_ws)``; this stops the network from assuming adjacent styles are
        correlated (StyleGAN section 3.1). The second mapping does not update ``w_avg``.
        """
        ws = self.mapping(z, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        if self.training and self.mixing_prob > 0 and self.num_ws > 1:
            # Drawn on the CPU (global RNG), so no device sync is needed for the branch.
            if float(torch.rand([])) < self.mixing_prob:
                cutoff = int(torch.randint(1, self.num_ws, []))
                ws2 = self.mapping(
                    torch.randn_like(z),
                    truncation_psi=truncation_psi,
                    truncation_cutoff=truncation_cutoff,
                    update_w_avg=False,
                )
                ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
        return ws

    def forward(
        self,
        z: Tensor,
        *,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "random",
    ) -> Tensor:
        """z (N, z_dim) -> images (N, C, R, R), unclamped, roughly in [-1, 1].

        In training mode this also updates ``w_avg`` and applies style mixing with
        probability ``mixing_prob`` (see :meth:`training_ws`).
        """
        ws = self.training_ws(z, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)

    def style_mix(
        self,
        z_a: Tensor,
        z_b: Tensor,
        crossover_layer: int,
        *,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
    ) -> Tensor:
        """Images whose first ``crossover_layer`` styles come from ``z_a``, the rest from ``z_b``.

        ``crossover_layer = 0`` reproduces ``z_b``'s image, ``num_ws`` reproduces ``z_a``'s.
        Low crossovers take coarse attributes (pose, shape) from ``z_a``; high ones only
        its fine details (colour, texture). Does not update ``w_avg``.

        Args:
            z_a, z_b: (N, z_dim) latents (or (1, z_dim), broadcast).
            crossover_layer: in ``[0, num_ws]``.

        Returns:
            (N, C, R, R) images.
        """
        if not 0 <= crossover_layer <= self.num_ws:
            raise ValueError(
                f"crossover_layer must be in [0, {self.num_ws}], got {crossover_layer}"
            )
        kw = dict(
            truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff, update_w_avg=False
        )
        wa, wb = self.mapping(z_a, **kw), self.mapping(z_b, **kw)
        wa, wb = torch.broadcast_tensors(wa, wb)
        ws = torch.cat([wa[:, :crossover_layer], wb[:, crossover_layer:]], dim=1)
        return self.synthesis(ws, noise_mode=noise_mode)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        seed: int | None = None,
        batch_size: int = 256,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
    ) -> Tensor:
        """Generate ``n`` images (n, C, R, R) on the CPU, raw (unclamped) output.

        Uses ``noise_mode="const"`` by default (as stylegan2-ada's ``generate.py``), so a
        seed always gives the same images. Does not update ``w_avg`` or mix styles, even
        in training mode.
        """
        z = self.make_z(n, seed=seed)
        outs = []
        for i in range(0, n, batch_size):
            zi = z[i : i + batch_size].to(self.device)
            ws = self.mapping(
                zi,
                truncation_psi=truncation_psi,
                truncation_cutoff=truncation_cutoff,
                update_w_avg=False,
            )
            outs.append(self.synthesis(ws, noise_mode=noise_mode).float().cpu())
        return torch.cat(outs) if outs else torch.empty(0, *self.out_shape)


# ----------------------------------------------------------------------------------------
# Discriminator


def minibatch_stddev(x: Tensor, group_size: int = 4, num_channels: int = 1) -> Tensor:
    """Append the std. deviation over groups of samples as extra feature maps.

    Gives D a cheap view of batch diversity so it can detect mode collapse (ProGAN
    section 3). The group size is the largest divisor of N not above ``group_size``,
    so odd batch sizes work.

    Args:
        x: (N, C, H, W) with C divisible by ``num_channels``.

    Returns:
        (N, C + num_channels, H, W).
    """
    n, c, h, w = x.shape
    g = next(d for d in range(min(group_size, n), 0, -1) if n % d == 0)
    f = num_channels
    y = x.float().reshape(g, -1, f, c // f, h, w)  # sample i is in group i % (N/g)
    y = y - y.mean(dim=0)
    y = (y.square().mean(dim=0) + 1e-8).sqrt()  # (N/g, F, c, H, W)
    y = y.mean(dim=(2, 3, 4)).reshape(-1, f, 1, 1)  # (N/g, F, 1, 1)
    y = y.repeat(g, 1, h, w).to(x.dtype)
    return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    """Residual D block at one resolution: conv 3x3, conv 3x3 down 2, 1x1 skip down 2."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, activation="lrelu")
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, activation="lrelu", down=2)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in, H, W) -> (N, out, H/2, W/2)."""
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


class StyleGANDiscriminator(nn.Module):
    """StyleGAN2 residual discriminator: images (N, C, H, W) -> logits (N,).

    Blocks halve both sides down to ``4 x 4`` times the aspect (``4 x 8`` for 2:1), where
    minibatch stddev, a 3x3 conv and the fully connected layer (``c4 * 4*4 * aspect``
    inputs) end it.

    Args:
        in_shape: (img_channels, H, W), H and W powers of two >= 8.
        channel_base, channel_max: widths as in the generator.
        mbstd_group_size: samples per minibatch-stddev group.
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        *,
        channel_base: int = 2048,
        channel_max: int = 64,
        mbstd_group_size: int = 4,
    ) -> None:
        super().__init__()
        check_image_shape(in_shape)
        c, h, w = in_shape
        r = min(h, w)
        self.in_shape = tuple(in_shape)
        self.mbstd_group_size = mbstd_group_size
        chans = channels_per_resolution(r, channel_base, channel_max)
        self.fromrgb = EqualConv2d(c, chans[r], 1, activation="lrelu")
        res = sorted(chans, reverse=True)[:-1]  # R, R/2, ..., 8
        self.blocks = nn.ModuleList(DiscriminatorBlock(chans[q], chans[q // 2]) for q in res)
        c4 = chans[4]
        self.conv = EqualConv2d(c4 + 1, c4, 3, activation="lrelu")
        self.fc = EqualLinear(c4 * 16 * (h // r) * (w // r), c4, activation="lrelu")
        self.out = EqualLinear(c4, 1)

    def forward(self, img: Tensor) -> Tensor:
        """(N, C, H, W) -> logits (N,)."""
        if img.shape[1:] != self.in_shape:
            raise ValueError(
                f"StyleGAN D expects images of shape (N, {', '.join(map(str, self.in_shape))}), "
                f"got {tuple(img.shape)}"
            )
        x = self.fromrgb(img)
        for block in self.blocks:
            x = block(x)
        x = minibatch_stddev(x, self.mbstd_group_size)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        return self.out(x).flatten()


# ----------------------------------------------------------------------------------------
# Builder


def check_image_shape(shape: tuple[int, ...]) -> None:
    """Raise a ValueError that says how to fix ``shape`` unless it is (C, H, W) with H and
    W powers of two >= 8 (so square, or a power-of-two aspect such as 64x128)."""
    if len(shape) != 3:
        raise ValueError(f"the 'stylegan' model generates images (C, H, W), not shape {shape}")
    c, h, w = shape
    if min(h, w) < 8 or h & (h - 1) or w & (w - 1):
        raise ValueError(
            f"StyleGAN needs images whose sides are powers of two >= 8 (32x32, 64x64, 64x128 "
            f"...; the aspect a power of two), got {h}x{w} (height x width); set "
            "data.resolution (the height) to 32 (e.g. for 28x28 MNIST) or 64, and data.width "
            "to 0 (square) or a power of two"
        )
    if c < 1:
        raise ValueError(f"StyleGAN needs at least one image channel, got {c}")


@MODELS.register("stylegan")
def build_stylegan(
    *,
    z_dim: int,
    out_shape: tuple[int, ...],
    w_dim: int = 128,
    mapping_layers: int = 4,
    channel_base: int = 2048,
    channel_max: int = 64,
    architecture: str = "skip",
    mixing_prob: float = 0.9,
    fused_modconv: bool | None = None,
    mbstd_group_size: int = 4,
) -> tuple[StyleGANGenerator, StyleGANDiscriminator]:
    """StyleGAN2 (Karras et al. 2020): mapping + modulated synthesis G, residual D."""
    check_image_shape(tuple(out_shape))
    G = StyleGANGenerator(
        z_dim,
        tuple(out_shape),
        w_dim=w_dim,
        mapping_layers=mapping_layers,
        channel_base=channel_base,
        channel_max=channel_max,
        architecture=architecture,
        mixing_prob=mixing_prob,
        fused_modconv=fused_modconv,
    )
    D = StyleGANDiscriminator(
        tuple(out_shape),
        channel_base=channel_base,
        channel_max=channel_max,
        mbstd_group_size=mbstd_group_size,
    )
    return G, D
