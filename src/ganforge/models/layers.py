"""Layers shared by model families: minibatch standard deviation, PacGAN packing and
spectral normalisation.

References:
    * Karras et al. 2018, "Progressive Growing of GANs" section 3 (minibatch stddev), in
      the grouped form of StyleGAN2 (Karras et al. 2020, ``MinibatchStdLayer``).
    * Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in generative
      adversarial networks" (packing).
    * Miyato, Kataoka, Koyama & Yoshida 2018, "Spectral Normalization for Generative
      Adversarial Networks" (:func:`apply_spectral_norm`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

Tensor = torch.Tensor

__all__ = ["MinibatchStdDev", "PacDiscriminator", "apply_spectral_norm", "pack"]


class MinibatchStdDev(nn.Module):
    """Append the batch's standard deviation as extra feature maps.

    The batch is split into groups of ``group_size`` samples (sample ``i`` belongs to
    group ``i % (N / group_size)``, as in StyleGAN2) and the channels into
    ``num_features`` slices; for each group and slice the per-position standard deviation
    over the group is averaged to a single number, which becomes a constant feature map
    for every member of the group. D can then see a lack of variety in a batch, which
    discourages mode collapse.

    Input (N, C, H, W) -> output (N, C + num_features, H, W). Feature vectors (N, C) are
    accepted too -> (N, C + num_features).

    Args:
        group_size: samples per group; the actual group is ``min(group_size, N)`` and, in
            training mode, ``N`` must be divisible by it. In eval mode the group is the
            largest divisor of ``N`` not above it, so any batch can be scored.
        num_features: channel slices (StyleGAN2 uses 1); ``C`` must be divisible by it.
    """

    def __init__(self, group_size: int = 4, num_features: int = 1) -> None:
        super().__init__()
        if group_size < 1 or num_features < 1:
            raise ValueError("MinibatchStdDev needs group_size >= 1 and num_features >= 1")
        self.group_size = group_size
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        flat = x.dim() == 2
        if flat:
            x = x[:, :, None, None]
        if x.dim() != 4:
            raise ValueError(f"MinibatchStdDev expects (N, C, H, W) or (N, C), got {x.shape}")
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if not self.training:  # scoring any number of samples (e.g. rejection sampling)
            g = next(d for d in range(g, 0, -1) if n % d == 0)
        f = self.num_features
        if n % g != 0:
            raise ValueError(
                f"MinibatchStdDev: batch size {n} is not divisible by group size {g}; "
                "use a batch size that is a multiple of the group size"
            )
        if c % f != 0:
            raise ValueError(f"MinibatchStdDev: {c} channels not divisible by {f} features")
        y = x.float().reshape(g, n // g, f, c // f, h, w)
        y = y - y.mean(dim=0)
        # eps inside the sqrt keeps the gradient finite when a group is identical.
        y = (y.square().mean(dim=0) + 1e-8).sqrt()  # (n/g, f, c/f, h, w)
        y = y.mean(dim=(2, 3, 4))  # (n/g, f)
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w).to(x.dtype)  # (n, f, h, w)
        out = torch.cat([x, y], dim=1)
        return out[:, :, 0, 0] if flat else out

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_features={self.num_features}"


def pack(x: Tensor, pac: int) -> Tensor:
    """Concatenate each run of ``pac`` consecutive samples along the first feature axis.

    (N, C, *rest) -> (N / pac, pac * C, *rest); samples ``k*pac .. k*pac + pac - 1`` form
    packed item ``k``. For images that is channel concatenation, for points (N, F)
    feature concatenation, as in PacGAN.
    """
    n = x.shape[0]
    if n % pac != 0:
        raise ValueError(
            f"PacGAN: batch size {n} is not divisible by pac={pac}; "
            "choose batch_size as a multiple of pac"
        )
    return x.reshape(n // pac, pac * x.shape[1], *x.shape[2:])


class PacDiscriminator(nn.Module):
    """PacGAN wrapper: D judges ``pac`` samples at once (Lin et al. 2018).

    The inner discriminator is built for the packed item shape
    ``(pac * C, *rest)``; this module packs batches (see :func:`pack`) and returns one
    logit per pack. Real and fake batches are packed separately, so a pack is all-real
    or all-fake; the batch size must be divisible by ``pac``. Losses average over the
    (N / pac,) logits unchanged.

    Args:
        make_d: ``make_d(packed_shape) -> nn.Module`` mapping (M, *packed_shape) to
            logits (M,) or (M, 1).
        item_shape: shape of one unpacked sample, e.g. (1, 28, 28) or (2,).
        pac: samples per pack (PacGAN2 = 2, PacGAN4 = 4); 1 means no packing.

    Shapes:
        input (N, *item_shape) -> logits (N / pac,).
    """

    def __init__(
        self, make_d: Callable[[tuple[int, ...]], nn.Module], item_shape: tuple[int, ...], pac: int
    ) -> None:
        super().__init__()
        if pac < 1:
            raise ValueError(f"PacGAN: pac must be >= 1, got {pac}")
        self.pac = int(pac)
        self.item_shape = tuple(item_shape)
        self.packed_shape = (self.pac * self.item_shape[0], *self.item_shape[1:])
        self.inner = make_d(self.packed_shape)

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.item_shape:
            raise ValueError(
                f"PacDiscriminator expects (N, {', '.join(map(str, self.item_shape))}), "
                f"got {tuple(x.shape)}"
            )
        return self.inner(pack(x, self.pac)).reshape(-1)

    def extra_repr(self) -> str:
        return f"pac={self.pac}, item_shape={self.item_shape}"


SN_TYPES: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


def apply_spectral_norm(
    module: nn.Module, *, n_power_iterations: int = 1, eps: float = 1e-12
) -> nn.Module:
    """Wrap every Linear/Conv/ConvTranspose weight in ``module`` with spectral normalisation.

    Uses ``torch.nn.utils.parametrizations.spectral_norm`` (Miyato et al. 2018): the weight
    is divided by an estimate of its largest singular value, refined by
    ``n_power_iterations`` power-iteration steps at every training-mode forward pass. For
    convolutions the normalised matrix is the weight reshaped to (out, in*k*k), as in the
    paper. Layers that already carry a parametrization on ``weight`` are left alone, so
    calling this twice is safe.

    Apply it before loading a state dict or building the optimizer: the weight's
    state-dict key becomes ``parametrizations.weight.original`` and the singular vectors
    ``..._u``/``..._v`` are buffers saved with the model.

    Args:
        module: the network, modified in place (usually D).
        n_power_iterations: power iterations per forward pass (1 in the paper).
        eps: numerical floor for the normalisation.

    Returns:
        ``module`` itself.
    """
    for m in list(module.modules()):
        if isinstance(m, SN_TYPES) and getattr(m, "weight", None) is not None:
            if parametrize.is_parametrized(m, "weight"):
                continue
            spectral_norm(m, n_power_iterations=n_power_iterations, eps=eps)
    return module
