"""Build G and D from a :class:`~ganforge.core.config.ModelConfig` via the model registry."""

from __future__ import annotations

from torch import nn

from ganforge.core.config import ConfigError, ModelConfig, check_kwargs
from ganforge.core.registry import MODELS
from ganforge.models.base import Generator


def build_models(cfg: ModelConfig, out_shape: tuple[int, ...]) -> tuple[Generator, nn.Module]:
    """Return ``(G, D)`` for data items of shape ``out_shape``.

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
