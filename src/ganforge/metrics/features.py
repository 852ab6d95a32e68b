"""One feature pipeline for every metric: extractors, batched extraction, on-disk cache.

Extractors (``ganforge.core.registry.EXTRACTORS``) map images in [-1, 1] to features and,
when they are classifiers, class logits:

============================  =====  ======  ==========================================
name                          dim    logits  preprocessing
============================  =====  ======  ==========================================
``lenet_mnist``               84     10      luma, 28x28 (bilinear, antialiased)
``inception_fid``             2048   1008    uint8, RGB, 299x299 PIL bicubic (clean-fid)
``inception_fid_pytorchfid``  2048   1008    RGB, 299x299 torch bilinear (pytorch-fid)
``randconv_proxy``            518    --      RGB, 64x64 (bilinear, antialiased)
``raw``                       C*H*W  --      none: flattened pixels (or points)
============================  =====  ======  ==========================================

Any ``nn.Module`` mapping (N, ...) to (N, D) is accepted too (:class:`ModuleExtractor`).
Non-square images are resized (stretched) to each extractor's square input, as
clean-fid and pytorch-fid do. Every extractor's :meth:`Extractor.describe` (weights
sha256 or what stands in for it, and the resize) goes into each score's protocol.

Sources are a :class:`~ganforge.models.base.Generator` (sampled in batches from a seed),
a tensor/array of images or points, a :class:`~ganforge.data.base.TensorData`, or a data
spec (built-in name, folder, array file) loaded with :func:`ganforge.data.load_data`.

Real-data features are cached on disk (``$GANFORGE_CACHE``, default
``~/.cache/ganforge``) under a sha256 of the data spec and its preprocessing, the
extractor (with a hash of its weights), the sample count and the subset seed, so the
second evaluation against the same data is fast. User modules are never cached: we
cannot tell when their weights change.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.core.cache import cache_dir as core_cache_dir
from ganforge.core.cache import file_sha256
from ganforge.core.registry import EXTRACTORS

__all__ = [
    "Extractor",
    "ModuleExtractor",
    "FeatureSet",
    "get_extractor",
    "extract",
    "extract_real",
    "cache_dir",
    "CACHE_VERSION",
]

CACHE_VERSION = 1  # bump when the pipeline changes what a cached file would contain


class Extractor(nn.Module):
    """Base class: ``forward(x)`` returns ``(features (N, D), logits (N, K) or None)``.

    Attributes:
        name: registry name (goes into every result's protocol).
        dim: feature size D.
        num_classes: K when the extractor is a classifier, else 0.
        identity: string that changes whenever the features would (weights hash,
            preprocessing); part of the cache key. Empty = never cache.
        weights: sha256 of the weights file, or what the weights are ("random-init
            proxy", "none", "user module"); recorded with every score.
        resize: how images reach the network's input size; recorded with every score.
    """

    name: str = ""
    dim: int = 0
    num_classes: int = 0
    identity: str = ""
    weights: str = "none"
    resize: str = "none"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def describe(self) -> dict[str, str]:
        """``{"extractor", "weights", "resize"}`` for a score's protocol."""
        return {"extractor": self.name, "weights": self.weights, "resize": self.resize}


def to_gray28(x: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) in [-1, 1] -> (N, 1, 28, 28) as the LeNet expects.

    RGB is converted to luma (ITU-R BT.601 weights, as PIL's "L"); other sizes are
    resized bilinearly with antialiasing (downscaling without it aliases strokes).
    """
    if x.dim() != 4:
        raise ValueError(f"lenet_mnist takes images (N, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device)
        x = (x * w[None, :, None, None]).sum(1, keepdim=True)
    elif x.shape[1] != 1:
        raise ValueError(f"lenet_mnist takes 1- or 3-channel images, got {x.shape[1]}")
    if tuple(x.shape[-2:]) != (28, 28):
        x = F.interpolate(x, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
    return x


class LeNetExtractor(Extractor):
    """``lenet_mnist``: 84-d penultimate features and 10 digit logits."""

    name = "lenet_mnist"
    dim = 84
    num_classes = 10

    def __init__(self, weights: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        from ganforge.metrics.lenet import WEIGHTS_PATH, load_lenet

        path = Path(weights) if weights else WEIGHTS_PATH
        self.net = load_lenet(path)
        self.weights_path = path
        self.weights = file_sha256(path)
        self.identity = f"lenet_mnist:{self.weights[:16]}:gray28-bilinear-aa"
        self.resize = "luma, torch bilinear (antialiased) to 28x28"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.net.features_and_logits(to_gray28(x))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted digit (N,) int64 of images (N, C, H, W) in [-1, 1]."""
        return self.net(to_gray28(x)).argmax(1)


class InceptionExtractor(Extractor):
    """``inception_fid``: 2048-d pool features and 1008 logits of the FID Inception, with
    clean-fid's input protocol (uint8, PIL bicubic to 299x299).

    Args:
        weights: pytorch-fid's weights file; default: environment, cache, else fetched
            once into the cache (:func:`ganforge.metrics.inception.resolve_inception_weights`).
        model: a ready :class:`~ganforge.metrics.inception.FIDInceptionV3` instead (e.g.
            random weights for speed tests); its features are never cached.
    """

    name = "inception_fid"
    dim = 2048
    num_classes = 1008
    protocol = "clean"

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        *,
        model: nn.Module | None = None,
    ) -> None:
        super().__init__()
        from ganforge.metrics.inception import (
            RESIZE_PROTOCOLS,
            load_inception,
            resolve_inception_weights,
            weights_sha256,
        )

        self.resize = RESIZE_PROTOCOLS[self.protocol]
        if model is not None:
            model.protocol = self.protocol  # the extractor's name promises this resize
            self.net = model.eval().requires_grad_(False)
            self.identity = ""
            self.weights = "caller's model (not the FID weights unless loaded so)"
            return
        path = resolve_inception_weights(weights)
        self.net = load_inception(path, protocol=self.protocol)
        self.weights = weights_sha256(path)
        self.identity = f"inception_fid:{self.weights[:16]}:{self.protocol}299"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.net.features_and_logits(x)


class InceptionPytorchFidExtractor(InceptionExtractor):
    """``inception_fid_pytorchfid``: the FID Inception with pytorch-fid's (legacy) input
    protocol — float images, torch bilinear resize without antialiasing."""

    name = "inception_fid_pytorchfid"
    protocol = "pytorchfid"


class RandomConvExtractor(Extractor):
    """``randconv_proxy``: features of a fixed, randomly initialised conv net plus colour
    statistics — a photo metric that needs no download.

    Random convolutional features keep much of an image's texture and layout statistics
    (the observation behind "random network" baselines for perceptual and distribution
    metrics); with per-channel colour means and deviations on top they tell collapsed or
    noisy samples from data. They are **not** Inception features: FID/KID numbers in this
    space (``fid*_randconv``, ``kid*_randconv``) are comparable only with each other, never
    with published FID.

    Input (N, C, H, W) in [-1, 1], any size; grey is repeated to RGB; resized to 64x64
    (bilinear, antialiased). Features: 4 stride-2 3x3 convs (32, 64, 128, 256 channels,
    leaky ReLU, Kaiming init from seed 0), the last map's channel means and deviations
    (512) and the image's per-channel mean and deviation (6): 518-d.
    """

    name = "randconv_proxy"
    dim = 518
    identity = "randconv_proxy:v1:seed0:64px"
    weights = "random-init proxy (seed 0)"
    resize = "torch bilinear (antialiased) to 64x64"

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        layers: list[nn.Module] = []
        c = 3
        for width in (32, 64, 128, 256):
            conv = nn.Conv2d(c, width, 3, 2, 1)
            with torch.no_grad():
                fan_in = c * 9
                conv.weight.copy_(
                    torch.randn(conv.weight.shape, generator=gen) * (2 / fan_in) ** 0.5
                )
                conv.bias.zero_()
            layers += [conv, nn.LeakyReLU(0.2)]
            c = width
        self.net = nn.Sequential(*layers).eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = x.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (64, 64):
            x = F.interpolate(
                x, size=(64, 64), mode="bilinear", antialias=True, align_corners=False
            )
        h = self.net(x)
        colour = torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], 1)
        return torch.cat([h.mean(dim=(2, 3)), h.std(dim=(2, 3)), colour], 1), None


