"""CTGAN's conditional vector and training-by-sampling (Xu et al. 2019, section 4.3).

Every step draws, for each row of the batch, a discrete column uniformly and one of its
categories with probability proportional to the log of its frequency; the conditional
vector is that category's one-hot (over all discrete columns' categories concatenated),
and the real rows D sees are drawn among those holding that category. Rare categories
are so seen far more often than their share of the data, which is what lets G learn them.

Everything is tensors: the rows of each (column, category) are one contiguous slice of a
per-column sort of the row indices, so a batch of N conditions and matching rows is a
handful of indexing ops, with every random number drawn from the run's generator.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def _rand(shape: tuple[int, ...], gen: torch.Generator | None) -> Tensor:
    return torch.rand(shape, generator=gen, device=gen.device if gen is not None else "cpu")


class CondSampler:
    """Conditions and matching rows for a table's discrete columns.

    Args:
        cats: (N, n_discrete) int64: every row's category index in each discrete column.
        widths: number of categories of each discrete column.
    """

    def __init__(self, cats: Tensor, widths: list[int]) -> None:
        self.n_rows = int(cats.shape[0])
        self.widths = list(widths)
        self.n_cols = len(widths)
        self.cond_dim = int(sum(widths))
        offsets = [0]
        for w in widths[:-1]:
            offsets.append(offsets[-1] + w)
        self.offsets = torch.tensor(offsets, dtype=torch.long)
        max_w = max(widths, default=1)
        self.order = torch.zeros((self.n_cols, self.n_rows), dtype=torch.long)
        self.start = torch.zeros(self.cond_dim, dtype=torch.long)
        self.count = torch.zeros(self.cond_dim, dtype=torch.long)
        log_p = torch.zeros((self.n_cols, max_w))
        emp_p = torch.zeros((self.n_cols, max_w))
        for j, w in enumerate(widths):
            col = cats[:, j]
            self.order[j] = torch.argsort(col, stable=True)
            counts = torch.bincount(col, minlength=w)
            off = offsets[j]
            self.count[off : off + w] = counts
            self.start[off : off + w] = torch.cumsum(counts, 0) - counts
            log_p[j, :w] = torch.log1p(counts.double()).float()
            emp_p[j, :w] = counts.float()
        self.log_cum = torch.cumsum(log_p / log_p.sum(1, keepdim=True).clamp_min(1e-12), 1)
        self.emp_cum = torch.cumsum(emp_p / emp_p.sum(1, keepdim=True).clamp_min(1e-12), 1)
        self.col_widths = torch.tensor(widths or [1], dtype=torch.long)

    def to(self, device: torch.device) -> CondSampler:
        for name in ("offsets", "order", "start", "count", "log_cum", "emp_cum", "col_widths"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def _pick(self, n: int, cum: Tensor, gen: torch.Generator | None) -> tuple[Tensor, Tensor]:
        dev = cum.device
        col = (_rand((n,), gen).to(dev) * self.n_cols).long().clamp_max(self.n_cols - 1)
        u = _rand((n, 1), gen).to(dev)
        cat = (cum[col] < u).sum(1)
        cat = torch.minimum(cat, self.col_widths[col] - 1)
        return col, cat

    def onehot(self, col: Tensor, cat: Tensor) -> Tensor:
        """Conditional vectors (n, cond_dim) of categories ``cat`` of columns ``col``."""
        cond = torch.zeros((len(col), self.cond_dim), device=col.device)
        cond[torch.arange(len(col), device=col.device), self.offsets[col] + cat] = 1.0
        return cond

    def rows_with(self, col: Tensor, cat: Tensor, gen: torch.Generator | None) -> Tensor:
        """A random row index holding category ``cat`` of column ``col``, for each pair."""
        flat = self.offsets[col] + cat
        u = _rand((len(col),), gen).to(col.device)
        pos = self.start[flat] + (u * self.count[flat]).long().clamp_max(self.count[flat] - 1)
        return self.order[col, pos]

    def draw_train(
        self, n: int, gen: torch.Generator | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Training by sampling: ``(cond (n, cond_dim), column (n,), category (n,),
        matching real row index (n,))``; with no discrete column, an empty condition and
        uniformly drawn rows."""
        if self.n_cols == 0:
            dev = self.order.device
            rows = (_rand((n,), gen).to(dev) * self.n_rows).long().clamp_max(self.n_rows - 1)
            empty = torch.zeros((n, 0), device=dev)
            zero = torch.zeros(n, dtype=torch.long, device=dev)
            return empty, zero, zero, rows
        col, cat = self._pick(n, self.log_cum, gen)
        return self.onehot(col, cat), col, cat, self.rows_with(col, cat, gen)

    def draw_empirical(self, n: int, gen: torch.Generator | None) -> Tensor:
        """Conditions for plain sampling: a uniform column and its category at the data's
        own frequency (so unconditional samples follow the data's marginals)."""
        if self.n_cols == 0:
            return torch.zeros((n, 0), device=self.order.device)
        col, cat = self._pick(n, self.emp_cum, gen)
        return self.onehot(col, cat)
