"""Build G and D from a configuration via the model registry — the one place that also
wraps D (PacGAN packing, spectral normalisation), so training, sampling and loading
rebuild the same D."""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from ganforge.core.config import ConfigError, ModelConfig, TrainConfig, check_kwargs
from ganforge.core.registry import MODELS
from ganforge.models.base import Generator
from ganforge.models.layers import PacDiscriminator, apply_spectral_norm

#: Item sizes (values per generated item) above this are refused: 2**26 is 8192 x 8192.
MAX_ITEM_SIZE = 2**26


#: What each family generates, where it is not images (C, H, W).
DATA_KINDS = {"toy2d": "points", "wavegan": "audio", "textgan": "text"}


def data_kind(family: str) -> str:
    """``images``, ``points``, ``audio`` or ``text``: the data a model family generates."""
    return DATA_KINDS.get(family, "images")


def default_max_params() -> int:
    """The parameter limit for models built from files (``GANFORGE_MAX_PARAMS`` or 3e8):
    a checkpoint or export never raises its own limit."""
    return int(float(os.environ.get("GANFORGE_MAX_PARAMS", "3e8")))


def _build(cfg: ModelConfig, out_shape: tuple[int, ...]) -> tuple[Generator, nn.Module]:
    builder = MODELS.get(cfg.name)
    check_kwargs(builder, cfg.args, f"model.args for {cfg.name!r}")
    try:
        return builder(z_dim=cfg.z_dim, out_shape=tuple(out_shape), **cfg.args)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ConfigError(f"model {cfg.name!r} cannot be built for data {out_shape}: {e}") from e


def count_params(cfg: ModelConfig, out_shape: tuple[int, ...]) -> int:
    """Parameters of G and D together, counted on a size-only build (``meta`` device: no
    memory, no initialisation), so an absurd config is refused in milliseconds."""
    with torch.device("meta"):
        G, D = _build(cfg, out_shape)
    return sum(p.numel() for m in (G, D) for p in m.parameters())


def build_models(
    cfg: ModelConfig, out_shape: tuple[int, ...], *, max_params: int | None = None
) -> tuple[Generator, nn.Module]:
    """Return the family's bare ``(G, D)`` for data items of shape ``out_shape``.

    Args:
        cfg: model family and its arguments.
        out_shape: the shape of one data item.
        max_params: refuse models with more parameters (default :func:`default_max_params`).

    Raises:
        UnknownNameError: ``cfg.name`` is not a registered model (the valid ones are listed).
        ConfigError: ``cfg.args`` holds an argument the family does not take, or the model
            or its items are larger than the limits.
    """
    shape = tuple(int(s) for s in out_shape)
    if any(s < 1 for s in shape) or math.prod(shape) > MAX_ITEM_SIZE:
        raise ConfigError(
            f"model {cfg.name!r}: data items of shape {shape} are not buildable (every side "
            f">= 1, at most {MAX_ITEM_SIZE:,} values per item)"
        )
    limit = default_max_params() if max_params is None else max_params
    n = count_params(cfg, shape)
    if n > limit:
        raise ConfigError(
            f"model {cfg.name!r} with model.args {cfg.args} has {n:,} parameters, more than "
            f"the limit of {limit:,}; check the sizes, or raise the limit (max_params in the "
            "config for training, GANFORGE_MAX_PARAMS for loading)"
        )
    return _build(cfg, shape)


def build_gan(cfg: TrainConfig, out_shape: tuple[int, ...]) -> tuple[Generator, nn.Module]:
    """``(G, D)`` of a run: the family's networks with D packed (``tricks.pac``, Lin et al.
    2018) and spectrally normalised (``tricks.spectral_norm``, Miyato et al. 2018) as the
    run asks. Spectral normalisation comes before any weights are loaded: it renames D's
    weights (``parametrizations.weight.original``)."""
    G, D = build_models(cfg.model, out_shape, max_params=cfg.max_params)
    if cfg.tricks.pac > 1:
        D = PacDiscriminator(
            lambda shape: build_models(cfg.model, shape)[1], out_shape, cfg.tricks.pac
        )
    if cfg.tricks.spectral_norm:
        apply_spectral_norm(D)
    return G, D
