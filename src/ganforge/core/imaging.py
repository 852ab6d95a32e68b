"""Pictures people look at: image grids and scatter plots of 2-D samples (numpy and PIL),
spectrogram grids (matplotlib's colour maps)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C), rounding to nearest."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one uint8 (H', W', C) array, ``nrow`` per row."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    ncol = int(math.ceil(n / nrow))
    arr = to_uint8(images)
    grid = np.full(
        (ncol * (h + padding) + padding, nrow * (w + padding) + padding, c), 255, dtype=np.uint8
    )
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = arr[i]
    return grid


def _atomic_save(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        img.save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_image(image: torch.Tensor, path: str | Path) -> Path:
    """Write one (C, H, W) image in [-1, 1] as a PNG of its own size, atomically."""
    arr = to_uint8(image[None])[0]
    path = Path(path)
    _atomic_save(Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr), path)
    return path


def save_grid(
    images: torch.Tensor, path: str | Path, nrow: int | None = None, scale: int = 0
) -> Path:
    """Write a PNG grid of (N, C, H, W) images in [-1, 1]; small images are upscaled
    (nearest) so that a 28x28 grid is readable, unless ``scale`` is given."""
    grid = make_grid(images, nrow)
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    if scale == 0:
        scale = max(1, 256 // max(*images.shape[-2:], 1) // 2)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    path = Path(path)
    _atomic_save(img, path)
    return path


_BLUE, _RED = (31, 119, 180), (214, 39, 40)  # matplotlib's tab:blue and tab:red


def _nice_step(span: float, target: int = 5) -> float:
    """The smallest tick spacing of 1, 2, 2.5 or 5 times a power of ten giving at most ``target``
    ticks over ``span``."""
    raw = span / max(target, 1)
    power = 10.0 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * power >= raw:
            return m * power
    return 10.0 * power


def render_scatter(
    points: np.ndarray,
    reference: np.ndarray | None = None,
    title: str = "",
    size: int = 400,
) -> Image.Image:
    """A scatter plot of (N, 2) points, equal axes, with (K, 2) ``reference`` points drawn as
    red crosses and a legend below, ``size`` pixels square — drawn with numpy and PIL in
    ~20 ms (a matplotlib figure took ~0.2 s, plus 0.9 s to import matplotlib, paid several
    times by a one-minute 2-D run)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ref = None if reference is None else np.asarray(reference, dtype=np.float64).reshape(-1, 2)
    every = pts if ref is None else np.concatenate([pts, ref])
    every = every[np.isfinite(every).all(1)]
    if len(every) == 0:
        every = np.zeros((1, 2))
    lo, hi = every.min(0), every.max(0)
    half = max(float((hi - lo).max()) / 2 * 1.08, 1e-6)  # equal axes, 4% margin a side
    centre = (lo + hi) / 2
    x0, y0 = centre - half
    font = ImageFont.load_default(size=12)
    left, top, bottom = 50, 28 if title else 12, 58
    width, height = left + size + 14, top + size + bottom
    scale = size / (2 * half)

    def to_px(xy: np.ndarray) -> np.ndarray:
        return np.stack([left + (xy[:, 0] - x0) * scale, top + size - (xy[:, 1] - y0) * scale], 1)

    # points: 3x3 px dots at alpha 0.4; k dots on a pixel blend like k layers
    canvas = np.full((height, width, 3), 255.0)
    good = pts[np.isfinite(pts).all(1)]
    px = np.floor(to_px(good)).astype(np.int64)
    counts = np.zeros((height, width))
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            x, y = px[:, 0] + dx, px[:, 1] + dy
            inside = (x >= left) & (x < left + size) & (y >= top) & (y < top + size)
            np.add.at(counts, (y[inside], x[inside]), 1)
    keep = (1.0 - 0.4) ** counts[..., None]
    canvas = canvas * keep + np.array(_BLUE) * (1.0 - keep)
    img = Image.fromarray(canvas.round().astype(np.uint8))
    draw = ImageDraw.Draw(img)

    def cross(cx: float, cy: float, r: float = 4.5) -> None:
        draw.line([(cx - r, cy - r), (cx + r, cy + r)], fill=_RED, width=2)
        draw.line([(cx - r, cy + r), (cx + r, cy - r)], fill=_RED, width=2)

    if ref is not None:
        for cx, cy in to_px(ref[np.isfinite(ref).all(1)]):
            cross(cx, cy)
    draw.rectangle([left, top, left + size, top + size], outline=(0, 0, 0), width=1)
    step = _nice_step(2 * half)
    decimals = next((d for d in range(7) if abs(round(step, d) - step) < 1e-9 * step), 6)
    for axis in (0, 1):
        first = math.ceil((centre[axis] - half) / step)
        last = math.floor((centre[axis] + half) / step)
        for k in range(first, last + 1):
            v = k * step
            label = f"{v + 0.0:.{decimals}f}"  # + 0.0: no "-0.0"
            if axis == 0:
                x = left + (v - x0) * scale
                draw.line([(x, top + size), (x, top + size + 4)], fill=(0, 0, 0))
                draw.text((x, top + size + 6), label, fill=(0, 0, 0), font=font, anchor="ma")
            else:
                y = top + size - (v - y0) * scale
                draw.line([(left - 4, y), (left, y)], fill=(0, 0, 0))
                draw.text((left - 6, y), label, fill=(0, 0, 0), font=font, anchor="rm")
    if title:
        draw.text((left + size / 2, top - 8), title, fill=(0, 0, 0), font=font, anchor="md")
    if ref is not None:  # legend below the axes, where it never hides a mode
        ly, lx = top + size + 34, left + size / 2 - 70
        draw.rectangle([lx - 8, ly - 9, lx + 148, ly + 9], outline=(200, 200, 200))
        draw.rectangle([lx - 1, ly - 1, lx + 1, ly + 1], fill=_BLUE)
        draw.text((lx + 10, ly), "generated", fill=(0, 0, 0), font=font, anchor="lm")
        cross(lx + 86, ly, 4)
        draw.text((lx + 96, ly), "modes", fill=(0, 0, 0), font=font, anchor="lm")
    return img