class RawExtractor(Extractor):
    """``raw``: flattened pixels or points, no network."""

    name = "raw"
    identity = "raw"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return x.reshape(len(x), -1), None


class ModuleExtractor(Extractor):
    """Wraps a user ``nn.Module``: its (flattened) output is the feature vector."""

    def __init__(self, module: nn.Module, name: str | None = None) -> None:
        super().__init__()
        self.net = module.eval()
        self.name = name or f"module:{type(module).__name__}"
        self.identity = ""  # unknown weights: never cached
        self.weights = "user module"
        self.resize = "user module"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = self.net(x)
        return out.reshape(len(out), -1), None


EXTRACTORS.register("lenet_mnist", help="LeNet-5 on mnist5k: 84-d features, 10 logits")(
    LeNetExtractor
)
EXTRACTORS.register(
    "inception_fid",
    help="FID Inception-v3, clean-fid resize (uint8, PIL bicubic): 2048-d, 1008 logits",
)(InceptionExtractor)
EXTRACTORS.register(
    "inception_fid_pytorchfid",
    help="FID Inception-v3, pytorch-fid's legacy resize (float, torch bilinear)",
)(InceptionPytorchFidExtractor)
EXTRACTORS.register("raw", help="flattened pixels or points (no network)")(RawExtractor)
EXTRACTORS.register(
    "randconv_proxy",
    help="fixed random conv net + colour statistics: a photo proxy, not comparable with FID",
)(RandomConvExtractor)


