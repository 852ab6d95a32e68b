"""How a run is sampled — the one place that decides.

A run's ``[sample]`` config names its sampler: G alone, discriminator rejection sampling
(:mod:`.rejection`) or discriminator-driven latent Langevin sampling (:mod:`.langevin`).
``ganforge sample``, ``ganforge eval``, the periodic evaluation during training, the
server and Python callers all turn (a run or generator, that config, the caller's
overrides) into a :class:`Sampler` through :func:`make_sampler` / :func:`sampler_for`, so
the same run is always drawn the same way, and every evaluation protocol records
``sampler.describe()``.

The rules:

* a caller may ask for G alone (``method = "g"``), a named sampler, or the run's own
  (``method = None``);
* the D-driven samplers need the run's D and its data — run folders and checkpoints carry
  them, exported and ``zoo:`` generators do not: asked explicitly that is an error, as the
  run's default it falls back to G alone with a note;
* they need a D that scores one unlabelled item at a time (not PacGAN's packed D, not a
  class-conditional D), and latent Langevin sampling needs latents that are all N(0, I)
  noise (not InfoGAN's codes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from ganforge.core.config import ConfigError, SampleConfig, TrainConfig
from ganforge.models.base import ClassConditional, Generator, LatentCodes
from ganforge.sampling.langevin import LatentLangevinSampler
from ganforge.sampling.rejection import DiscriminatorRejectionSampler

Tensor = torch.Tensor
METHODS = ("g", "rejection", "langevin")


@runtime_checkable
class Sampler(Protocol):
    """Draws ``n`` items (n, *out_shape) on the CPU from generator ``G``; a seed gives the
    same items."""

    G: Generator

    def sample(self, n: int, *, seed: int = 0) -> Tensor: ...

    def describe(self) -> dict[str, Any]:
        """``{"name": ..., settings}`` for evaluation protocols."""
        ...


class GeneratorSampler:
    """G alone: ``G.sample(n, seed=seed)``."""

    def __init__(self, G: Generator) -> None:
        self.G = G

    def sample(self, n: int, *, seed: int = 0) -> Tensor:
        return self.G.sample(n, seed=seed)

    def describe(self) -> dict[str, Any]:
        return {"name": "g"}


@dataclass(frozen=True)
class SamplerRequest:
    """What a caller asks for on top of the run's ``[sample]`` config.

    Attributes:
        method: ``None`` = the run's own sampler; ``"g"``, ``"rejection"`` or ``"langevin"``.
        power, m_quantile, langevin_steps, langevin_step_size: override the run's
            ``sample.*`` values (None keeps them).
    """

    method: str | None = None
    power: float | None = None
    m_quantile: float | None = None
    langevin_steps: int | None = None
    langevin_step_size: float | None = None

    def __post_init__(self) -> None:
        if self.method is not None and self.method not in METHODS:
            raise ConfigError(f"unknown sampler {self.method!r}; valid: {', '.join(METHODS)}")


def _check_d_sampler(cfg: TrainConfig, G: Generator, method: str, where: str) -> None:
    what = {"rejection": "rejection sampling", "langevin": "latent Langevin sampling"}[method]
    if cfg.tricks.pac > 1:
        raise ConfigError(f"{where}: {what} with a packed (PacGAN) D is not supported")
    if isinstance(G, ClassConditional):
        raise ConfigError(
            f"{where}: {what} with a class-conditional D is not supported "
            "(it scores an image only together with its label)"
        )
    if method == "langevin" and isinstance(G, LatentCodes):
        raise ConfigError(
            f"{where}: latent Langevin sampling cannot sample {cfg.model.name} models (their "
            "latents hold categorical codes, not only N(0, I) noise)"
        )


def check_sample_config(cfg: TrainConfig, G: Generator) -> None:
    """Raise ConfigError when the run's ``[sample]`` config cannot draw from this model —
    called before training, so a run never ends with a sampler it cannot use."""
    sc = cfg.sample
    if sc.rejection and sc.langevin:
        raise ConfigError(
            "sample.rejection and sample.langevin are both true; choose one "
            "(rejection drops G's off-mode samples, langevin moves them)"
        )
    for method in ("rejection", "langevin"):
        if getattr(sc, method):
            _check_d_sampler(cfg, G, method, f"sample.{method} = true (set it to false)")


def run_method(sample: SampleConfig) -> str:
    """The sampler a run's ``[sample]`` config names."""
    return "rejection" if sample.rejection else "langevin" if sample.langevin else "g"


def resolve_method(
    cfg: TrainConfig | None, request: SamplerRequest, *, has_d: bool
) -> tuple[str, str]:
    """``(method, note)``: the sampler to use and, when the run's own could not be used, why."""
    if request.method is not None:
        if request.method != "g" and not has_d:
            raise ConfigError(
                f"{request.method} sampling needs the run's discriminator, which exported and "
                "zoo generators do not ship; pass the run folder or one of its checkpoints"
            )
        return request.method, ""
    method = run_method(cfg.sample) if cfg is not None else "g"
    if method != "g" and not has_d:
        return "g", (
            f"trained with sample.{method} = true but ships without its discriminator; "
            "drawing from the generator alone"
        )
    return method, ""


