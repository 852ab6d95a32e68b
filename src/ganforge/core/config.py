"""Run configuration: a tree of frozen dataclasses that round-trips through TOML.

A run is fully described by one :class:`TrainConfig`. It is saved as ``config.toml`` in
every run folder and inside every checkpoint, so a checkpoint alone can rebuild the run
(nanoGPT's ``model_args`` idea). Command-line overrides (``--set optim.lr_g=1e-4``) are
parsed against the field's declared type; unknown keys fail with the valid keys listed.
"""

from __future__ import annotations

import math
import sys
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar, Union

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib


class ConfigError(ValueError):
    """A configuration value, key or file is invalid; the message says how to fix it."""


@dataclass(frozen=True)
class Range:
    """The valid values of a number: ``lo``..``hi``, each end open or closed."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    def check(self, value: float, key: str) -> None:
        low_ok = value > self.lo if self.lo_open else value >= self.lo
        high_ok = value < self.hi if self.hi_open else value <= self.hi
        if not (low_ok and high_ok and math.isfinite(value)):
            raise ConfigError(f"{key} = {value!r} is out of range: {self.describe()}")

    def describe(self) -> str:
        def num(x: float) -> str:
            return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"

        parts = []
        if self.lo > -math.inf:
            parts.append(f"{'>' if self.lo_open else '>='} {num(self.lo)}")
        if self.hi < math.inf:
            parts.append(f"{'<' if self.hi_open else '<='} {num(self.hi)}")
        return "must be " + " and ".join(parts) if parts else "must be finite"


POSITIVE = Range(0, lo_open=True)
NON_NEGATIVE = Range(0)
AT_LEAST_1 = Range(1)
UNIT_OPEN = Range(0, 1, hi_open=True)  # [0, 1)


class _Checked:
    """Range-checks the numeric fields named in ``_ranges`` whenever a config is built
    (from TOML, ``--set``, a checkpoint or code), so a bad value never reaches training."""

    _section: ClassVar[str] = ""
    _ranges: ClassVar[dict[str, Range]] = {}
    _choices: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def _key(self, name: str) -> str:
        return f"{self._section}.{name}" if self._section else name

    def __post_init__(self) -> None:
        for name, rng in self._ranges.items():
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                rng.check(value, self._key(name))
        for name, valid in self._choices.items():
            if getattr(self, name) not in valid:
                raise ConfigError(
                    f"{self._key(name)} = {getattr(self, name)!r} is not valid; valid: "
                    + ", ".join(str(v) for v in valid)
                )


@dataclass(frozen=True)
class DataConfig(_Checked):
    """Where training data comes from.

    Attributes:
        spec: a built-in data set name (``mnist5k``, ``ring8``, ...) or a path to a folder
            of images, an ``.npz``/``.npy`` array, an MNIST IDX file or a CIFAR batch.
        resolution: side images are resized/cropped to — the **height** when ``width``
            is set; 0 keeps the native size (folders of images use 64 when 0).
        width: image width in pixels for non-square images (``resolution`` x ``width``,
            e.g. 64 x 128); 0 means square (``width == resolution``). Image models need
            the aspect to be a power of two (1:2, 2:1, 1:4 ...).
        channels: 1 (grayscale) or 3 (RGB); 0 keeps the data's own channel count.
        labels: keep class labels when the source has them (for conditional models).
    """

    _section: ClassVar[str] = "data"
    _ranges: ClassVar[dict[str, Range]] = {
        "resolution": Range(0, 8192),
        "width": Range(0, 8192),
    }
    _choices: ClassVar[dict[str, tuple[Any, ...]]] = {"channels": (0, 1, 3)}

    spec: str = "mnist5k"
    resolution: int = 0
    channels: int = 0
    labels: bool = True
    # The classes' names in label order (an image folder's sub-folders), recorded when a
    # class-conditional run is fitted to its data: `ganforge sample --class NAME` reads them.
    class_names: tuple[str, ...] = ()
    width: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width and not self.resolution:
            raise ConfigError(
                f"data.width = {self.width} needs data.resolution (the height) as well: set "
                f"data.resolution, or data.width = 0 for square images"
            )

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` images are brought to; ``(0, 0)`` keeps the native size."""
        return (self.resolution, self.width or self.resolution)


