"""Run configuration: a tree of frozen dataclasses that round-trips through TOML.

A run is fully described by one :class:`TrainConfig`. It is saved as ``config.toml`` in
every run folder and inside every checkpoint, so a checkpoint alone can rebuild the run
(nanoGPT's ``model_args`` idea). Command-line overrides (``--set optim.lr_g=1e-4``) are
parsed against the field's declared type; unknown keys fail with the valid keys listed.
"""

from __future__ import annotations

import sys
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, Union

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib


class ConfigError(ValueError):
    """A configuration value, key or file is invalid; the message says how to fix it."""


@dataclass(frozen=True)
class DataConfig:
    """Where training data comes from.

    Attributes:
        spec: a built-in data set name (``mnist5k``, ``ring8``, ...) or a path to a folder
            of images, an ``.npz``/``.npy`` array, an MNIST IDX file or a CIFAR batch.
        resolution: square side images are resized/cropped to; 0 keeps the native size
            (folders of images use 64 when 0).
        channels: 1 (grayscale) or 3 (RGB); 0 keeps the data's own channel count.
        labels: keep class labels when the source has them (for conditional models).
    """

    spec: str = "mnist5k"
    resolution: int = 0
    channels: int = 0
    labels: bool = True


@dataclass(frozen=True)
class ModelConfig:
    """Which registered model family to build, and its keyword arguments."""

    name: str = "dcgan"
    z_dim: int = 100
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LossConfig:
    """Adversarial loss by registered name plus regularizer weights."""

    name: str = "ns"
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OptimConfig:
    """Optimizers for G and D (the same family, separate learning rates: TTUR)."""

    name: str = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0
    schedule: str = "constant"  # constant | linear | cosine | warmup (ganforge.training.optim)
    warmup: int = 0  # linear warm-up steps of the learning rates
    # Fraction of the steps the learning rates hold before the schedule's decay starts
    # (pix2pix and CycleGAN decay linearly over the second half: 0.5).
    decay_start: float = 0.0
    d_steps: int = 1
    grad_clip: float = 0.0  # max global L2 norm of each network's gradient; 0 = off


@dataclass(frozen=True)
class ObjectiveConfig:
    """What the run optimises: a training objective by registered name and its weights.

    ``name = "auto"`` picks the model family's own objective (``gan`` for unconditional
    families, ``infogan`` for InfoGAN, ``conditional``/``acgan`` for ``cgan`` by its
    ``mode``); ``ganforge list objectives`` names them all. ``args`` are the objective's
    loss weights (e.g. InfoGAN's ``lambda_cat``), checked against its declared fields.
    """

    name: str = "auto"
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TricksConfig:
    """Stabilisers around D (the mode-collapse and small-data literature).

    Attributes:
        pac: PacGAN packing — D judges ``pac`` samples at once (Lin et al. 2018); 1 = off.
        spectral_norm: spectral normalisation of every D layer (Miyato et al. 2018).
        label_smoothing: one-sided smoothing, real targets ``1 - s`` (Salimans et al.
            2016); BCE losses (``ns``, ``minimax``) only.
        label_flip: fraction of D's real/fake targets flipped at random (label noise);
            BCE losses only.
        diffaugment: DiffAugment policy applied to real and fake before D, e.g.
            ``"color,translation,cutout"`` (Zhao et al. 2020); "" = off.
        ada: adapt the probability of the ``diffaugment`` transforms (or all three when
            the policy is empty) from ``r_t = E[sign(D(real))]`` (Karras et al. 2020).
        ada_target: the r_t to hold (0.6 in ADA).
        pl_weight: StyleGAN2 path-length regularisation weight (2 in the paper; needs a
            generator with ``mapping``/``synthesis``); 0 = off.
        pl_interval: lazy interval of the path-length term (4 in the paper).
    """

    pac: int = 1
    spectral_norm: bool = False
    label_smoothing: float = 0.0
    label_flip: float = 0.0
    diffaugment: str = ""
    ada: bool = False
    ada_target: float = 0.6
    pl_weight: float = 0.0
    pl_interval: int = 4


@dataclass(frozen=True)
class EmaConfig:
    """Exponential moving average of G's weights (``G_ema``), used for sampling."""

    decay: float = 0.999
    start: int = 0  # steps before averaging starts (G_ema copies G until then)


