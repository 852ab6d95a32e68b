"""Conversions from stored pixels to the library's float (N, C, H, W) in [-1, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Resizing holds a float copy of a chunk at both sizes; 1,024 images keeps that under
# ~100 MB even at 128x128 RGB, while the whole set (e.g. 50,000 CIFAR images) never is.
_RESIZE_CHUNK = 1024


def to_model_range(
    images: torch.Tensor, resolution: int = 0, channels: int = 0, width: int = 0
) -> torch.Tensor:
    """uint8 (N, C, H, W) in [0, 255] -> float32 (N, C', R, W') in [-1, 1].

    Args:
        images: uint8 (N, C, H, W) in [0, 255], or float (N, C, H, W) already in [0, 1];
            C is 1, 3 or 4 (RGBA is composited on white, see :func:`convert_channels`).
            The input is never modified.
        resolution: output height R (centre crop to the output's aspect, then bilinear
            resize with antialiasing); 0 keeps the input size.
        channels: 1 or 3 to convert (luma / replicate), 0 keeps the input's.
        width: output width W' (0: square, W' = R).

    Returns:
        float32 (N, C', R, W') in [-1, 1].
    """
    if images.dtype == torch.uint8:
        x = images.to(torch.float32).div_(255.0)  # new tensor, so in-place is safe
    else:
        x = images.to(torch.float32, copy=True)
    x = convert_channels(x, channels)
    size = (resolution, width or resolution)
    if resolution and tuple(x.shape[-2:]) != size:
        x = center_crop_aspect(x, *size)
        x = torch.cat(
            [
                F.interpolate(
                    part,
                    size=size,
                    mode="bilinear",
                    antialias=True,
                    align_corners=False,
                ).clamp_(0, 1)
                for part in x.split(_RESIZE_CHUNK)
            ]
        )
    return x.mul_(2).sub_(1)


def composite_on_white(x: torch.Tensor) -> torch.Tensor:
    """(N, 4, H, W) RGBA in [0, 1] -> (N, 3, H, W) RGB, transparent pixels become white.

    White, not black, because transparent regions of sprites, icons and logos are meant
    to show the page behind them, which is white; dropping alpha instead would expose
    whatever colour the encoder left under transparent pixels (often black or garbage).
    """
    rgb, alpha = x[:, :3], x[:, 3:4]
    return rgb * alpha + (1 - alpha)


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, C, H, W) float in [0, 1] with C in {1, 3, 4} -> (N, channels, H, W); 0 keeps C
    (except that 4 channels, RGBA, always become RGB composited on white)."""
    c = x.shape[1]
    if c == 4:
        x, c = composite_on_white(x), 3
    if not channels or channels == c:
        return x
    if channels == 1 and c == 3:  # ITU-R 601 luma, as PIL's "L" conversion
        w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True)
    if channels == 3 and c == 1:
        return x.expand(-1, 3, -1, -1).contiguous()
    raise ValueError(f"cannot convert {c} channels to {channels}; use 1 or 3")


def crop_box(h: int, w: int, out_h: int, out_w: int) -> tuple[int, int, int, int]:
    """``(top, left, height, width)`` of the largest centred box of ``out_h:out_w`` aspect
    inside an ``h x w`` image (so the resize to ``out_h x out_w`` does not distort)."""
    if h * out_w > w * out_h:  # too tall: keep the width
        ch, cw = max(1, round(w * out_h / out_w)), w
    else:
        ch, cw = h, max(1, round(h * out_w / out_h))
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def center_crop_aspect(x: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """(..., H, W) -> the centred crop with the aspect of ``out_h x out_w`` (a view)."""
    top, left, ch, cw = crop_box(*x.shape[-2:], out_h, out_w)
    return x[..., top : top + ch, left : left + cw]


def center_crop_square(x: torch.Tensor) -> torch.Tensor:
    """(..., H, W) -> (..., S, S) with S = min(H, W), cut from the centre (a view)."""
    h, w = x.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return x[..., top : top + s, left : left + s]