def get_extractor(spec: str | nn.Module, **kwargs: Any) -> Extractor:
    """An :class:`Extractor` from a registry name or any ``nn.Module``.

    Args:
        spec: ``"lenet_mnist"``, ``"inception_fid"``, ``"inception_fid_pytorchfid"``,
            ``"randconv_proxy"``, ``"raw"``, an :class:`Extractor`,
            or an ``nn.Module`` mapping inputs to (N, D) features.
        **kwargs: builder arguments, e.g. ``weights=PATH`` for the ``inception_fid*``.
    """
    if isinstance(spec, Extractor):
        return spec
    if isinstance(spec, nn.Module):
        return ModuleExtractor(spec)
    return EXTRACTORS.get(spec)(**kwargs)


@dataclass
class FeatureSet:
    """Features of one source: ``features`` (N, D) float32, ``logits`` (N, K) or None,
    ``labels`` (N,) predicted or given classes or None, and what produced them."""

    features: torch.Tensor
    logits: torch.Tensor | None
    extractor: str
    source: str
    cached: bool = False

    def __len__(self) -> int:
        return len(self.features)


def _progress(it: Iterator[torch.Tensor], total: int, desc: str, show: bool) -> Any:
    if not show:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)


def subset_indices(total: int, n: int, seed: int = 0) -> torch.Tensor | None:
    """Seeded random subset of ``n`` of ``total`` items (sorted), or None for all."""
    if n >= total:
        return None
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=gen)[:n].sort().values


def iter_batches(
    source: Any, n: int | None, batch_size: int, seed: int = 0
) -> tuple[Iterator[torch.Tensor], int, str]:
    """Batches (B, ...) of a source, how many items in all, and a description.

    Args:
        source: Generator, :class:`~ganforge.sampling.policy.Sampler`, tensor/array,
            TensorData or data spec (see module docstring).
        n: number of items (None = all of a finite source; required for generators and
            samplers).
        batch_size: items per batch.
        seed: generator latents / subset draw.
    """
    from ganforge.models.base import Generator
    from ganforge.sampling.policy import GeneratorSampler, Sampler

    if isinstance(source, GeneratorSampler):
        source = source.G
    if isinstance(source, (Generator, Sampler)) and not n:
        raise ValueError("sampling a generator needs n, the number of samples")
    if isinstance(source, Generator):
        return _generator_batches(source, n, batch_size, seed), n, "generator"
    if isinstance(source, Sampler):  # a D-driven sampler draws all n at once
        x = source.sample(n, seed=seed)
        return iter(x.split(batch_size)), n, source.describe()["name"]
    x, desc = _as_tensor(source)
    if n is not None and n > len(x):
        # A metric's protocol fixes n; silently using fewer would misname the number.
        raise ValueError(
            f"{desc} holds {len(x)} items but {n} were asked for; pass a smaller n "
            f"(or use a metric whose protocol fits the data)"
        )
    idx = subset_indices(len(x), n, seed) if n is not None else None
    if idx is not None:
        x = x[idx]
    return iter(x.split(batch_size)), len(x), desc


def _as_tensor(source: Any) -> tuple[torch.Tensor, str]:
    from ganforge.data.base import TensorData

    if isinstance(source, TensorData):
        return source.x, source.name or "data"
    if isinstance(source, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(source)).float(), "array"
    if isinstance(source, torch.Tensor):
        return source.detach().float().cpu(), "tensor"
    if isinstance(source, (str, os.PathLike)):
        from ganforge.core.config import DataConfig
        from ganforge.data import load_data

        data = load_data(DataConfig(spec=str(source), labels=False))
        return data.x, str(source)
    raise TypeError(
        f"cannot take features of a {type(source).__name__}: pass a Generator, a tensor or "
        "array, a TensorData, or a data spec (built-in name, folder, array file)"
    )