@dataclass(frozen=True)
class LogConfig:
    """How often the run writes metrics, sample grids and checkpoints."""

    every: int = 50
    sample_every: int = 500
    ckpt_every: int = 1000
    n_samples: int = 64
    progress: bool = True
    report: bool = True  # refresh report.html at every sample grid and at the end
    tensorboard: bool = False  # also log scalars and sample grids to TensorBoard


@dataclass(frozen=True)
class EvalConfig:
    """Periodic evaluation during training (0 = only what the CLI asks for)."""

    every: int = 0
    metrics: tuple[str, ...] = ()
    n: int = 5000
    best: str = ""  # metric key whose lowest value selects checkpoints/best.pt


@dataclass(frozen=True)
class SampleConfig:
    """How the run's samples are drawn (``ganforge sample``, periodic evaluation).

    ``rejection = true``: discriminator rejection sampling (:mod:`ganforge.sampling.rejection`,
    Azadi et al. 2019) with the run's D — drops what G makes where the data has no mass.
    ``langevin = true``: discriminator-driven latent sampling (:mod:`ganforge.sampling.langevin`,
    Che et al. 2020) — moves those samples into the modes instead. One or the other; both
    need the checkpoint (D ships only there), not an exported generator.
    """

    rejection: bool = False
    m_quantile: float = 0.99  # the ratio bound M is this quantile of a burn-in draw (1 = max)
    # Weight of D's log ratio: rejection accepts with (ratio / M) ** power, Langevin's energy
    # is |z|^2/2 - power * log ratio; > 1 trades diversity for quality.
    power: float = 1.0
    langevin: bool = False  # move G's latents along D's log ratio (ganforge.sampling.langevin)
    langevin_steps: int = 100  # Langevin steps per sample
    langevin_step_size: float = 1e-3  # eps of z <- z - eps/2 grad E + sqrt(eps) noise


@dataclass(frozen=True)
class GuardConfig:
    """Non-finite guard: snapshots, rollbacks with a lower learning rate, diagnosis."""

    enabled: bool = True
    snapshot_every: int = 100  # steps between in-memory snapshots of the last good state
    skip_limit: int = 10  # skipped updates in a row that trigger a rollback
    lr_factor: float = 0.5  # learning rates are multiplied by this at each rollback ...
    lr_after: int = 2  # ... from the lr_after-th rollback not yet forgiven (1: every one)
    max_rollbacks: int = 5  # more than this (not yet recovered) stops the run
    recover_after: int = 500  # clean steps after which one LR halving is undone


@dataclass(frozen=True)
class TrainConfig:
    """The whole configuration of one training run."""

    seed: int = 0
    steps: int = 2000
    batch_size: int = 64
    device: str = "auto"
    precision: str = "fp32"  # fp32 | bf16 | fp16 | auto (bf16 where the hardware has it)
    channels_last: bool = False  # NHWC memory layout for conv models (faster with bf16)
    compile: bool = False  # torch.compile the G and D forward passes
    # CPU threads for this process's PyTorch ops (0 = PyTorch's default, one per core). One
    # is faster for tiny networks, where splitting each small matmul costs more than it saves.
    threads: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    tricks: TricksConfig = field(default_factory=TricksConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)


C = TypeVar("C")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    if origin is Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return True, args[0]
    return False, tp


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against type ``tp`` (converting strings from the command line)."""
    optional, tp = _is_optional(tp)
    if value is None and optional:
        return None
    origin = typing.get_origin(tp)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, (list, tuple)):
            return tuple(coerce(v, item_tp, where) for v in value)
    elif tp is dict or origin is dict:
        if isinstance(value, dict):
            return dict(value)
    else:  # pragma: no cover - config only uses the types above
        return value
    name = getattr(tp, "__name__", str(tp))
    raise ConfigError(f"{where}: expected {name}, got {value!r}")


# Loss weights that configs written before the ``objective`` table kept in ``model.args``.
_MOVED_TO_OBJECTIVE = {
    "infogan": ("lambda_cat", "lambda_cont", "cont_warmup", "lambda_real", "q_augment"),
    "cgan": ("lambda_cls",),
}


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A TrainConfig dict in today's layout: weights an older config stored under
    ``model.args`` (InfoGAN's ``lambda_*``, AC-GAN's ``lambda_cls``) move to
    ``objective.args``. Every reader of configs (TOML files, checkpoints, exports) calls
    this, so files written by earlier versions keep loading."""
    model = data.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("args"), dict):
        return data
    moved = _MOVED_TO_OBJECTIVE.get(str(model.get("name", "")), ())
    found = {k: model["args"][k] for k in moved if k in model["args"]}
    if not found:
        return data
    args = {k: v for k, v in model["args"].items() if k not in found}
    objective = dict(data.get("objective") or {})
    objective["args"] = {**found, **dict(objective.get("args") or {})}
    return {**data, "model": {**model, "args": args}, "objective": objective}


