"""Open what a user points at — a run folder, a checkpoint, an exported folder or ``zoo:NAME``
— as a generator in eval mode. ``ganforge.load`` is :func:`load_generator`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganforge.core.checkpoint import CheckpointError, config_of, load_checkpoint
from ganforge.core.config import ConfigError
from ganforge.hub.export import is_exported_dir, load_exported, translation_hint
from ganforge.hub.zoo import resolve_zoo
from ganforge.models import build_models
from ganforge.models.base import Generator


def build_generator_from(ckpt: dict[str, Any]) -> Generator:
    """Rebuild the G architecture recorded in a checkpoint (weights not loaded)."""
    try:
        cfg = config_of(ckpt)
        G, _ = build_models(cfg.model, tuple(int(s) for s in ckpt["out_shape"]))
    except (ConfigError, KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{ckpt.get('path', 'checkpoint')}: {e}") from None
    return G


def load_generator(path: str | Path, *, device: str | torch.device = "cpu") -> Generator:
    """Return the run's ``G_ema`` in eval mode (``zoo:NAME`` resolves through the zoo)."""
    name = str(path)
    if isinstance(path, str) and path.startswith("zoo:"):
        path = resolve_zoo(path[4:])
    if (Path(path) / "tabular.json").is_file():
        raise CheckpointError(
            f"{name} is a tabular model, not a noise->image generator: sample rows with "
            f"`ganforge sample {name} -n 100 --out rows.csv`, or in Python with "
            f"ganforge.apps.tabular.TabularGAN.load({name!r}).sample(100)"
        )
    if is_exported_dir(path):
        return load_exported(path, name=name).to(device)
    ckpt = load_checkpoint(path)
    if ckpt.get("kind") == "translation":
        raise CheckpointError(translation_hint(name))
    return generator_from_checkpoint(ckpt).to(device)


def generator_from_checkpoint(ckpt: dict[str, Any]) -> Generator:
    """The checkpoint's ``G_ema`` in eval mode, with ``.config`` and ``.step`` set."""
    G = build_generator_from(ckpt)
    G.load_state_dict(ckpt["G_ema"])
    G.eval().requires_grad_(False)
    G.config = config_of(ckpt)  # type: ignore[attr-defined]
    G.step = int(ckpt["step"])  # type: ignore[attr-defined]
    return G
