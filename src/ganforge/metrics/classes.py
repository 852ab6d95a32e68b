"""Class (mode) coverage through a classifier: MNIST digits and Stacked MNIST.

Stacked MNIST (Metz et al., "Unrolled GANs", 2017; VEEGAN; PacGAN) stacks three digits
as the R, G and B channels: 1,000 modes. A pretrained digit classifier labels each
channel separately and the mode is ``100 * r + 10 * g + b`` (the label convention of
``ganforge.data``'s ``stacked_mnist``). As in PacGAN's Table 2 we report:

* **modes captured**: classes predicted for at least one generated sample;
* **KL**: ``KL(p_gen || uniform) = sum_c p_c log(p_c K)`` of the predicted-class
  histogram against the uniform distribution over K classes (0 = perfectly balanced).

The classifier is the shipped LeNet (:mod:`ganforge.metrics.lenet`); its held-out
accuracy is in its weights file's metadata and in every result's protocol.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["class_coverage", "stacked_labels"]


def class_coverage(labels: Any, num_classes: int) -> dict[str, float]:
    """Modes captured and KL to uniform of predicted class labels.

    Args:
        labels: predicted classes (N,), integers in [0, num_classes).
        num_classes: K, the number of modes (10 digits, 1,000 for Stacked MNIST).

    Returns:
        ``{"modes_captured": classes seen, "kl": KL(histogram || uniform), "n": N,
        "modes": K}``.
    """
    y = torch.as_tensor(labels).reshape(-1).long()
    if len(y) == 0:
        raise ValueError("class_coverage needs at least one label")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got [{int(y.min())}, {int(y.max())}]"
        )
    counts = torch.bincount(y, minlength=num_classes).double()
    p = counts[counts > 0] / len(y)
    kl = float((p * (p * num_classes).log()).sum())
    return {
        "modes_captured": float((counts > 0).sum()),
        "kl": max(kl, 0.0),
        "n": float(len(y)),
        "modes": float(num_classes),
    }


def stacked_labels(classify: Any, images: torch.Tensor) -> torch.Tensor:
    """Stacked MNIST mode of each image: classify channels r, g, b separately.

    Args:
        classify: maps (N, 1, 28, 28) in [-1, 1] to predicted digits (N,) int64.
        images: (N, 3, 28, 28) in [-1, 1].

    Returns:
        (N,) int64 labels ``100 * r + 10 * g + b`` in [0, 1000).
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"Stacked MNIST images are (N, 3, H, W), got {tuple(images.shape)}")
    r, g, b = (classify(images[:, c : c + 1]) for c in range(3))
    return 100 * r + 10 * g + b
