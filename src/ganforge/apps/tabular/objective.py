"""The ``tabular`` objective: CTGAN's game on the shared training engine.

Xu et al., "Modeling Tabular Data using Conditional GAN" (NeurIPS 2019), algorithm 1:
each step draws conditions and matching real rows by training-by-sampling
(:mod:`.sampler`), updates the packed critic with the WGAN-GP loss (Gulrajani et al.
2017; ``lambda = 10``, the penalty on packs of interpolates), then G with
``-E[D(G(z, cond) ⊕ cond)]`` plus the cross-entropy between the condition and G's output
for the conditioned column (so G honours it). The paper trains with Adam (lr 2e-4,
betas 0.5/0.9, weight decay 1e-6), batch 500, pac 10; the ``tabular`` preset keeps the
betas, decay and pac and trains at batch 100 with lr 8e-4 (measured: configs/tabular.toml).

The engine gives it what every run gets: run folder, checkpoints, exact resume (every
random number comes from ``ctx.generator``), the non-finite guard, bf16, signals. The
table's fitted transform is written beside the checkpoints as ``tabular.json`` and the
encoded training rows as ``tabular_data.safetensors`` (no pickle), so sampling and resume
need only the run folder.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ganforge.apps.tabular.columns import TableError
from ganforge.apps.tabular.models import OutputHeads, PackedCritic, TabularGenerator
from ganforge.apps.tabular.sampler import CondSampler
from ganforge.apps.tabular.transform import TableTransform
from ganforge.core.config import TrainConfig, from_dict
from ganforge.data.base import TensorData
from ganforge.training.objective import OBJECTIVES, Objective, StepContext
from ganforge.training.regularizers import interpolates, penalty_at

Tensor = torch.Tensor
KIND = "tabular"
TRANSFORM_NAME = "tabular.json"
DATA_NAME = "tabular_data.safetensors"
MIN_SAMPLE_BATCH = 500  # rows G makes at least per draw (BatchNorm's batch statistics)


@dataclass(frozen=True)
class TabularArgs:
    """The tabular objective's settings (``objective.args``).

    Attributes:
        discrete, continuous: columns forced to that kind (else inferred from dtypes).
        max_modes: Gaussian-mixture modes per continuous column (the paper's 10).
        spike_frac: a value with more than this share of a column is kept exact.
        gp_weight: WGAN-GP weight (10).
        reuse_fake: G's update scores the rows G made for the D update (after D's step, as
            PyTorch's DCGAN example does) instead of drawing new ones: one G forward per
            step, not two. Measured (1,000 steps, seeds 0-2, BENCHMARKS.md): fits 10-30%
            faster, ML efficacy 0.430 -> 0.526 on penguins but 0.565 -> 0.485 on anes96, so
            off by default (the paper draws anew).
        tau: Gumbel-softmax temperature of G's discrete heads (0.2).
        log_frequency: training-by-sampling draws categories by log frequency (the
            paper); false draws them at their frequency.
        ema: sample from ``G_ema``, a moving average of G's weights (``ema.decay``),
            rather than G's last weights. Beyond the paper: at 300 steps it lifted the
            median column shapes by 0.04-0.09 and steadied them across seeds
            (BENCHMARKS.md, Tables).
    """

    discrete: tuple[str, ...] = ()
    continuous: tuple[str, ...] = ()
    max_modes: int = 10
    spike_frac: float = 0.1
    gp_weight: float = 10.0
    reuse_fake: bool = False
    tau: float = 0.2
    log_frequency: bool = True
    ema: bool = True


@dataclass(frozen=True)
class TabularNetworks:
    """Network sizes (``model.args``): G's residual layers and D's layers (256, 256 in
    the paper); the noise size is ``model.z_dim`` (128)."""

    g_dims: tuple[int, ...] = (256, 256)
    d_dims: tuple[int, ...] = (256, 256)


@dataclass
class TabularData:
    """A table made ready for training: its fitted transform, encoded rows (N, D)
    float32 and discrete category indices (N, n_discrete) int64."""

    transform: TableTransform
    x: Tensor
    cats: Tensor
    name: str

    @classmethod
    def from_frame(cls, df: Any, cfg: TrainConfig, name: str = "") -> TabularData:
        """Infer the columns of DataFrame ``df``, fit the transform and encode it."""
        from ganforge.apps.tabular.columns import infer_columns

        args = from_dict(TabularArgs, dict(cfg.objective.args), "objective.args")
        where = name or "the table"
        columns = infer_columns(df, args.discrete, args.continuous, where=where)
        tr = TableTransform.fit(
            df, columns, max_modes=args.max_modes, spike_frac=args.spike_frac, seed=cfg.seed
        )
        x, cats = tr.encode(df, seed=cfg.seed)
        return cls(tr, torch.from_numpy(x), torch.from_numpy(cats), name)

    @classmethod
    def from_spec(cls, cfg: TrainConfig) -> TabularData:
        """The table ``data.spec`` names: a built-in table's training split or a file."""
        from ganforge.apps.tabular.datasets import load_table

        df, name = load_table(cfg.data.spec)
        return cls.from_frame(df, cfg, name)

    def save(self, folder: Path) -> None:
        """``tabular.json`` and ``tabular_data.safetensors`` into the run folder."""
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        info = {"format": "ganforge-tabular", "name": self.name, **self.transform.to_dict()}
        tmp = folder / (TRANSFORM_NAME + ".tmp")
        tmp.write_text(json.dumps(info, indent=1), encoding="utf-8")
        tmp.replace(folder / TRANSFORM_NAME)
        save_file({"x": self.x.contiguous(), "cats": self.cats.contiguous()},
                  str(folder / DATA_NAME))  # fmt: skip

    @classmethod
    def load(cls, folder: Path) -> TabularData:
        from safetensors.torch import load_file

        tr, name = load_transform(folder)
        data = load_file(str(folder / DATA_NAME))
        return cls(tr, data["x"], data["cats"], name)


def is_tabular_run(path: str | Path) -> bool:
    """Whether ``path`` is a run folder of a tabular GAN (or a checkpoint inside one)."""
    p = Path(path)
    folder = p.parent.parent if p.is_file() else p
    return (folder / TRANSFORM_NAME).is_file()


def load_transform(folder: Path) -> tuple[TableTransform, str]:
    path = folder / TRANSFORM_NAME
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TableError(f"{folder} has no {TRANSFORM_NAME}: it is not a tabular run") from None
    except json.JSONDecodeError as e:
        raise TableError(f"{path}: not valid JSON ({e}); the run's transform is lost") from None
    if int(info.get("version", 0)) > 1:
        raise TableError(f"{path} was written by a newer ganforge; upgrade ganforge")
    return TableTransform.from_dict(info), str(info.get("name", ""))


def build_tabular_networks(
    tr: TableTransform, z_dim: int, nets: TabularNetworks, pac: int
) -> dict[str, nn.Module]:
    cond_dim = sum(c.width for _, c in tr.discrete)
    return {
        "G": TabularGenerator(z_dim, cond_dim, tr.width, nets.g_dims),
        "D": PackedCritic(tr.width + cond_dim, nets.d_dims, pac),
    }


def make_cond_sampler(data: TabularData) -> CondSampler:
    return CondSampler(data.cats, [c.width for _, c in data.transform.discrete])


def condition_heads(tr: TableTransform) -> Tensor:
    """The softmax head (index among :class:`OutputHeads`' heads) of every discrete column,
    in the conditional vector's column order (n_discrete,)."""
    starts = [s for s, _, act in tr.spans if act == "softmax"]
    return torch.tensor([starts.index(s) for s, _ in tr.discrete], dtype=torch.long)


def conditional_loss(raw: Tensor, heads: OutputHeads, cond_heads: Tensor, col: Tensor,
                     cat: Tensor) -> Tensor:  # fmt: skip
    """Cross-entropy of G's raw logits for each row's conditioned column (``col`` (N,),
    an index into ``cond_heads``) against its condition ``cat`` (N,), averaged over rows
    (section 4.3)."""
    logits = heads.padded_logits(raw, cond_heads.to(raw.device)[col]).float()
    return nn.functional.cross_entropy(logits, cat)


@OBJECTIVES.register("tabular", help="CTGAN: conditional tabular GAN, WGAN-GP + PacGAN (Xu 2019)")
class TabularObjective(Objective):
    """CTGAN's step (see the module docstring)."""

    name = KIND
    ema: Mapping[str, str] = {}
    batches_from_data = False  # training-by-sampling draws its own rows
    args_type = TabularArgs

    def __init__(self, cfg: TrainConfig, data: TabularData | TensorData | None) -> None:
        table = data if isinstance(data, TabularData) else TabularData.from_spec(cfg)
        self.table = table
        self.networks_args = from_dict(TabularNetworks, dict(cfg.model.args), "model.args")
        super().__init__(cfg, TensorData(table.x, None, table.name))
        self.pac = cfg.tricks.pac
        self.ema = {"G_ema": "G"} if self.args.ema else {}  # the engine keeps G_ema
        if cfg.batch_size % self.pac:
            raise TableError(
                f"batch_size = {cfg.batch_size} must be a multiple of tricks.pac = {self.pac} "
                f"(the critic judges packs of {self.pac} rows); e.g. --set batch_size="
                f"{max(self.pac, cfg.batch_size // self.pac * self.pac)}"
            )
        self.cond = make_cond_sampler(table)
        self.heads = OutputHeads(table.transform.spans)
        self.cond_heads = condition_heads(table.transform)

    def build_networks(self) -> dict[str, nn.Module]:
        return build_tabular_networks(
            self.table.transform, self.cfg.model.z_dim, self.networks_args, self.pac
        )

    def setup(self, ctx: StepContext) -> None:
        self._x = self.table.x.to(ctx.device)
        self.cond.to(ctx.device)

    def _noise(self, ctx: StepContext, n: int) -> Tensor:
        z = torch.randn((n, self.cfg.model.z_dim), generator=ctx.generator,
                        device=ctx.generator.device)  # fmt: skip
        return z.to(ctx.device)

    def step(self, ctx: StepContext) -> dict[str, Tensor]:
        G, D = ctx.nets["G"], ctx.nets["D"]
        n, gen, tau = self.cfg.batch_size, ctx.generator, self.args.tau
        draw = self.cond.draw_train
        d_steps = self.cfg.optim.d_steps
        reuse = self.args.reuse_fake
        for i in range(d_steps):
            cond, col, cat, rows = draw(n, gen)
            real = torch.cat([self._x.index_select(0, rows), cond], 1)
            if reuse and i == d_steps - 1:
                with ctx.autocast():
                    raw = G(self._noise(ctx, n), cond).float()
                    g_fake = self.heads(raw, tau, gen)
                fake = g_fake.detach()
            else:
                with torch.no_grad(), ctx.autocast():
                    fake = self.heads(G(self._noise(ctx, n), cond), tau, gen).float()
            fake = torch.cat([fake, cond], 1)
            # D sees packs of `pac` rows; the penalty is on packs too. Real, fake and
            # interpolated packs go through D as one batch (D has no batch statistics):
            # one weight-gradient product per layer instead of three.
            width = real.shape[1] * self.pac
            real, fake = real.reshape(-1, width), fake.reshape(-1, width)
            x_hat = interpolates(real, fake, gen)
            with ctx.autocast():
                d_real, d_fake, d_hat = D(torch.cat([real, fake, x_hat])).float().split(len(real))
            gp = penalty_at(d_hat, x_hat)
            wdist = d_real.mean() - d_fake.mean()
            loss_d = -wdist + self.args.gp_weight * gp
            ctx.update("D", loss_d)
        if not reuse:
            cond, col, cat, _ = draw(n, gen)
            with ctx.autocast():
                raw = G(self._noise(ctx, n), cond).float()
                g_fake = self.heads(raw, tau, gen)
        with ctx.autocast():
            score = D(torch.cat([g_fake, cond], 1)).float()
        loss_cond = conditional_loss(raw, self.heads, self.cond_heads, col, cat)
        loss_g = -score.mean() + loss_cond
        ctx.update("G", loss_g)
        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "wdist": wdist.detach(),
            "gp": gp.detach(),
            "loss_cond": loss_cond.detach(),
        }

    def write_samples(self, nets: Mapping[str, nn.Module], path: Path, step: int) -> Path:
        """500 synthetic rows as ``PATH.csv`` (a table, not a picture)."""
        rows = generate_rows(nets.get("G_ema", nets["G"]), self.table.transform, self.cond, 500,
                             torch.Generator().manual_seed(0), tau=self.args.tau)  # fmt: skip
        out = Path(path).with_suffix(".csv")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.table.transform.decode(rows).to_csv(out, index=False)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"kind": KIND}

    def describe(self) -> str:
        tr = self.table.transform
        n_d = len(tr.discrete)
        return (
            f"CTGAN ({self.name}) on {self.table.name} ({len(self.table.x)} rows, {n_d} "
            f"discrete and {len(tr.columns) - n_d} continuous columns -> {tr.width} features)"
        )


