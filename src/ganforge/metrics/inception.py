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

Two input protocols (``prepare``; features are the 2,048-d global average pool either way;
grayscale images are repeated to 3 channels):

* ``clean`` (default, clean-fid's "clean" mode, Parmar et al., CVPR 2022): images are
  quantised to uint8 as a PNG would store them, then each channel is resized to 299x299
  with PIL's bicubic filter on the float image (``Image.resize``, antialiased when
  downscaling), clipped to [0, 255] and mapped to [-1, 1] as pytorch-fid does
  (``x / 127.5 - 1``). Generated and real images thus go through exactly what a saved
  image would, and resizing does not alias (:func:`clean_resize`).
* ``pytorchfid`` (legacy, pytorch-fid and most papers before 2022): float images resized
  with ``torch.nn.functional.interpolate`` bilinear (``align_corners=False``, no
  antialiasing) in [-1, 1].

Weights: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (parameter names are
torchvision's ``Inception3`` names; read with ``torch.load(weights_only=True)``). Found,
in order: ``--inception-weights FILE`` / the ``path`` argument;
``$GANFORGE_INCEPTION_WEIGHTS``; the user cache (``$GANFORGE_CACHE/weights/``, default
``~/.cache/ganforge``); else fetched once into the cache from :data:`INCEPTION_URL`
(``$GANFORGE_INCEPTION_URL`` overrides it, e.g. a mirror), checked against the pinned
sha256 :data:`INCEPTION_SHA256` (``$GANFORGE_INCEPTION_SHA256`` for a mirror's own file).
With ``GANFORGE_OFFLINE=1`` nothing is fetched and the error says what to download and
where to put it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ganforge.core.cache import DownloadError, cache_dir, download, file_sha256, offline
from ganforge.core.imaging import to_uint8

__all__ = [
    "FIDInceptionV3",
    "load_inception",
    "resolve_inception_weights",
    "find_inception_weights",
    "inception_weights_obtainable",
    "inception_cache_path",
    "weights_sha256",
    "clean_resize",
    "RESIZE_PROTOCOLS",
    "INCEPTION_ENV",
    "INCEPTION_URL",
    "INCEPTION_SHA256",
    "FEATURE_DIM",
]

INCEPTION_ENV = "GANFORGE_INCEPTION_WEIGHTS"
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + INCEPTION_FILE
)
#: sha256 of pytorch-fid's file (its name carries the first 8 hex digits).
INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
INCEPTION_URL_ENV = "GANFORGE_INCEPTION_URL"
INCEPTION_SHA256_ENV = "GANFORGE_INCEPTION_SHA256"
#: The file is about 92 MB; anything far larger is not it (a wrong URL's HTML error page
#: is caught by the hash, an endless or huge body by this bound).
INCEPTION_MAX_BYTES = 150_000_000
FEATURE_DIM = 2048
NUM_CLASSES = 1008
SIZE = 299
#: Input protocols: name -> what the resize does (recorded with every score).
RESIZE_PROTOCOLS = {
    "clean": "uint8, then PIL bicubic per channel to 299x299 (clean-fid 'clean')",
    "pytorchfid": "float, torch bilinear (align_corners=False, no antialias) to 299x299 "
    "(pytorch-fid)",
}


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

    Args:
        resize: resize inputs to 299x299 (off: the caller feeds 299x299 already).
        protocol: ``"clean"`` (uint8 + PIL bicubic, clean-fid) or ``"pytorchfid"``
            (torch bilinear on floats); see the module docstring.

    Shape:
        (N, C, H, W) in [-1, 1], C in {1, 3}, any H, W (resized to 299x299, whatever the
        aspect: both protocols stretch, as clean-fid and pytorch-fid do) ->
        :meth:`forward` gives pool features (N, 2048); :meth:`features_and_logits` also
        gives the 1,008 class logits (for the Inception Score).
    """

    def __init__(self, resize: bool = True, protocol: str = "clean") -> None:
        super().__init__()
        if protocol not in RESIZE_PROTOCOLS:
            raise ValueError(
                f"protocol must be one of {', '.join(RESIZE_PROTOCOLS)}, got {protocol!r}"
            )
        self.resize = resize
        self.protocol = protocol
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
        """Images (N, C, H, W) in [-1, 1] -> network input (N, 3, 299, 299) in [-1, 1],
        by ``self.protocol`` (see the module docstring).

        pytorch-fid resizes images in [0, 1] then maps to [-1, 1]; bilinear resizing is
        affine-equivariant (its weights sum to 1), so resizing in [-1, 1] is the same.
        """
        if x.shape[1] not in (1, 3):
            raise ValueError(f"inception_fid takes 1- or 3-channel images, got {x.shape[1]}")
        if self.resize and self.protocol == "clean":
            return clean_resize(x).to(x.device)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.resize and tuple(x.shape[-2:]) != (SIZE, SIZE):
            x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
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


def clean_resize(x: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """clean-fid's "clean" resize: (N, C, H, W) in [-1, 1], C in {1, 3} -> float32
    (N, 3, size, size) in [-1, 1] on the CPU.

    Each image is quantised to uint8 exactly as :func:`ganforge.core.imaging.save_image`
    writes it (so generated images are scored as their PNGs would be), grey is repeated
    to RGB, and every channel is resized as a float ("F") PIL image with the bicubic
    filter — PIL widens the filter when downscaling, so small details do not alias — and
    clipped to [0, 255], without quantising again (as clean-fid).
    """
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"clean_resize takes images (N, 1|3, H, W), got {tuple(x.shape)}")
    arr = to_uint8(x)  # (N, H, W, C) uint8
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.shape[1:3] == (size, size):
        out = arr.astype(np.float32)  # PIL returns a same-size resize unchanged
    else:
        out = np.empty((len(arr), size, size, 3), dtype=np.float32)
        for i, img in enumerate(arr):
            for c in range(3):
                # A 2-D float32 array becomes an "F" image; never through uint8 again.
                chan = Image.fromarray(np.ascontiguousarray(img[..., c], dtype=np.float32))
                out[i, ..., c] = np.asarray(chan.resize((size, size), Image.Resampling.BICUBIC))
        np.clip(out, 0, 255, out=out)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous() / 127.5 - 1


def _url() -> str:
    return os.environ.get(INCEPTION_URL_ENV) or INCEPTION_URL


def _expected_sha256() -> str:
    return (os.environ.get(INCEPTION_SHA256_ENV) or INCEPTION_SHA256).lower()


def inception_cache_path() -> Path:
    """Where the fetched file lives: ``<cache>/weights/pt_inception-2015-12-05-<sha8>.pth``
    (pytorch-fid's own name for the pinned hash)."""
    return cache_dir() / "weights" / f"pt_inception-2015-12-05-{_expected_sha256()[:8]}.pth"


def find_inception_weights() -> Path | None:
    """The weights file if one is at hand — ``$GANFORGE_INCEPTION_WEIGHTS``, else the
    cached download — or None; never downloads."""
    chosen = os.environ.get(INCEPTION_ENV)
    if chosen and Path(chosen).expanduser().is_file():
        return Path(chosen).expanduser()
    cached = inception_cache_path()
    return cached if cached.is_file() else None


def inception_weights_obtainable() -> bool:
    """True when the weights are at hand or may be fetched (``GANFORGE_OFFLINE`` unset)."""
    return find_inception_weights() is not None or not offline()


def _what_to_do() -> str:
    return (
        f"download {_url()} (pytorch-fid's port of TensorFlow's 2015 FID Inception, about 92 MB, "
        f"sha256 {_expected_sha256()}) on a machine with internet access and put it at "
        f"{inception_cache_path()} (found there automatically), or pass "
        f"--inception-weights FILE (or set {INCEPTION_ENV}=FILE)"
    )


def resolve_inception_weights(
    path: str | os.PathLike[str] | None = None, *, progress: bool = True
) -> Path:
    """The weights file: ``path``, else ``$GANFORGE_INCEPTION_WEIGHTS``, else the cache,
    else fetched into the cache (see the module docstring).

    Raises:
        FileNotFoundError: a given file is missing, or the weights are not cached and
            cannot be fetched (offline, no network, hash mismatch); the message says
            what to download, from where, where to put it and which flag takes it.
    """
    chosen = path or os.environ.get(INCEPTION_ENV)
    if chosen:
        p = Path(chosen).expanduser()
        if not p.is_file():
            source = "--inception-weights" if path else INCEPTION_ENV
            raise FileNotFoundError(
                f"FID Inception weights not found at {p} (from {source}): {_what_to_do()}"
            )
        return p
    cached = inception_cache_path()
    if cached.is_file():
        return cached
    if offline():
        raise FileNotFoundError(
            f"inception_fid needs the FID Inception weights ({INCEPTION_FILE}) and "
            f"GANFORGE_OFFLINE is set, so they are not fetched: {_what_to_do()}"
        )
    try:
        return download(
            _url(), cached, sha256=_expected_sha256(), max_bytes=INCEPTION_MAX_BYTES,
            progress=progress,
        )  # fmt: skip
    except DownloadError as e:
        raise FileNotFoundError(
            f"inception_fid needs the FID Inception weights ({INCEPTION_FILE}): {e}. "
            f"To fix: {_what_to_do()}"
        ) from e


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def weights_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a weights file, hashed once per process and file version (path, size,
    mtime): scores record it, and the features cache is keyed by it."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _SHA_MEMO:
        _SHA_MEMO[key] = file_sha256(p)
    return _SHA_MEMO[key]


def load_inception(
    path: str | os.PathLike[str] | None = None, *, protocol: str = "clean"
) -> FIDInceptionV3:
    """Build :class:`FIDInceptionV3` and load pytorch-fid's state dict, eval mode.

    Args:
        path: ``pt_inception-2015-12-05-6726825d.pth`` (or a state dict with the same
            names); default: :func:`resolve_inception_weights` (environment, cache, fetch).
        protocol: input resize, ``"clean"`` or ``"pytorchfid"`` (module docstring).

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
    model = FIDInceptionV3(protocol=protocol)
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