@dataclass(frozen=True)
class ModelConfig(_Checked):
    """Which registered model family to build, and its keyword arguments."""

    _section: ClassVar[str] = "model"
    _ranges: ClassVar[dict[str, Range]] = {
        "z_dim": Range(0, 1_000_000),
    }

    name: str = "dcgan"
    z_dim: int = 100
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LossConfig(_Checked):
    """Adversarial loss by registered name plus regularizer weights."""

    _section: ClassVar[str] = "loss"
    _ranges: ClassVar[dict[str, Range]] = {}

    name: str = "ns"
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OptimConfig(_Checked):
    """Optimizers for G and D (the same family, separate learning rates: TTUR)."""

    _section: ClassVar[str] = "optim"
    _ranges: ClassVar[dict[str, Range]] = {
        "lr_g": Range(0, 10, lo_open=True),
        "lr_d": Range(0, 10, lo_open=True),
        "beta1": UNIT_OPEN,
        "beta2": UNIT_OPEN,
        "weight_decay": NON_NEGATIVE,
        "warmup": NON_NEGATIVE,
        "decay_start": UNIT_OPEN,
        "d_steps": Range(1, 100),
        "grad_clip": NON_NEGATIVE,
    }

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
class ObjectiveConfig(_Checked):
    """What the run optimises: a training objective by registered name and its weights.

    ``name = "auto"`` picks the model family's own objective (``gan`` for unconditional
    families, ``infogan`` for InfoGAN, ``conditional``/``acgan`` for ``cgan`` by its
    ``mode``); ``ganforge list objectives`` names them all. ``args`` are the objective's
    loss weights (e.g. InfoGAN's ``lambda_cat``), checked against its declared fields.
    """

    _section: ClassVar[str] = "objective"
    _ranges: ClassVar[dict[str, Range]] = {}

    name: str = "auto"
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TricksConfig(_Checked):
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

    _section: ClassVar[str] = "tricks"
    _ranges: ClassVar[dict[str, Range]] = {
        "pac": Range(1, 64),
        "label_smoothing": UNIT_OPEN,
        "label_flip": Range(0, 0.5),
        "ada_target": Range(0, 1, lo_open=True, hi_open=True),
        "pl_weight": NON_NEGATIVE,
        "pl_interval": AT_LEAST_1,
    }

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
class EmaConfig(_Checked):
    """Exponential moving average of G's weights (``G_ema``), used for sampling."""

    _section: ClassVar[str] = "ema"
    _ranges: ClassVar[dict[str, Range]] = {
        "decay": UNIT_OPEN,
        "start": NON_NEGATIVE,
    }

    decay: float = 0.999
    start: int = 0  # steps before averaging starts (G_ema copies G until then)


@dataclass(frozen=True)
class LogConfig(_Checked):
    """How often the run writes metrics, sample grids and checkpoints."""

    _section: ClassVar[str] = "log"
    _ranges: ClassVar[dict[str, Range]] = {
        "every": AT_LEAST_1,
        "sample_every": AT_LEAST_1,
        "ckpt_every": AT_LEAST_1,
        "n_samples": Range(1, 10_000),
    }

    every: int = 50
    sample_every: int = 500
    ckpt_every: int = 1000
    n_samples: int = 64
    progress: bool = True
    report: bool = True  # refresh report.html at every sample grid and at the end
    # warn when the run collapses or D wins / overfits (ganforge.training.monitor)
    monitor: bool = True
    tensorboard: bool = False  # also log scalars and sample grids to TensorBoard


@dataclass(frozen=True)
class EvalConfig(_Checked):
    """Periodic evaluation during training (0 = only what the CLI asks for)."""

    _section: ClassVar[str] = "eval"
    _ranges: ClassVar[dict[str, Range]] = {
        "every": NON_NEGATIVE,
        "n": Range(1, 1_000_000),
    }

    every: int = 0
    metrics: tuple[str, ...] = ()
    n: int = 5000
    best: str = ""  # metric key whose lowest value selects checkpoints/best.pt


@dataclass(frozen=True)
class SampleConfig(_Checked):
    """How the run's samples are drawn (``ganforge sample``, periodic evaluation).

    ``rejection = true``: discriminator rejection sampling (:mod:`ganforge.sampling.rejection`,
    Azadi et al. 2019) with the run's D — drops what G makes where the data has no mass.
    ``langevin = true``: discriminator-driven latent sampling (:mod:`ganforge.sampling.langevin`,
    Che et al. 2020) — moves those samples into the modes instead. One or the other; both
    need the checkpoint (D ships only there), not an exported generator.
    """

    _section: ClassVar[str] = "sample"
    _ranges: ClassVar[dict[str, Range]] = {
        "m_quantile": Range(0, 1, lo_open=True),
        "power": Range(0, 100, lo_open=True),
        "langevin_steps": Range(0, 100_000),
        "langevin_step_size": Range(0, 10, lo_open=True),
    }

    rejection: bool = False
    m_quantile: float = 0.99  # the ratio bound M is this quantile of a burn-in draw (1 = max)
    # Weight of D's log ratio: rejection accepts with (ratio / M) ** power, Langevin's energy
    # is |z|^2/2 - power * log ratio; > 1 trades diversity for quality.
    power: float = 1.0
    langevin: bool = False  # move G's latents along D's log ratio (ganforge.sampling.langevin)
    langevin_steps: int = 100  # Langevin steps per sample
    langevin_step_size: float = 1e-3  # eps of z <- z - eps/2 grad E + sqrt(eps) noise


