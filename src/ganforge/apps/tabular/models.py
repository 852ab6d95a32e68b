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
    of every head; :class:`OutputHeads` applies tanh / Gumbel-softmax per head."""

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


class OutputHeads:
    """G's output heads, applied to all columns at once.

    ``spans``: ``(start, width, "tanh" | "softmax")`` per head, covering the encoded row
    (``TableTransform.spans``). Per-head slicing cost ~10 small ops per head and per
    backward a full-width gradient per slice; here every softmax head is a row of one
    padded (N, heads, widest) tensor, so a wide table costs the same dozen ops as a narrow
    one.
    """

    def __init__(self, spans: Sequence[tuple[int, int, str]]) -> None:
        soft = [(s, w) for s, w, act in spans if act == "softmax"]
        tanh = [s + i for s, w, act in spans if act == "tanh" for i in range(w)]
        self.width = sum(w for _, w, _ in spans)
        widest = max((w for _, w in soft), default=1)
        # (heads, widest) positions in the row; padding points at column 0 and is masked
        index = torch.zeros((len(soft), widest), dtype=torch.long)
        valid = torch.zeros((len(soft), widest), dtype=torch.bool)
        for h, (s, w) in enumerate(soft):
            index[h, :w] = torch.arange(s, s + w)
            valid[h, :w] = True
        self._cpu = {
            "index": index,
            "valid": valid,
            "tanh": torch.tensor(tanh, dtype=torch.long),
            # grouped order [tanh columns, valid softmax cells] -> row order
            "order": torch.argsort(torch.cat([torch.tensor(tanh, dtype=torch.long),
                                              index[valid]])),
        }  # fmt: skip
        self._on: dict[torch.device, dict[str, Tensor]] = {}

    def _tensors(self, device: torch.device) -> dict[str, Tensor]:
        if device not in self._on:
            self._on[device] = {k: v.to(device) for k, v in self._cpu.items()}
        return self._on[device]

    def padded_logits(self, raw: Tensor, heads: Tensor | None = None) -> Tensor:
        """Softmax heads' logits (N, heads, widest), ``-inf`` in the padding; with
        ``heads`` (N,) only that head per row: (N, widest)."""
        t = self._tensors(raw.device)
        if heads is None:
            picked = raw[:, t["index"]]
            return picked.masked_fill(~t["valid"], float("-inf"))
        picked = raw.gather(1, t["index"][heads])
        return picked.masked_fill(~t["valid"][heads], float("-inf"))

    def __call__(
        self, raw: Tensor, tau: float, generator: torch.Generator | None, *, hard: bool = False
    ) -> Tensor:
        """G's raw outputs (N, D) through their heads: ``tanh`` columns squashed, softmax
        heads Gumbel-softmaxed ``softmax((logits + g) / tau)`` with Gumbel noise from
        ``generator`` (Jang et al. 2017; so a run's every random number is checkpointed),
        or one-hot at the argmax of the noisy logits (``hard``: sampling)."""
        t = self._tensors(raw.device)
        logits = self.padded_logits(raw)
        u = torch.rand(logits.shape, generator=generator,
                       device=generator.device if generator else raw.device)  # fmt: skip
        u = u.to(raw.device).clamp(1e-10, 1.0 - 1e-7)  # log(0) and log(-log(1)) are infinite
        noisy = (logits - torch.log(-torch.log(u))) / tau
        if hard:
            soft = nn.functional.one_hot(noisy.argmax(2), noisy.shape[2]).to(raw.dtype)
        else:
            soft = torch.softmax(noisy, dim=2)
        grouped = torch.cat([torch.tanh(raw[:, t["tanh"]]), soft[:, t["valid"]]], 1)
        return grouped[:, t["order"]]