@torch.no_grad()
def generate_rows(
    G: nn.Module,
    tr: TableTransform,
    cond: CondSampler,
    n: int,
    gen: torch.Generator,
    *,
    tau: float = 0.2,
    fixed: tuple[int, int] | None = None,
) -> np.ndarray:
    """n encoded rows (n, D) from G: conditions at the data's frequencies, or
    category ``fixed = (discrete column, category)`` for all of them."""
    # BatchNorm on the batch's own statistics, as G trained (and as the ctgan package
    # samples): G_ema's averaged weights have no running statistics of their own. A copy,
    # so that sampling never moves the run's buffers; at least MIN_SAMPLE_BATCH rows, so
    # that the statistics of a small draw are not noise.
    G = copy.deepcopy(G).train()
    want, n = n, max(n, MIN_SAMPLE_BATCH)
    p = next(G.parameters())
    if fixed is None:
        c = cond.draw_empirical(n, gen)
    else:
        # The fixed rows ride in a batch whose other rows have the data's conditions: a
        # batch of one condition would make it a constant that BatchNorm's batch mean
        # removes, and G would ignore it (measured: a condition met at its base rate).
        col = torch.full((want,), fixed[0], dtype=torch.long, device=cond.offsets.device)
        c = cond.onehot(col, torch.full_like(col, fixed[1]))
        c = torch.cat([c, cond.draw_empirical(max(3 * want, n - want), gen)])
        n = len(c)
    z = torch.randn((n, G.z_dim), generator=gen)
    raw = G(z.to(p.device, p.dtype), c.to(p.device, p.dtype)).float()
    return OutputHeads(tr.spans)(raw, tau, gen, hard=True)[:want].cpu().numpy()
