"""Batches from an in-memory data set by indexing a per-epoch random permutation.

Small data sets live as one tensor (on the training device when it fits), so a batch is
one ``index_select`` — no DataLoader workers, no per-item Python. The permutation and the
position in it are part of the checkpoint, which is what makes resume exact.
"""

from __future__ import annotations

from typing import Any

import torch


class PermutationBatcher:
    """Yields index tensors (batch_size,) covering the data once per epoch, last partial
    batch dropped (GAN training wants fixed-size batches for BatchNorm and packing)."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator) -> None:
        if n < batch_size:
            raise ValueError(
                f"the data set has {n} items, fewer than batch_size={batch_size}; "
                "lower batch_size (--set batch_size=...) or add data"
            )
        self.n, self.batch_size, self.gen = n, batch_size, generator
        self.perm = torch.randperm(n, generator=generator)
        self.pos = 0
        self.epoch = 0

    def next(self) -> torch.Tensor:
        if self.pos + self.batch_size > self.n:
            self.perm = torch.randperm(self.n, generator=self.gen)
            self.pos = 0
            self.epoch += 1
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm.clone(), "pos": self.pos, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["perm"]) != self.n:
            raise ValueError(
                f"checkpoint was trained on {len(state['perm'])} items but the data now has "
                f"{self.n}; resume with the same data (data.spec)"
            )
        self.perm, self.pos, self.epoch = (
            state["perm"].clone(),
            int(state["pos"]),
            int(state["epoch"]),
        )
