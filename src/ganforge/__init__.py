"""ganforge: generative adversarial networks that train on a laptop CPU and scale to GPUs.

Quick start::

    import ganforge
    G = ganforge.load("runs/mnist")   # run folder, checkpoint or zoo:NAME
    images = G.sample(16, seed=0)           # (16, 1, 28, 28) in [-1, 1]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganforge import _legacy_paths

__version__ = "0.1.0"
_legacy_paths.install()

if TYPE_CHECKING:
    from ganforge.models.base import Generator


def load(path: Any, *, device: str = "cpu") -> Generator:
    """Load a generator (G_ema, eval mode) from a run folder, checkpoint file or ``zoo:NAME``.

    Returns:
        A :class:`~ganforge.models.base.Generator` with ``z_dim`` and
        ``sample(n, *, seed=None)`` returning (n, C, H, W) in [-1, 1].
    """
    from ganforge.hub.load import load_generator

    return load_generator(path, device=device)


def train(config: Any = "mnist", out: Any = None, *, resume: bool = False) -> Any:
    """Train a GAN as ``ganforge train`` does and return the run folder (a ``Path``).

    Args:
        config: a preset name, a TOML file or a :class:`~ganforge.core.config.TrainConfig`.
        out: the run folder (default ``runs/NAME``; with ``resume``, the run to continue).
        resume: continue ``out`` from its latest checkpoint (its own config).
    """
    from pathlib import Path

    from ganforge.apps import trainer_for
    from ganforge.core.checkpoint import config_of, load_checkpoint
    from ganforge.core.config import TrainConfig
    from ganforge.core.presets import load_preset_or_file

    if resume:
        cfg = config_of(load_checkpoint(out))
    elif isinstance(config, TrainConfig):
        cfg = config
    else:
        name, cfg = load_preset_or_file(str(config))
        out = out if out is not None else Path("runs") / name
    if out is None:
        raise ValueError("pass out= (the run folder) with a TrainConfig")
    return trainer_for(cfg, out, resume=resume).run()


__all__ = ["__version__", "load", "train"]
