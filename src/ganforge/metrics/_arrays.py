"""Input conversion shared by the metric functions: arrays or tensors -> float64 tensors."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def as_features(x: Any, name: str = "features", min_n: int = 1) -> torch.Tensor:
    """Return ``x`` as a float64 CPU tensor of shape (N, D).

    Args:
        x: (N, D) numpy array or tensor (any float or int dtype); (N, ...) is flattened.
        name: what to call the argument in error messages.
        min_n: fewest samples accepted.
    """
    if isinstance(x, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        raise TypeError(f"{name}: expected an (N, D) array or tensor, got {type(x).__name__}")
    if t.dim() == 1:
        raise ValueError(
            f"{name}: expected (N, D) features, got a 1-D array of shape {tuple(t.shape)}"
        )
    t = t.reshape(len(t), -1).to("cpu", torch.float64)
    if len(t) < min_n:
        raise ValueError(f"{name}: need at least {min_n} samples, got {len(t)}")
    if not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).any(1).sum())
        raise ValueError(f"{name}: {bad} of {len(t)} samples contain NaN or inf")
    return t
