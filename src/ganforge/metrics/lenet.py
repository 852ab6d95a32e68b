"""LeNet-5 on 28x28 digits: the feature extractor and classifier of the mnist protocols.

The architecture is LeNet-5 (LeCun et al. 1998) with ReLU and max pooling:
conv5x5(6, pad 2)-pool-conv5x5(16)-pool-fc120-fc84-fc10, 61,706 parameters (~240 KB
in float32). ``scripts/train_lenet.py`` trains it deterministically on mnist5k with
1,000 digits (100 per class) held out; the weights ship as
``ganforge/weights/lenet_mnist.safetensors`` with the held-out accuracy in their
metadata. Features for FID/KID/PR/DC are the 84-d penultimate activations (after ReLU,
what the last layer sees); logits feed the Inception Score and class coverage.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LeNet", "load_lenet", "lenet_metadata", "WEIGHTS_PATH", "FEATURE_DIM"]

WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "weights" / "lenet_mnist.safetensors"
FEATURE_DIM = 84


class LeNet(nn.Module):
    """LeNet-5 with ReLU.

    Shape:
        (N, 1, 28, 28) in [-1, 1] -> logits (N, 10); :meth:`features` gives (N, 84).
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, FEATURE_DIM)
        self.fc3 = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (N, 84) of images (N, 1, 28, 28) in [-1, 1]."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return F.relu(self.fc2(x))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features (N, 84), logits (N, 10))`` in one pass."""
        h = self.features(x)
        return h, self.fc3(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.features(x))


def _check_weights_file(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(
            f"LeNet weights not found at {path}; they ship with ganforge "
            "(reinstall it, or regenerate them with `python scripts/train_lenet.py`)"
        )


@lru_cache(maxsize=4)
def _load_state(path: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = dict(f.metadata() or {})
        sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
    return sd, meta


def load_lenet(path: str | Path | None = None) -> LeNet:
    """The trained LeNet in eval mode, gradients off.

    Args:
        path: a ``.safetensors`` state dict; default the shipped ``lenet_mnist``.
    """
    p = Path(path) if path is not None else WEIGHTS_PATH
    _check_weights_file(p)
    sd, _ = _load_state(str(p))
    model = LeNet()
    model.load_state_dict(sd, strict=True)
    return model.eval().requires_grad_(False)


def lenet_metadata(path: str | Path | None = None) -> dict[str, object]:
    """Metadata stored with the weights (held-out accuracy, training recipe) + sha256."""
    p = Path(path) if path is not None else WEIGHTS_PATH
    _check_weights_file(p)
    _, meta = _load_state(str(p))
    out: dict[str, object] = {}
    for k, v in meta.items():
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    out["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
