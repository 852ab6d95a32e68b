"""Conversions from stored pixels to the library's float (N, C, H, W) in [-1, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_model_range(images: torch.Tensor, resolution: int = 0, channels: int = 0) -> torch.Tensor:
    """uint8 (N, C, H, W) in [0, 255] -> float32 (N, C', R, R) in [-1, 1].

    Args:
        images: uint8 or float tensor; floats are assumed to already be in [0, 1].
        resolution: square output side (bilinear resize with antialiasing, after a centre
            crop to square); 0 keeps the input size.
        channels: 1 or 3 to convert (luma / replicate), 0 keeps the input's.
    """
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    x = convert_channels(x, channels)
    if resolution and (x.shape[-1] != resolution or x.shape[-2] != resolution):
        x = center_crop_square(x)
        x = F.interpolate(
            x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
        ).clamp(0, 1)
    return x * 2 - 1


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, C, H, W) with C in {1, 3, 4} -> (N, channels, H, W); 0 keeps C."""
    c = x.shape[1]
    if c == 4:  # drop alpha; callers that need compositing do it on decode
        x, c = x[:, :3], 3
    if not channels or channels == c:
        return x
    if channels == 1 and c == 3:  # ITU-R 601 luma, as PIL's "L" conversion
        w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True)
    if channels == 3 and c == 1:
        return x.expand(-1, 3, -1, -1).contiguous()
    raise ValueError(f"cannot convert {c} channels to {channels}; use 1 or 3")


def center_crop_square(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return x[..., top : top + s, left : left + s]