def from_dict(cls: type[C], data: dict[str, Any], where: str = "config") -> C:
    """Build dataclass ``cls`` from a (possibly partial) nested dict, checking every key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {data!r}")
    if cls is TrainConfig:
        data = upgrade(data)
    hints = _hints(cls)
    valid = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in hints:
            raise ConfigError(f"{where}: unknown key {key!r}. Valid keys: {', '.join(valid)}")
        tp = hints[key]
        path = f"{where}.{key}" if where != "config" else key
        if is_dataclass(tp):
            kwargs[key] = from_dict(tp, value, path)
        else:
            kwargs[key] = coerce(value, tp, path)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain-dict form of a config (tuples become lists; None values are dropped)."""
    out: dict[str, Any] = {}
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if is_dataclass(v):
            out[f.name] = to_dict(v)
        elif isinstance(v, tuple):
            out[f.name] = list(v)
        elif v is not None:
            out[f.name] = v
    return out


def load_toml(path: str | Path) -> TrainConfig:
    """Read a (possibly partial) TOML config; missing keys take their defaults."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    try:
        return from_dict(TrainConfig, data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def dumps(cfg: TrainConfig) -> str:
    return tomli_w.dumps(to_dict(cfg))


def save_toml(cfg: TrainConfig, path: str | Path) -> None:
    Path(path).write_text(dumps(cfg), encoding="utf-8")


def _parse_cli_value(text: str) -> Any:
    """Interpret a command-line value as TOML when it parses as one, else as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(cfg: C, assignment: str) -> C:
    """Return ``cfg`` with one ``dotted.key=value`` assignment applied, type-checked.

    Keys inside the free-form ``args`` tables (``model.args.width=32``) take the value as
    TOML (numbers, booleans, lists) and are checked later against the builder's signature.
    """
    if "=" not in assignment:
        raise ConfigError(f"--set expects key=value, got {assignment!r}")
    key, text = assignment.split("=", 1)
    parts = key.strip().split(".")
    return _set_path(cfg, parts, text.strip(), key.strip())


def _set_path(obj: Any, parts: list[str], text: str, full: str) -> Any:
    head, rest = parts[0], parts[1:]
    if isinstance(obj, dict):
        new = dict(obj)
        if rest:
            new[head] = _set_path(new.get(head, {}), rest, text, full)
        else:
            new[head] = _parse_cli_value(text)
        return new
    hints = _hints(type(obj))
    if head not in hints:
        valid = ", ".join(f.name for f in fields(obj))
        raise ConfigError(f"--set {full}: unknown key {head!r}. Valid keys: {valid}")
    current = getattr(obj, head)
    if rest:
        if not (is_dataclass(current) or isinstance(current, dict)):
            raise ConfigError(f"--set {full}: {head!r} is a value, not a table")
        return replace(obj, **{head: _set_path(current, rest, text, full)})
    tp = hints[head]
    if is_dataclass(tp):
        raise ConfigError(f"--set {full}: {head!r} is a table; set one of its keys")
    raw: Any = text
    if typing.get_origin(_is_optional(tp)[1]) is dict:
        raw = _parse_cli_value(text)
    return replace(obj, **{head: coerce(raw, tp, full)})


def check_kwargs(fn: Any, kwargs: dict[str, Any], where: str) -> None:
    """Fail with the valid names when ``kwargs`` holds a key ``fn`` does not accept."""
    import inspect

    sig = inspect.signature(fn)
    params = sig.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    valid = [
        n
        for n, p in params.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n not in ("z_dim", "out_shape")
    ]
    for key in kwargs:
        if key not in valid:
            raise ConfigError(f"{where}: unknown argument {key!r}. Valid: {', '.join(valid)}")
