"""Data: built-in sets, image folders and array files, all loaded as :class:`TensorData`.

``load_data(cfg)`` resolves ``cfg.spec``: a registered built-in name first, then a path
(folder of images, ``.npz``/``.npy``, MNIST IDX, CIFAR-10 python batch).
"""

from __future__ import annotations

from ganforge.config import DataConfig
from ganforge.data import builtin  # noqa: F401  (registers built-in sets)
from ganforge.data.base import TensorData
from ganforge.data.builtin import grid25_centers, ring8_centers, sample_mixture
from ganforge.registry import DATASETS


def load_data(cfg: DataConfig) -> TensorData:
    """Load the data set named or pointed to by ``cfg.spec`` into memory."""
    if cfg.spec in DATASETS:
        return DATASETS.get(cfg.spec)(cfg)
    from ganforge.data.files import load_path

    return load_path(cfg)


__all__ = ["TensorData", "load_data", "ring8_centers", "grid25_centers", "sample_mixture"]
