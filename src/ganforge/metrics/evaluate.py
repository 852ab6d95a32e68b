"""Metrics by protocol name, registered in ``ganforge.core.registry.METRICS``, and ``evaluate``.

A metric name carries its protocol (stylegan2-ada's convention): ``fid5k_lenet`` is the
FID between 5,000 generated samples and (up to) 5,000 real ones, in the ``lenet_mnist``
feature space. Names follow ``{kind}{n}_{extractor}``:

=========  ==============================================  =============================
kind       metric                                          result keys
=========  ==============================================  =============================
``fid``    Fréchet distance (float64)                      ``NAME``
``kid``    KID, 100 subsets of 1,000, cubic kernel         ``NAME``, ``NAME_std``
``is``     Inception Score of the logits, 10 splits        ``NAME``, ``NAME_std``
``pr``     improved precision/recall, k = 3                ``NAME_precision``, ``NAME_recall``
``dc``     density/coverage, k = 5                         ``NAME_density``, ``NAME_coverage``
=========  ==============================================  =============================

``n`` is written ``1k``, ``5k``, ``10k``, ``50k`` ...; extractors are ``lenet``
(``lenet_mnist``), ``inception`` (``inception_fid``: clean-fid's protocol, uint8 images
resized with PIL bicubic), ``inception_pytorchfid`` (``inception_fid_pytorchfid``: the
same network with pytorch-fid's legacy bilinear resize of float images, for comparison
with older papers), ``randconv`` (``randconv_proxy``) and ``raw``. Any such name is
understood, the common ones are registered. Besides:

* ``modes2d``: VEEGAN/PacGAN mode coverage of ring8/grid25 from 2,500 samples
  (``modes2d_modes_captured``, ``modes2d_high_quality``, ``modes2d_reverse_kl``);
* ``classes_mnist`` (5,000 samples, 10 modes) and ``classes_stacked`` (26,000 samples,
  1,000 modes, PacGAN's protocol): modes captured and KL(p_gen || uniform) of the
  LeNet's predicted classes (``..._modes_captured``, ``..._kl``).

Short aliases pick the protocol from the data: ``fid``, ``kid``, ``is``, ``pr``, ``dc``
use ``lenet`` for 28x28 single-channel images and ``inception`` otherwise, with the
``n`` given to :func:`evaluate` (default 5,000); ``classes`` is ``classes_mnist`` or
``classes_stacked`` by channel count. A protocol name fixes its own ``n``: the ``n``
argument only applies to aliases.

The real side uses a seeded random subset of ``n`` items (all of them when the data
set is smaller; the count used is recorded as ``n_real``). Each score's protocol records
the extractor, its weights (sha256, or "random-init proxy" ...), the resize, the sample
counts and the sampler that drew the generated side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from ganforge.core.registry import METRICS, UnknownNameError

__all__ = ["Metric", "evaluate", "resolve_metric", "default_metrics", "format_n", "DEFAULT_N"]

DEFAULT_N = 5000
KINDS = ("fid", "kid", "is", "pr", "dc")
EXTRACTOR_SHORT = {
    "lenet": "lenet_mnist",
    "inception": "inception_fid",
    "inception_pytorchfid": "inception_fid_pytorchfid",
    "raw": "raw",
    "randconv": "randconv_proxy",
}
_NAME_RE = re.compile(
    r"^(fid|kid|is|pr|dc)(\d+(?:\.\d+)?)(k?)_"
    r"(lenet|inception|inception_pytorchfid|raw|randconv|custom)$"
)


def format_n(n: int) -> str:
    """5000 -> '5k', 2500 -> '2.5k', 50000 -> '50k', 123 -> '123'."""
    if n >= 1000 and n % 100 == 0:
        return f"{n / 1000:g}k"
    return str(n)


@dataclass(frozen=True)
class Metric:
    """One evaluation protocol. Calling it evaluates a source with this protocol only.

    Attributes:
        name: protocol name, the prefix of every result key.
        kind: ``fid``, ``kid``, ``is``, ``pr``, ``dc``, ``modes2d``, ``classes``.
        extractor: extractor registry name (None for ``modes2d``).
        n: generated samples; the real side uses up to as many.
        options: protocol constants recorded in the result (k, subsets, splits...).
    """

    name: str
    kind: str
    extractor: str | None
    n: int
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_real(self) -> bool:
        return self.kind in ("fid", "kid", "pr", "dc")

    def __call__(self, source: Any, real: Any = None, **kwargs: Any) -> dict[str, Any]:
        """Evaluate ``source`` (see :func:`evaluate`) with this protocol.

        Returns:
            The metric's values plus ``n_fake``, ``n_real`` and ``extractor``.
        """
        res = evaluate(source, [self.name], real=real, **kwargs)
        proto = res["protocol"]["metrics"][self.name]
        out = {k: v for k, v in res.items() if k != "protocol"}
        out.update(
            n_fake=float(proto["n_fake"]),
            n_real=float(proto.get("n_real", 0)),
            extractor=proto.get("extractor") or "",
        )
        return out


def _kind_options(kind: str) -> dict[str, Any]:
    return {
        "fid": {"dtype": "float64"},
        "kid": {"subsets": 100, "subset_size": 1000, "kernel": "(x.y/d+1)^3"},
        "is": {"splits": 10},
        "pr": {"k": 3, "ball": "<="},
        "dc": {"k": 5, "ball": "<="},
    }[kind]


def _protocol(kind: str, n: int, ext_short: str) -> Metric:
    name = f"{kind}{format_n(n)}_{ext_short}"
    return Metric(name, kind, EXTRACTOR_SHORT.get(ext_short, ext_short), n, _kind_options(kind))


def _register_defaults() -> None:
    helps = {
        "fid": "FID",
        "kid": "KID (100 subsets of 1,000)",
        "is": "Inception Score (10 splits)",
        "pr": "improved precision/recall, k=3",
        "dc": "density/coverage, k=5",
    }
    for ext_short, ns in (("lenet", (1000, 5000, 10000)), ("inception", (5000, 10000, 50000))):
        for n in ns:
            for kind in KINDS:
                m = _protocol(kind, n, ext_short)
                METRICS.add(m.name, m, help=f"{helps[kind]}, {n:,} samples, {m.extractor} features")
    METRICS.add(
        "modes2d",
        Metric("modes2d", "modes2d", None, 2500, {"hq": "< 3 std", "captured": ">= 1 HQ"}),
        help="ring8/grid25 modes captured, high-quality %, reverse KL (2,500, PacGAN)",
    )
    METRICS.add(
        "classes_mnist",
        Metric("classes_mnist", "classes", "lenet_mnist", 5000, {"modes": 10}),
        help="digit modes captured and KL to uniform through the LeNet (5,000 samples)",
    )
    METRICS.add(
        "classes_stacked",
        Metric("classes_stacked", "classes", "lenet_mnist", 26000, {"modes": 1000}),
        help="Stacked MNIST modes captured (of 1,000) and KL to uniform (26,000, PacGAN)",
    )


_register_defaults()
ALIASES = (*KINDS, "classes")


def resolve_metric(
    name: str, *, n: int | None = None, item_shape: tuple[int, ...] = (), custom: bool = False
) -> Metric:
    """The :class:`Metric` for a protocol name or a short alias.

    Args:
        name: ``fid5k_lenet``, ``modes2d``, ... or an alias (``fid``, ``kid``, ``is``,
            ``pr``, ``dc``, ``classes``).
        n: sample count for aliases (default 5,000).
        item_shape: shape of one generated item; aliases choose the extractor from it.
        custom: a user extractor is in use: aliases are named ``..._custom``.
    """
    if name in METRICS:
        return METRICS.get(name)
    m = _NAME_RE.match(name)
    if m:
        kind, num, k, ext_short = m.groups()
        count = int(round(float(num) * (1000 if k else 1)))
        return _protocol(kind, count, ext_short)
    if name in ALIASES:
        digits = tuple(item_shape) == (1, 28, 28)
        if name == "classes":
            stacked = len(item_shape) == 3 and item_shape[0] == 3
            return METRICS.get("classes_stacked" if stacked else "classes_mnist")
        ext_short = "custom" if custom else ("lenet" if digits else "inception")
        return _protocol(name, n or DEFAULT_N, ext_short)
    raise UnknownNameError(
        METRICS.unknown_message(name)
        + f". Also accepted: the aliases {', '.join(ALIASES)} and any "
        "{fid,kid,is,pr,dc}{N}_{lenet,inception,inception_pytorchfid,randconv,raw}"
    )


# ---------------------------------------------------------------------------------------
# Sources


def _is_run(path: Path) -> bool:
    if path.is_dir():
        return (path / "config.toml").is_file() or (path / "checkpoints").is_dir()
    return path.suffix in (".pt", ".pth") and path.is_file()


def _resolve_source(source: Any, sampler: str) -> tuple[Any, Any, str, dict[str, Any] | None]:
    """(fake source for the pipeline, default real DataConfig or None, description, the
    sampler's description or None for data)."""
    from ganforge.models.base import Generator
    from ganforge.sampling.policy import GeneratorSampler, Sampler, SamplerRequest, sampler_for

    if sampler not in ("run", "g"):
        raise ValueError(
            f"sampler must be 'run' (the run's [sample] policy) or 'g', got {sampler!r}"
        )
    if isinstance(source, Generator):
        source = GeneratorSampler(source)
    if isinstance(source, Sampler):
        cfg = source.G.config
        default = cfg.data if cfg is not None else None
        return source, default, type(source.G).__name__, source.describe()
    if isinstance(source, (str, Path)):
        p = Path(source)
        if isinstance(source, str) and source.startswith("zoo:") or _is_run(p):
            request = SamplerRequest(method="g" if sampler == "g" else None)
            drawn, note = sampler_for(source, request)
            info = drawn.describe() | ({"note": note} if note else {})
            cfg = drawn.G.config
            return drawn, (cfg.data if cfg is not None else None), str(source), info
        from ganforge.core.config import DataConfig
        from ganforge.data import load_data

        data = load_data(DataConfig(spec=str(source), labels=False))
        return data, None, str(source), None
    return source, None, type(source).__name__, None


def _item_shape(fake: Any) -> tuple[int, ...]:
    from ganforge.data.base import TensorData
    from ganforge.sampling.policy import Sampler

    if isinstance(fake, Sampler):
        return tuple(fake.G.out_shape)
    if isinstance(fake, TensorData):
        return tuple(fake.x.shape[1:])
    return tuple(getattr(fake, "shape", (0,))[1:])


def _finite_len(fake: Any) -> int | None:
    from ganforge.sampling.policy import Sampler

    return None if isinstance(fake, Sampler) else len(fake)


def _real_config(real: Any, default: Any, item_shape: tuple[int, ...]) -> Any:
    """A DataConfig (cacheable), or real data as given (tensor/array/TensorData), or None."""
    from ganforge.core.config import DataConfig

    if real is None:
        real = default
    if real is None:
        return None
    if isinstance(real, DataConfig):
        return replace(real, labels=False)
    if isinstance(real, (str, Path)):
        spec = str(real)
        if len(item_shape) == 3:  # images: load the real side at the generated size
            c, h, w = item_shape
            return DataConfig(spec=spec, resolution=h, width=0 if w == h else w, channels=c,
                              labels=False)  # fmt: skip
        return DataConfig(spec=spec, labels=False)
    return real


def default_metrics(item_shape: tuple[int, ...], real: Any = None) -> list[str]:
    """Sensible metrics for the data: mode coverage for ring8/grid25 points, FID/KID/PR/DC
    for images (plus class coverage for 28x28 digits or Stacked MNIST)."""
    spec = getattr(real, "spec", real)
    if tuple(item_shape) == (2,) or spec in ("ring8", "grid25"):
        return ["modes2d"]
    out = ["fid", "kid", "pr", "dc"]
    if tuple(item_shape) == (1, 28, 28) or spec == "stacked_mnist":
        out.append("classes")
    return out


# ---------------------------------------------------------------------------------------
# Evaluation


def evaluate(
    source: Any,
    metrics: list[str] | tuple[str, ...] | str | None = None,
    n: int | None = None,
    real: Any = None,
    *,
    extractor: Any = None,
    inception_weights: str | Path | None = None,
    seed: int = 0,
    batch_size: int = 250,
    device: str | torch.device = "cpu",
    progress: bool = True,
    use_cache: bool = True,
    sampler: str = "run",
) -> dict[str, Any]:
    """Evaluate generated data with named metric protocols.

    Args:
        source: a Generator (drawn alone); a :class:`~ganforge.sampling.policy.Sampler`;
            a run folder, checkpoint file or ``zoo:NAME`` (drawn as ``sampler`` says); a
            data spec (built-in name, folder of images, array file); a TensorData; or a
            tensor/array of images (N, C, H, W) in [-1, 1] or points (N, 2).
        metrics: protocol names or aliases (see the module docstring); a comma-separated
            string is accepted. None or empty: :func:`default_metrics` for the data.
        n: generated samples for the aliases (default 5,000, or all items of a smaller
            finite source).
        real: the reference data: a data spec, a :class:`~ganforge.core.config.DataConfig`,
            TensorData or tensor/array. Default: the run's ``data`` config (run folders,
            checkpoints and generators returned by :func:`ganforge.load`).
        extractor: a registry name or ``nn.Module`` replacing the aliases' default
            extractor (results are named ``..._custom`` for modules).
        inception_weights: FID Inception weights file (else ``$GANFORGE_INCEPTION_WEIGHTS``,
            else the cached download, else fetched once into the cache).
        seed: latents of the generated samples and the draw of subsets.
        batch_size: items per forward pass.
        device: where the generator's outputs and the extractors run.
        progress: tqdm bars over batches.
        use_cache: read/write cached real features (``$GANFORGE_CACHE``).
        sampler: for runs: ``"run"`` follows the run's ``[sample]`` policy (rejection or
            latent Langevin sampling where it names one), ``"g"`` draws from G alone.

    Returns:
        One dict: every metric's values as floats (``fid5k_lenet``,
        ``pr5k_lenet_precision``, ...) and ``protocol``: ``{"source", "sampler", "real",
        "seed", "metrics": {name: {"extractor", "weights", "resize", "n_fake", "n_real",
        "sampler", ...options}}}``, where the top-level ``sampler`` is ``{"name": "g" |
        "rejection" | "langevin", settings}`` (None for data) and each metric's
        ``sampler`` its name (``"data"`` for data).
    """
    from ganforge.core.config import DataConfig
    from ganforge.metrics import features as fx

    fake, default_real, source_desc, sampler_info = _resolve_source(source, sampler)
    item_shape = _item_shape(fake)
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    if not metrics:  # None or empty: what suits the data
        metrics = default_metrics(item_shape, real if real is not None else default_real)
    finite = _finite_len(fake)
    alias_n = n or (min(DEFAULT_N, finite) if finite else DEFAULT_N)
    if finite is not None:
        alias_n = min(alias_n, finite)
    custom = extractor is not None and not isinstance(extractor, str)
    protos = [resolve_metric(m, n=alias_n, item_shape=item_shape, custom=custom) for m in metrics]
    real_cfg = _real_config(real, default_real, item_shape)
    # Fail before any (slow) feature extraction when the protocol cannot be met.
    for m in protos:
        if m.needs_real and real_cfg is None:
            raise ValueError(
                f"{m.name} compares with real data: pass real=<data spec> (--real SPEC), "
                "e.g. real='mnist5k' or a folder of images"
            )
        if m.kind == "modes2d":
            _mixture_name(real_cfg)

    extractors: dict[str, Any] = {}

    def get_ext(name: str | None) -> Any:
        key = "custom" if (name == "custom" or (custom and name is None)) else name
        if key not in extractors:
            if key == "custom":
                extractors[key] = fx.get_extractor(extractor)
            elif key in ("inception_fid", "inception_fid_pytorchfid"):
                extractors[key] = fx.get_extractor(key, weights=inception_weights)
            elif extractor is not None and isinstance(extractor, str) and name is None:
                extractors[key] = fx.get_extractor(extractor)
            else:
                extractors[key] = fx.get_extractor(key)
        return extractors[key]

    fake_feats: dict[tuple[str, int], Any] = {}
    real_feats: dict[tuple[str, int], Any] = {}
    opts = dict(batch_size=batch_size, seed=seed, device=device, progress=progress)

    def fake_set(ext: Any, count: int) -> Any:
        if finite is not None and count > finite:
            raise ValueError(
                f"{source_desc} holds {finite} items; this protocol needs {count} generated "
                f"samples (use an alias such as 'fid' with --n {finite})"
            )
        key = (ext.name, count)
        if key not in fake_feats:
            fake_feats[key] = fx.extract(fake, ext, n=count, desc="fake", **opts)
        return fake_feats[key]

    def real_set(ext: Any, count: int, metric: str) -> Any:
        if real_cfg is None:
            raise ValueError(
                f"{metric} compares with real data: pass real=<data spec> (--real SPEC), "
                "e.g. real='mnist5k' or a folder of images"
            )
        key = (ext.name, count)
        if key not in real_feats:
            if isinstance(real_cfg, DataConfig):
                real_feats[key] = fx.extract_real(
                    real_cfg, ext, n=count, use_cache=use_cache, **opts
                )
            else:
                total = len(real_cfg)
                real_feats[key] = fx.extract(
                    real_cfg, ext, n=min(count, total), desc="real", **opts
                )
        return real_feats[key]

    from ganforge.metrics.classes import class_coverage, stacked_labels
    from ganforge.metrics.fid import fid as fid_fn
    from ganforge.metrics.iscore import inception_score
    from ganforge.metrics.kid import kid as kid_fn
    from ganforge.metrics.modes import modes2d
    from ganforge.metrics.prdc import density_coverage, precision_recall

    results: dict[str, Any] = {}
    proto_info: dict[str, Any] = {}
    drawn_by = sampler_info["name"] if sampler_info else "data"
    for m in protos:
        info: dict[str, Any] = {"kind": m.kind, **m.options}
        if m.kind == "modes2d":
            dataset = _mixture_name(real_cfg)
            pts = fake_set(fx.get_extractor("raw"), m.n).features
            r = modes2d(pts, dataset)
            info.update(extractor=None, n_fake=len(pts), sampler=drawn_by, dataset=dataset)
            for k in ("modes_captured", "high_quality", "reverse_kl"):
                results[f"{m.name}_{k}"] = r[k]
        elif m.kind == "classes":
            ext = get_ext(m.extractor)
            k = int(m.options["modes"])
            labels, count = _classify(fake, ext, m.n, k, stacked_labels, opts, finite, source_desc)
            r = class_coverage(labels, k)
            info.update(**ext.describe(), n_fake=count, sampler=drawn_by,
                        classifier=_classifier_info())  # fmt: skip
            results[f"{m.name}_modes_captured"] = r["modes_captured"]
            results[f"{m.name}_kl"] = r["kl"]
        else:
            ext = get_ext("custom" if m.extractor == "custom" else m.extractor)
            fs = fake_set(ext, m.n)
            info.update(**ext.describe(), n_fake=len(fs), sampler=drawn_by)
            if m.kind == "is":
                if fs.logits is None:
                    raise ValueError(f"{m.name}: the {ext.name} extractor gives no class logits")
                r = inception_score(fs.logits, splits=m.options["splits"])
                results[m.name], results[f"{m.name}_std"] = r["is"], r["is_std"]
            else:
                rs = real_set(ext, m.n, m.name)
                info.update(n_real=len(rs), real_cached=rs.cached)
                if m.kind == "fid":
                    results[m.name] = fid_fn(rs.features, fs.features)
                elif m.kind == "kid":
                    r = kid_fn(rs.features, fs.features, seed=seed, **_kid_opts(m))
                    results[m.name], results[f"{m.name}_std"] = r["kid"], r["kid_std"]
                    info["subset_size"] = int(r["subset_size"])
                elif m.kind == "pr":
                    r = precision_recall(rs.features, fs.features, k=m.options["k"])
                    results[f"{m.name}_precision"] = r["precision"]
                    results[f"{m.name}_recall"] = r["recall"]
                elif m.kind == "dc":
                    r = density_coverage(rs.features, fs.features, k=m.options["k"])
                    results[f"{m.name}_density"] = r["density"]
                    results[f"{m.name}_coverage"] = r["coverage"]
        proto_info[m.name] = info
    results["protocol"] = {
        "source": source_desc,
        "sampler": sampler_info,
        "real": _real_desc(real_cfg),
        "seed": seed,
        "metrics": proto_info,
    }
    return results


def _kid_opts(m: Metric) -> dict[str, int]:
    return {"subsets": int(m.options["subsets"]), "subset_size": int(m.options["subset_size"])}


def _mixture_name(real_cfg: Any) -> str:
    from ganforge.core.config import DataConfig
    from ganforge.metrics.modes import MIXTURE_NAMES

    spec = real_cfg.spec if isinstance(real_cfg, DataConfig) else None
    if spec not in MIXTURE_NAMES:
        raise ValueError(
            f"modes2d scores ring8/grid25 generators; pass real='ring8' or real='grid25' "
            f"(got {spec!r})"
        )
    return spec


def _real_desc(real_cfg: Any) -> Any:
    from ganforge.core.config import DataConfig

    if real_cfg is None:
        return None
    if isinstance(real_cfg, DataConfig):
        desc = {"spec": real_cfg.spec, "resolution": real_cfg.resolution,
                "channels": real_cfg.channels}  # fmt: skip
        if real_cfg.width:
            desc["width"] = real_cfg.width
        return desc
    return type(real_cfg).__name__


def _classifier_info() -> dict[str, Any]:
    from ganforge.metrics.lenet import lenet_metadata

    meta = lenet_metadata()
    acc = meta.get("holdout_accuracy")
    return {"name": "lenet_mnist", "holdout_accuracy": float(acc) if acc is not None else math.nan}


@torch.no_grad()
def _classify(
    fake: Any, ext: Any, n: int, k: int, stacked_labels: Any, opts: dict[str, Any],
    finite: int | None, desc: str,
) -> tuple[torch.Tensor, int]:  # fmt: skip
    from ganforge.metrics.features import iter_batches

    if finite is not None and n > finite:
        n = finite  # class coverage of a finite set: every item is classified once
    device = opts["device"]
    batches, total, _ = iter_batches(fake, n, opts["batch_size"], opts["seed"])
    out = []
    for xb in batches:
        xb = xb.to(device)
        if k == 1000:
            out.append(stacked_labels(ext.classify, xb).cpu())
        else:
            out.append(ext.classify(xb).cpu())
    return torch.cat(out), total