@dataclass(frozen=True)
class GuardConfig(_Checked):
    """Non-finite guard: snapshots, rollbacks with a lower learning rate, diagnosis."""

    _section: ClassVar[str] = "guard"
    _ranges: ClassVar[dict[str, Range]] = {
        "snapshot_every": AT_LEAST_1,
        "skip_limit": AT_LEAST_1,
        "lr_factor": Range(0, 1, lo_open=True),
        "lr_after": AT_LEAST_1,
        "max_rollbacks": NON_NEGATIVE,
        "recover_after": AT_LEAST_1,
    }

    enabled: bool = True
    snapshot_every: int = 100  # steps between in-memory snapshots of the last good state
    skip_limit: int = 10  # skipped updates in a row that trigger a rollback
    lr_factor: float = 0.5  # learning rates are multiplied by this at each rollback ...
    lr_after: int = 2  # ... from the lr_after-th rollback not yet forgiven (1: every one)
    max_rollbacks: int = 5  # more than this (not yet recovered) stops the run
    recover_after: int = 500  # clean steps after which one LR halving is undone


@dataclass(frozen=True)
class TrainConfig(_Checked):
    """The whole configuration of one training run."""

    _section: ClassVar[str] = ""
    _ranges: ClassVar[dict[str, Range]] = {
        "seed": Range(0, 2**63 - 1),
        "steps": Range(0, 10**9),
        "batch_size": Range(1, 1_000_000),
        "threads": Range(0, 4096),
        "max_params": Range(1, 10**13),
    }
    _choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "precision": ("fp32", "bf16", "fp16", "auto"),
        "channels_last": ("auto", "true", "false"),
    }

    seed: int = 0
    steps: int = 2000
    batch_size: int = 64
    device: str = "auto"
    # fp32 | bf16 | fp16 | auto: the fastest of what the hardware computes natively, measured
    # on the run's own model at its start (ganforge.training.autotune)
    precision: str = "auto"
    # NHWC memory layout for image models: true | false | auto (measured with the precision)
    channels_last: str = "auto"
    compile: bool = False  # torch.compile the G and D forward passes
    # Networks that are plain Linear/ReLU chains (the 2-D presets' MLPs) train in fp32 with
    # hand-written forward and backward passes, 1.2-1.4x faster than autograd at that size
    # (ganforge.training.objectives.chain_step); false: autograd, as every other model.
    hand_gradients: bool = True
    # CPU threads for this process's PyTorch ops (0 = PyTorch's default, one per core). One
    # is faster for tiny networks, where splitting each small matmul costs more than it saves.
    threads: int = 0
    # Largest model, in parameters of G and D together, built without complaint: checked on
    # a size-only (meta-device) build before any memory is allocated. Raise it for big runs.
    max_params: int = 300_000_000
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
        if isinstance(value, str) and value.strip().startswith("["):  # a TOML array
            value = parse_cli_value(value)
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
    ``objective.args``; a boolean ``channels_last`` becomes ``"true"``/``"false"``.
    Every reader of configs (TOML files, checkpoints, exports) calls
    this, so files written by earlier versions keep loading."""
    if isinstance(data.get("channels_last"), bool):  # a bool before "auto" existed
        data = {**data, "channels_last": "true" if data["channels_last"] else "false"}
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
    except RecursionError:
        raise ConfigError(f"{path}: nested deeper than any configuration can be") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it as text: {e}") from None
    try:
        return from_dict(TrainConfig, data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def dumps(cfg: TrainConfig) -> str:
    return tomli_w.dumps(to_dict(cfg))


def save_toml(cfg: TrainConfig, path: str | Path) -> None:
    Path(path).write_text(dumps(cfg), encoding="utf-8")


def parse_cli_value(text: str) -> Any:
    """Interpret a command-line value as TOML when it parses as one, else as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise ConfigError(
            f"--set value nested deeper than any configuration can be: {text[:40]}..."
        ) from None


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
            new[head] = parse_cli_value(text)
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
    parsed = parse_cli_value(text)
    if typing.get_origin(_is_optional(tp)[1]) is dict or isinstance(parsed, str):
        raw = parsed  # a quoted TOML string loses its quotes: data.spec='my table.csv'
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
