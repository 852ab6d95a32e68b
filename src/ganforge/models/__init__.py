"""Model families. Importing this package registers every family in ``MODELS``.

A family's builder has the signature ``build(*, z_dim, out_shape, **args) -> (G, D)``
where ``G`` is a :class:`~ganforge.models.base.Generator` and ``D`` maps data
(N, *out_shape) to logits (N,).
"""

from __future__ import annotations

from ganforge.models import (  # noqa: F401  (registration side effects)
    conditional,
    dcgan,
    infogan,
    mlp,
    stylegan,
    textgan,
    toy2d,
    wavegan,
)
from ganforge.models.base import Generator
from ganforge.models.build import build_gan, build_models

__all__ = ["Generator", "build_gan", "build_models"]
