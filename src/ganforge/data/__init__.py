"""Data: built-in sets, image folders and array files, all loaded as :class:`TensorData`.

``load_data(cfg)`` resolves ``cfg.spec``: a registered built-in name first (``mnist5k``,
``stacked_mnist``, ``ring8``, ``grid25``), then a path (folder of images, ``.npz``/``.npy``,
MNIST IDX, CIFAR-10 python batch; see :mod:`ganforge.data.files`). Errors about a spec or
a file are :class:`DataError` (a ``ValueError``) and say how to fix them.
"""

from __future__ import annotations

from ganforge.config import DataConfig
from ganforge.data import builtin  # noqa: F401  (registers built-in sets)
from ganforge.data.base import TensorData
from ganforge.data.builtin import grid25_centers, ring8_centers, sample_mixture
from ganforge.data.files import DataError, SkippedFilesWarning, load_path
from ganforge.registry import DATASETS


def load_data(cfg: DataConfig) -> TensorData:
    """Load the data set named or pointed to by ``cfg.spec`` into memory.

    Returns:
        TensorData: images (N, C, H, W) float32 in [-1, 1], or points (N, D) float32.
    """
    if cfg.spec in DATASETS:
        return DATASETS.get(cfg.spec)(cfg)
    return load_path(cfg)


__all__ = [
    "DataError",
    "SkippedFilesWarning",
    "TensorData",
    "load_data",
    "load_path",
    "ring8_centers",
    "grid25_centers",
    "sample_mixture",
]
