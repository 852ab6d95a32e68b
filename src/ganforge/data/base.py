"""The in-memory data set every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class TensorData:
    """A whole data set held as one tensor (small sets are batched by indexing).

    Attributes:
        x: images (N, C, H, W) float32 in [-1, 1], or points (N, D) float32.
        y: class labels (N,) int64, or None.
        name: where the data came from (built-in name or path).
        num_classes: number of classes when ``y`` is given, else 0.
        skipped: files that could not be decoded, ``(path, reason)`` pairs.
        class_names: the classes' names where the source has them (an image folder's
            sub-folders), in label order; empty otherwise.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    name: str = ""
    num_classes: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"{self.name}: {len(self.x)} items but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.x)

    @property
    def item_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4
