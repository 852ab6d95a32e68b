"""Initial weights that a size-only build does not compute.

:func:`ganforge.models.build.count_params` builds every model on the ``meta`` device to
refuse absurd sizes before allocating. There ``randn``, ``normal_`` and arithmetic run
Python reference implementations that import ``torch._dynamo`` — 1.5 s of every run's
start-up for values nobody reads. Off ``meta`` these helpers are exactly the plain calls,
drawing the same random numbers in the same order.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def randn(*shape: int) -> Tensor:
    """``torch.randn(*shape)`` (also ``nn.Embedding``'s initial weight), or an empty
    tensor on a size-only build."""
    empty = torch.empty(shape)
    return empty if empty.is_meta else torch.randn(shape)


def divided(t: Tensor, divisor: float) -> Tensor:
    """``t / divisor``, or ``t`` itself on a size-only build."""
    return t if t.is_meta else t / divisor
