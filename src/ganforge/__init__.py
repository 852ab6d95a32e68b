"""ganforge: generative adversarial networks that train on a laptop CPU and scale to GPUs.

Quick start::

    import ganforge
    G = ganforge.load("runs/dcgan-mnist")   # run folder, checkpoint or zoo:NAME
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


__all__ = ["__version__", "load"]