@torch.no_grad()
def _generator_batches(G: Any, n: int, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    from ganforge.models.base import Generator

    if type(G).sample is Generator.sample:
        # Same latents as G.sample(n, seed=seed), streamed: never holds n outputs at once.
        z = G.make_z(n, seed=seed)
        for i in range(0, n, batch_size):
            yield G(z[i : i + batch_size].to(G.device)).float().cpu()
    else:  # a family with its own sampling (truncation, conditioning): seed per batch
        for b, i in enumerate(range(0, n, batch_size)):
            yield G.sample(min(batch_size, n - i), seed=seed * 1_000_003 + b).float().cpu()


@torch.no_grad()
def extract(
    source: Any,
    extractor: str | nn.Module,
    *,
    n: int | None = None,
    batch_size: int = 250,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    desc: str = "features",
) -> FeatureSet:
    """Features (and logits) of ``n`` items of a source, in batches with a progress bar.

    Args:
        source: a Generator, (N, ...) tensor/array of images in [-1, 1] or points,
            TensorData, or a data spec string/path.
        extractor: registry name, :class:`Extractor` or ``nn.Module``.
        n: items to use; a finite source with more items uses a seeded random subset.
        batch_size: items per forward pass.
        seed: generator latents or subset draw.
        device: where the extractor runs.
        progress: show a tqdm bar over batches.

    Returns:
        A :class:`FeatureSet` with float32 CPU features (N, D).
    """
    ext = get_extractor(extractor).to(device)
    batches, total, what = iter_batches(source, n, batch_size, seed)
    feats, logits = [], []
    nb = -(-total // batch_size)
    for xb in _progress(batches, nb, f"{desc} ({ext.name})", progress):
        f, lg = ext(xb.to(device))
        feats.append(f.float().cpu())
        if lg is not None:
            logits.append(lg.float().cpu())
    if not feats:
        raise ValueError(f"{what}: no items to extract features from")
    return FeatureSet(torch.cat(feats), torch.cat(logits) if logits else None, ext.name, what)


def cache_dir() -> Path:
    """``$GANFORGE_CACHE`` or ``~/.cache/ganforge`` (:func:`ganforge.core.cache.cache_dir`)."""
    return core_cache_dir()


def _spec_fingerprint(spec: str) -> dict[str, Any]:
    """Identity of a data spec: a built-in name, or a path with its size and mtime(s)."""
    p = Path(spec).expanduser()
    if not p.exists():
        return {"spec": spec}
    if p.is_file():
        st = p.stat()
        return {"path": str(p.resolve()), "size": st.st_size, "mtime": int(st.st_mtime)}
    count, size, mtime = 0, 0, 0
    for root, _, files in os.walk(p):
        for name in files:
            st = os.stat(os.path.join(root, name))
            count, size, mtime = count + 1, size + st.st_size, max(mtime, int(st.st_mtime))
    return {"path": str(p.resolve()), "files": count, "size": size, "mtime": mtime}


def real_cache_key(data_cfg: Any, ext: Extractor, n: int | None, seed: int) -> str | None:
    """sha256 key of real features, or None when they must not be cached."""
    if not ext.identity:
        return None
    payload = {
        "version": CACHE_VERSION,
        "data": _spec_fingerprint(data_cfg.spec),
        "resolution": data_cfg.resolution,
        "channels": data_cfg.channels,
        "extractor": ext.identity,
        "n": n,
        "seed": seed,
    }
    if data_cfg.width:  # only then, so square data keep their keys
        payload["width"] = data_cfg.width
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def extract_real(
    data_cfg: Any,
    extractor: str | nn.Module,
    *,
    n: int | None = None,
    batch_size: int = 250,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    use_cache: bool = True,
) -> FeatureSet:
    """Features of a data set described by a :class:`~ganforge.core.config.DataConfig`, cached.

    The cache file is ``cache_dir()/features/<key>.npz`` (plain arrays, loaded with
    ``allow_pickle=False``), written atomically.
    """
    from ganforge.data import load_data

    ext = get_extractor(extractor)
    key = real_cache_key(data_cfg, ext, n, seed) if use_cache else None
    path = cache_dir() / "features" / f"{key}.npz" if key else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                feats = torch.from_numpy(z["features"])
                logits = torch.from_numpy(z["logits"]) if "logits" in z.files else None
            return FeatureSet(feats, logits, ext.name, data_cfg.spec, cached=True)
        except (OSError, ValueError, KeyError):
            pass  # unreadable (partial write by an old version...): recompute
    data = load_data(data_cfg)
    fs = extract(
        data, ext, n=n, batch_size=batch_size, seed=seed, device=device,
        progress=progress, desc="real",
    )  # fmt: skip
    fs.source = data_cfg.spec
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        arrays = {"features": fs.features.numpy()}
        if fs.logits is not None:
            arrays["logits"] = fs.logits.numpy()
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    return fs
