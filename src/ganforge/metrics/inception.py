"""The FID Inception-v3 network (TensorFlow's 2015-12-05 graph, as ported by pytorch-fid).

FID numbers are only comparable across papers when features come from this exact
network: the Inception-v3 of ``inception-2015-12-05.tgz`` that TTUR's original FID code
used. It differs from torchvision's ImageNet Inception-v3 in four blocks, which we
reproduce (after pytorch-fid, github.com/mseitzer/pytorch-fid, ``inception.py``):

* ``Mixed_5b/5c/5d`` (InceptionA) and ``Mixed_6b..6e`` (InceptionC): the pooling branch
  averages with ``count_include_pad=False`` (TensorFlow ignores padded zeros);
* ``Mixed_7b`` (InceptionE): the same average pooling fix;
* ``Mixed_7c`` (InceptionE): the pooling branch is a **max** pool;
* the classifier has 1,008 outputs (TensorFlow's label map), no auxiliary head.

Input handling is pytorch-fid's: images are resized to 299x299 with bilinear
interpolation (``align_corners=False``, no antialiasing) and fed in [-1, 1]; grayscale
images are repeated to 3 channels. Features are the 2,048-d global average pool.

Weights: we do not download anything. Point ``--inception-weights PATH`` or the
environment variable ``GANFORGE_INCEPTION_WEIGHTS`` at pytorch-fid's file
``pt_inception-2015-12-05-6726825d.pth``; parameter names match it exactly (they are
torchvision's ``Inception3`` names). It is read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FIDInceptionV3",
    "load_inception",
    "resolve_inception_weights",
    "find_inception_weights",
    "INCEPTION_ENV",
    "INCEPTION_URL",
    "FEATURE_DIM",
]

INCEPTION_ENV = "GANFORGE_INCEPTION_WEIGHTS"
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + INCEPTION_FILE
)
FEATURE_DIM = 2048
NUM_CLASSES = 1008


class BasicConv2d(nn.Module):
    """Conv (no bias) + BatchNorm (eps 1e-3) + ReLU; names ``conv``/``bn`` as torchvision."""

    def __init__(self, cin: int, cout: int, **kw: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's 3x3 'SAME' average pool divides by the number of real (unpadded) pixels.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    """InceptionA (35x35) with TensorFlow's average pooling."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35x35 -> 17x17 (unchanged from torchvision)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionC(nn.Module):
    """InceptionC (17x17, factorised 7x7) with TensorFlow's average pooling."""

    def __init__(self, cin: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            bd = layer(bd)
        bd = self.branch7x7dbl_5(bd)
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    """Grid reduction 17x17 -> 8x8 (unchanged from torchvision)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class FIDInceptionE(nn.Module):
    """InceptionE (8x8, expanded filter bank); ``pool`` is ``"avg"`` (7b) or ``"max"`` (7c)."""

    def __init__(self, cin: int, pool: str) -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.pool == "max":
            # The FID graph max-pools here (likely a bug in the original TF graph, which
            # every FID implementation must keep to stay comparable).
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _tf_avg_pool(x)
        return torch.cat([b1, b3, bd, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 of the FID reference implementations.

    Shape:
        (N, C, H, W) in [-1, 1], C in {1, 3}, any H, W (resized to 299x299) ->
        :meth:`forward` gives pool features (N, 2048); :meth:`features_and_logits` also
        gives the 1,008 class logits (for the Inception Score).
    """

    def __init__(self, resize: bool = True) -> None:
        super().__init__()
        self.resize = resize
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE(1280, pool="avg")
        self.Mixed_7c = FIDInceptionE(2048, pool="max")
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] -> network input (N, 3, 299, 299) in [-1, 1].

        pytorch-fid resizes images in [0, 1] then maps to [-1, 1]; bilinear resizing is
        affine-equivariant (its weights sum to 1), so resizing in [-1, 1] is the same.
        """
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ValueError(f"inception_fid takes 1- or 3-channel images, got {x.shape[1]}")
        if self.resize and tuple(x.shape[-2:]) != (299, 299):
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return x

    def pool_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
            self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
            self.Mixed_7c,
        ):  # fmt: skip
            x = block(x)
        return x.mean(dim=(2, 3))  # adaptive average pool to 1x1 -> (N, 2048)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pool features (N, 2048), logits (N, 1008))``."""
        h = self.pool_features(x)
        return h, self.fc(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool_features(x)


def find_inception_weights() -> Path | None:
    """The weights file if one is at hand (``$GANFORGE_INCEPTION_WEIGHTS``), else None;
    never downloads."""
    chosen = os.environ.get(INCEPTION_ENV)
    if chosen and Path(chosen).expanduser().is_file():
        return Path(chosen).expanduser()
    return None


def resolve_inception_weights(path: str | os.PathLike[str] | None = None) -> Path:
    """The weights file: ``path``, else ``$GANFORGE_INCEPTION_WEIGHTS``; clear error if absent."""
    chosen = path or os.environ.get(INCEPTION_ENV)
    hint = (
        f"download {INCEPTION_URL} (pytorch-fid's port of the TensorFlow FID Inception, "
        f"~92 MB) on a machine with internet access, then pass --inception-weights "
        f"PATH or set {INCEPTION_ENV}=PATH"
    )
    if not chosen:
        raise FileNotFoundError(f"inception_fid needs the FID Inception weights: {hint}")
    p = Path(chosen).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"FID Inception weights not found at {p}: {hint}")
    return p


def load_inception(path: str | os.PathLike[str] | None = None) -> FIDInceptionV3:
    """Build :class:`FIDInceptionV3` and load pytorch-fid's state dict, eval mode.

    Args:
        path: ``pt_inception-2015-12-05-6726825d.pth`` (or a state dict with the same
            names); default ``$GANFORGE_INCEPTION_WEIGHTS``.

    Raises:
        FileNotFoundError: no file given or found (the message says where to get it).
        ValueError: the file is not a state dict of this architecture.
    """
    p = resolve_inception_weights(path)
    try:
        sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for corrupt or unsafe files
        raise ValueError(f"cannot read FID Inception weights {p}: {e}") from e
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise ValueError(f"{p}: expected a state dict (name -> tensor), got {type(sd).__name__}")
    model = FIDInceptionV3()
    # Old checkpoints (such as the 2019 pytorch-fid file) may lack BatchNorm's
    # num_batches_tracked buffers, which play no role in eval mode.
    for name, buf in model.state_dict().items():
        if name.endswith("num_batches_tracked") and name not in sd:
            sd[name] = torch.zeros_like(buf)
    # The pytorch-fid file may carry torchvision's auxiliary head; it is unused for FID.
    sd = {k: v for k, v in sd.items() if not k.startswith("AuxLogits.")}
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise ValueError(
            f"{p} does not match the FID Inception-v3 architecture (expected pytorch-fid's "
            f"{INCEPTION_FILE}): {str(e).splitlines()[0]} ..."
        ) from e
    return model.eval().requires_grad_(False)
