"""CTGAN's networks: a residual generator with per-column output heads and a packed critic.

Xu et al., "Modeling Tabular Data using Conditional GAN" (NeurIPS 2019), section 4.4:

* G: ``h0 = z ⊕ cond``; ``h_{i} = h_{i-1} ⊕ ReLU(BN(FC(h_{i-1})))`` (two residual layers
  of 256, each concatenating its input); then per column of the encoded row a ``tanh``
  head (the scalar alpha) or a Gumbel-softmax head (tau = 0.2) over modes or categories.
* D (the critic): PacGAN (Lin et al. 2018) packs ``pac`` rows ⊕ their conditions into one
  input; two layers of 256 with LeakyReLU(0.2) and dropout 0.5; one score per pack.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

Tensor = torch.Tensor


class Residual(nn.Module):
    """``x -> x ⊕ ReLU(BN(FC(x)))``: (N, i) -> (N, i + o)."""

    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.fc = nn.Linear(i, o)
        self.bn = nn.BatchNorm1d(o)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, torch.relu(self.bn(self.fc(x)))], 1)


class TabularGenerator(nn.Module):
    """(z (N, z_dim), cond (N, cond_dim)) -> raw outputs (N, data_dim): the pre-activation
    of every head; :func:`activate` applies tanh / Gumbel-softmax per span."""

    def __init__(self, z_dim: int, cond_dim: int, data_dim: int, dims: Sequence[int]) -> None:
        super().__init__()
        layers, d = [], z_dim + cond_dim
        for o in dims:
            layers.append(Residual(d, o))
            d += o
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(d, data_dim)
        self.z_dim = z_dim

    def forward(self, z: Tensor, cond: Tensor) -> Tensor:
        return self.out(self.body(torch.cat([z, cond], 1)))


class PackedCritic(nn.Module):
    """(rows (N, data_dim + cond_dim)) -> scores (N / pac,): ``pac`` rows judged at once."""

    def __init__(self, in_dim: int, dims: Sequence[int], pac: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim * pac
        for o in dims:
            layers += [nn.Linear(d, o), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            d = o
        layers.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*layers)
        self.pac = pac
        self.in_dim = in_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.reshape(-1, self.pac * self.in_dim)).squeeze(1)


def gumbel_softmax(logits: Tensor, tau: float, generator: torch.Generator | None) -> Tensor:
    """Soft samples ``softmax((logits + g) / tau)`` with Gumbel noise ``g`` drawn from
    ``generator`` (Jang et al. 2017), so a run's every random number is checkpointed."""
    u = torch.rand(logits.shape, generator=generator, device=generator.device if generator
                   else logits.device)  # fmt: skip
    u = u.to(logits.device).clamp(1e-10, 1.0 - 1e-7)  # log(0) and log(-log(1)) are infinite
    g = -torch.log(-torch.log(u))
    return torch.softmax((logits + g) / tau, dim=1)


def activate(
    raw: Tensor,
    spans: Sequence[tuple[int, int, str]],
    tau: float,
    generator: torch.Generator | None,
    *,
    hard: bool = False,
) -> Tensor:
    """G's raw outputs (N, D) through their heads: ``tanh`` spans squashed, ``softmax``
    spans Gumbel-softmaxed (training) or made one-hot at the argmax of the noisy logits
    (``hard``: sampling)."""
    parts = []
    for start, width, act in spans:
        x = raw[:, start : start + width]
        if act == "tanh":
            parts.append(torch.tanh(x))
        else:
            soft = gumbel_softmax(x, tau, generator)
            if hard:
                soft = torch.nn.functional.one_hot(soft.argmax(1), width).to(raw.dtype)
            parts.append(soft)
    return torch.cat(parts, 1)
