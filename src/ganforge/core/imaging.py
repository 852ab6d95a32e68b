"""Pictures people look at: image grids (PIL) and scatter plots of 2-D samples (matplotlib)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image


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


def save_scatter(
    points: torch.Tensor,
    path: str | Path,
    *,
    reference: torch.Tensor | None = None,
    title: str = "",
) -> Path:
    """Scatter plot PNG of (N, 2) samples, with optional reference points (e.g. mode centres)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = points.detach().float().cpu().numpy()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4, color="tab:blue", label="generated")
    if reference is not None:
        ref = reference.detach().float().cpu().numpy()
        ax.scatter(ref[:, 0], ref[:, 1], s=30, marker="x", color="tab:red", label="modes")
        # below the axes, so it never hides a mode in a corner
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2, fontsize=8)
    ax.set_aspect("equal")
    ax.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
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