def save_scatter(
    points: torch.Tensor,
    path: str | Path,
    *,
    reference: torch.Tensor | None = None,
    title: str = "",
) -> Path:
    """Scatter plot PNG of (N, 2) samples, with optional reference points (e.g. mode
    centres), written atomically (:func:`render_scatter`)."""
    pts = points.detach().float().cpu().numpy()
    ref = None if reference is None else reference.detach().float().cpu().numpy()
    path = Path(path)
    _atomic_save(render_scatter(pts, ref, title), path)
    return path


def save_samples(
    samples: torch.Tensor,
    path: str | Path,
    *,
    title: str = "",
    reference: torch.Tensor | None = None,
) -> Path:
    """Images (N, C, H, W) -> grid; 2-D points (N, 2) -> scatter plot, with the data's mode
    centres ``reference`` (K, 2) marked when given."""
    if samples.dim() == 4:
        return save_grid(samples, path)
    return save_scatter(samples, path, reference=reference, title=title)


def spectrogram(x: np.ndarray, n_fft: int) -> np.ndarray:
    """Log-magnitude STFT of a mono clip (T,): (n_fft // 2 + 1, frames) in dB, where a
    full-scale sine reads about 0 dB (Hann window, hop n_fft / 4)."""
    hop = n_fft // 4
    pad = np.pad(np.asarray(x, dtype=np.float64), (n_fft // 2, n_fft // 2))
    n_frames = 1 + (len(pad) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    win = np.hanning(n_fft)
    mag = np.abs(np.fft.rfft(pad[idx] * win, axis=1)).T / (win.sum() / 2)
    return 20 * np.log10(np.maximum(mag, 1e-5))


def save_spectrogram_grid(
    clips: np.ndarray, path: str | Path, sample_rate: int, floor_db: float = -80.0
) -> Path:
    """Save a grid (4 per row) of spectrograms of mono clips (N, T) as a PNG (magma
    colours, low frequencies at the bottom, ``floor_db`` .. 0 dB)."""
    from matplotlib import colormaps

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    T = clips.shape[1]
    n_fft = int(2 ** max(6, round(math.log2(max(T, 64) / 32))))  # 4096 -> 128, 16384 -> 512
    specs = [spectrogram(c, n_fft)[::-1] for c in clips]
    h, w = specs[0].shape
    cols = min(4, len(specs))
    rows = math.ceil(len(specs) / cols)
    pad = 2
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), dtype=np.uint8) * 255
    cmap = colormaps["magma"]
    for i, s in enumerate(specs):
        v = np.clip((s - floor_db) / -floor_db, 0, 1)
        rgb = (cmap(v)[..., :3] * 255).astype(np.uint8)
        r, c = divmod(i, cols)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) :][:, :w] = rgb
    img = Image.fromarray(canvas)
    scale = max(1, 256 // max(h, w))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    _atomic_save(img, path)
    return path
