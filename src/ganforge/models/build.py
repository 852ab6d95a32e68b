"""Build G and D from a configuration via the model registry — the one place that also
wraps D (PacGAN packing, spectral normalisation), so training, sampling and loading
rebuild the same D."""

from __future__ import annotations

from torch import nn

from ganforge.core.config import ConfigError, ModelConfig, TrainConfig, check_kwargs
from ganforge.core.registry import MODELS
from ganforge.models.base import Generator
from ganforge.models.layers import PacDiscriminator, apply_spectral_norm


def build_models(cfg: ModelConfig, out_shape: tuple[int, ...]) -> tuple[Generator, nn.Module]:
    """Return the family's bare ``(G, D)`` for data items of shape ``out_shape``.

    Raises:
        UnknownNameError: ``cfg.name`` is not a registered model (the valid ones are listed).
        ConfigError: ``cfg.args`` holds an argument the family does not take.
    """
    builder = MODELS.get(cfg.name)
    check_kwargs(builder, cfg.args, f"model.args for {cfg.name!r}")
    try:
        return builder(z_dim=cfg.z_dim, out_shape=tuple(out_shape), **cfg.args)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model {cfg.name!r} cannot be built for data {out_shape}: {e}") from e


def build_gan(cfg: TrainConfig, out_shape: tuple[int, ...]) -> tuple[Generator, nn.Module]:
    """``(G, D)`` of a run: the family's networks with D packed (``tricks.pac``, Lin et al.
    2018) and spectrally normalised (``tricks.spectral_norm``, Miyato et al. 2018) as the
    run asks. Spectral normalisation comes before any weights are loaded: it renames D's
    weights (``parametrizations.weight.original``)."""
    G, D = build_models(cfg.model, out_shape)
    if cfg.tricks.pac > 1:
        D = PacDiscriminator(
            lambda shape: build_models(cfg.model, shape)[1], out_shape, cfg.tricks.pac
        )
    if cfg.tricks.spectral_norm:
        apply_spectral_norm(D)
    return G, D
