"""Data: built-in sets, image folders and array files, all loaded as :class:`TensorData`.

``load_data(cfg)`` resolves ``cfg.spec``: a registered built-in name first (``mnist5k``,
``stacked_mnist``, ``ring8``, ``grid25``, ``tones``, ``words``), then a path (folder of images,
``.npz``/``.npy``, MNIST IDX, CIFAR-10 python batch — :mod:`ganforge.data.files`; a folder of
WAV files — :mod:`ganforge.data.audio`; a UTF-8 text file — :mod:`ganforge.data.text`).
Errors about a spec or a file are :class:`DataError` (a ``ValueError``) and say how to fix them.
"""

from __future__ import annotations

from ganforge.core.config import DataConfig
from ganforge.core.registry import DATASETS
from ganforge.data import audio, builtin, text  # noqa: F401  (registers built-in sets)
from ganforge.data.base import TensorData
from ganforge.data.builtin import grid25_centers, ring8_centers, sample_mixture
from ganforge.data.files import DataError, SkippedFilesWarning, load_path


def load_data(cfg: DataConfig) -> TensorData:
    """Load the data set named or pointed to by ``cfg.spec`` into memory.

    Returns:
        TensorData: images (N, C, H, W) float32 in [-1, 1], or points (N, D) float32.
    """
    if cfg.spec in DATASETS:
        return DATASETS.get(cfg.spec)(cfg)
    from pathlib import Path

    from ganforge.data.audio import is_audio_folder, load_audio_folder
    from ganforge.data.text import is_text_file, load_text_file

    path = Path(cfg.spec).expanduser()
    if cfg.spec.strip() and is_audio_folder(path):  # a folder of WAV files, no images
        return load_audio_folder(path, cfg)
    if cfg.spec.strip() and is_text_file(path):  # .txt / .text
        return load_text_file(path, cfg)
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