def make_sampler(
    G: Generator,
    cfg: TrainConfig | None,
    request: SamplerRequest = SamplerRequest(),
    *,
    D: nn.Module | None = None,
    real: Tensor | None = None,
    seed: int = 0,
    where: str = "this run",
) -> Sampler:
    """The sampler for generator ``G`` of a run with config ``cfg``.

    Args:
        G: the generator (usually G_ema), eval mode.
        cfg: the run's configuration (None for a bare generator: G alone).
        request: the caller's choice and overrides.
        D, real: the run's discriminator and real data (N, *out_shape), needed by the
            D-driven samplers (their absence makes the run's default fall back to G).
        seed: seeds the samplers' calibration draws.
        where: how to name the run in errors.

    Raises:
        ConfigError: a sampler this model cannot use, or one that needs a D not given.
    """
    method, _ = resolve_method(cfg, request, has_d=D is not None and real is not None)
    if method == "g":
        if request.power is not None:
            raise ConfigError("--power weights D's log ratio: add --rejection or --langevin")
        return GeneratorSampler(G)
    assert cfg is not None and D is not None and real is not None
    _check_d_sampler(cfg, G, method, where)
    sc = cfg.sample
    power = sc.power if request.power is None else request.power
    try:
        if method == "rejection":
            q = sc.m_quantile if request.m_quantile is None else request.m_quantile
            return DiscriminatorRejectionSampler(
                G, D, real, m_quantile=q, power=power, seed=seed
            ).fit()
        steps = sc.langevin_steps if request.langevin_steps is None else request.langevin_steps
        size = (
            sc.langevin_step_size
            if request.langevin_step_size is None
            else request.langevin_step_size
        )
        return LatentLangevinSampler(
            G, D, real, steps=steps, step_size=size, power=power, seed=seed
        ).fit()
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


# --------------------------------------------------------------------------- run folders
@dataclass
class RunParts:
    """What a sampler may need from a run: its generator, config, and — for run folders and
    checkpoints — its D and real data (None for exported and zoo generators)."""

    G: Generator
    cfg: TrainConfig | None
    D: nn.Module | None = None
    real: Tensor | None = None


def open_run(source: str | Path, *, with_d: bool = True, device: str = "cpu") -> RunParts:
    """Load a run folder, checkpoint, exported folder or ``zoo:NAME`` for sampling; with
    ``with_d`` also the run's D and data where it has them."""
    from ganforge.core.checkpoint import config_of, load_checkpoint
    from ganforge.data import load_data
    from ganforge.hub.export import is_exported_dir
    from ganforge.hub.load import generator_from_checkpoint, load_generator
    from ganforge.models import build_gan

    if str(source).startswith("zoo:") or is_exported_dir(source):
        G = load_generator(source, device=device)
        return RunParts(G, G.config)
    ckpt = load_checkpoint(source)
    cfg = config_of(ckpt)
    G = generator_from_checkpoint(ckpt).to(device)
    if not with_d:
        return RunParts(G, cfg)
    _, D = build_gan(cfg, tuple(ckpt["out_shape"]))
    D.load_state_dict(ckpt["D"])
    D.to(device).eval()
    return RunParts(G, cfg, D, load_data(replace(cfg.data, labels=False)).x)


def sampler_for(
    source: str | Path | Generator,
    request: SamplerRequest = SamplerRequest(),
    *,
    seed: int = 0,
    device: str = "cpu",
) -> tuple[Sampler, str]:
    """``(sampler, note)`` for a run folder, checkpoint, export, ``zoo:NAME`` or generator,
    following the run's ``[sample]`` config unless ``request`` says otherwise; ``note``
    explains a fallback to G alone ("" when none)."""
    if isinstance(source, Generator):
        method, note = resolve_method(source.config, request, has_d=False)
        return make_sampler(source, source.config, replace(request, method=method)), note
    from ganforge.hub.export import is_exported_dir

    is_run = not (str(source).startswith("zoo:") or is_exported_dir(source))
    parts = open_run(source, with_d=False, device=device)
    method, note = resolve_method(parts.cfg, request, has_d=is_run)
    if method != "g":  # load D and the data only when the sampler needs them
        parts = open_run(source, device=device)
    chosen = replace(request, method=method)
    sampler = make_sampler(
        parts.G, parts.cfg, chosen, D=parts.D, real=parts.real, seed=seed, where=str(source)
    )
    return sampler, note


def sampler_for_run(
    path: str | Path,
    *,
    m_quantile: float | None = None,
    power: float | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> DiscriminatorRejectionSampler:
    """A fitted rejection sampler from a run folder or checkpoint (its G_ema, D and data);
    ``m_quantile`` and ``power`` override the run's ``sample.*``."""
    request = SamplerRequest("rejection", power=power, m_quantile=m_quantile)
    sampler, _ = sampler_for(path, request, seed=seed, device=device)
    assert isinstance(sampler, DiscriminatorRejectionSampler)
    return sampler


def langevin_sampler_for_run(
    path: str | Path,
    *,
    steps: int | None = None,
    step_size: float | None = None,
    power: float | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> LatentLangevinSampler:
    """A fitted latent Langevin sampler from a run folder or checkpoint; ``steps``,
    ``step_size`` and ``power`` override the run's ``sample.*``."""
    request = SamplerRequest("langevin", power, None, steps, step_size)
    sampler, _ = sampler_for(path, request, seed=seed, device=device)
    assert isinstance(sampler, LatentLangevinSampler)
    return sampler
