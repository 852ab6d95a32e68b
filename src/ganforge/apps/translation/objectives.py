"""pix2pix and CycleGAN as objectives of the shared training engine.

pix2pix (Isola et al. 2017, section 3): ``G* = arg min_G max_D L_cGAN(G, D) + lambda L1(G)``
with ``lambda = 100``; D sees the input concatenated with the real or generated output and
its loss is halved to slow it relative to G. The run's ``loss.name`` is the GAN loss
(``ns``, the paper's, by default).

CycleGAN (Zhu et al. 2017, sections 3-4): generators ``G_AB``, ``G_BA`` and PatchGANs
``D_A``, ``D_B``; least-squares GAN losses (``loss.name = "lsgan"``), cycle loss
``lambda_cycle (|G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b|)`` and identity loss
``lambda_identity * lambda_cycle (|G_AB(b) - b| + |G_BA(a) - a|)`` (only when both domains
have the same channel count); D is updated on a 50-image history of generated images.

Both papers keep the learning rate constant and then decay it linearly to zero over the
second half (``optim.schedule = "linear"``, ``optim.decay_start = 0.5``). The engine gives
them what every GAN run gets: the non-finite guard, exact resume, bf16/channels-last and
torchrun data parallelism; the run folder is ``ganforge train``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.apps.translation.data import TranslationData, load_translation_data
from ganforge.apps.translation.models import (
    HistoryPool,
    PatchDiscriminator,
    ResnetGenerator,
    UNetGenerator,
)
from ganforge.core.config import ConfigError, TrainConfig, from_dict
from ganforge.core.imaging import save_grid
from ganforge.data.base import TensorData
from ganforge.training.batching import PermutationBatcher
from ganforge.training.losses import build_loss
from ganforge.training.objective import OBJECTIVES, Objective, StepContext

Tensor = torch.Tensor
KIND = "translation"


@dataclass(frozen=True)
class TranslationNetworks:
    """Network sizes of a translation run (``model.args``).

    Attributes:
        ngf, ndf: generator and discriminator widths.
        d_layers: PatchGAN stride-2 layers (3 is the paper's 70x70 PatchGAN).
        n_blocks: CycleGAN's residual blocks (paper: 6 at 128 px, 9 at 256 px).
        unet_max_mult: width cap of the U-Net levels (paper: 8).
        dropout: U-Net decoder dropout (pix2pix's noise source).
    """

    ngf: int = 32
    ndf: int = 32
    d_layers: int = 2
    n_blocks: int = 3
    unet_max_mult: int = 4
    dropout: float = 0.5


def build_translation_networks(
    method: str, args: TranslationNetworks, channels: tuple[int, int], resolution: int
) -> dict[str, nn.Module]:
    """The networks of a pix2pix (``G``, ``D``) or CycleGAN (``G_AB``, ``G_BA``, ``D_A``,
    ``D_B``) run between domains of ``channels`` = (C_A, C_B) at ``resolution``."""
    c_a, c_b = channels
    if method == "pix2pix":
        return {
            "G": UNetGenerator(
                c_a, c_b, resolution, ngf=args.ngf, max_mult=args.unet_max_mult,
                dropout=args.dropout,
            ),
            "D": PatchDiscriminator(c_a + c_b, ndf=args.ndf, n_layers=args.d_layers),
        }  # fmt: skip
    return {
        "G_AB": ResnetGenerator(c_a, c_b, ngf=args.ngf, n_blocks=args.n_blocks),
        "G_BA": ResnetGenerator(c_b, c_a, ngf=args.ngf, n_blocks=args.n_blocks),
        "D_A": PatchDiscriminator(c_a, ndf=args.ndf, n_layers=args.d_layers, norm="instance"),
        "D_B": PatchDiscriminator(c_b, ndf=args.ndf, n_layers=args.d_layers, norm="instance"),
    }


def _as_rgb(x: Tensor, c: int) -> Tensor:
    return x.expand(-1, c, -1, -1) if x.shape[1] == 1 and c == 3 else x


def grid_rows(rows: list[Tensor]) -> Tensor:
    """K rows of N images as one (K*N, C, H, W) batch, channels unified."""
    c = max(r.shape[1] for r in rows)
    return torch.cat([_as_rgb(r.detach().cpu().float(), c) for r in rows])


@dataclass(frozen=True)
class Pix2PixArgs:
    """pix2pix's weights (``objective.args``): ``lambda_l1`` (100 in the paper) and the
    data direction (``BtoA`` swaps the data's domains)."""

    lambda_l1: float = 100.0
    direction: str = "AtoB"


@dataclass(frozen=True)
class CycleGANArgs:
    """CycleGAN's weights (``objective.args``).

    Attributes:
        lambda_cycle: cycle-consistency weight (10 in the paper).
        lambda_identity: identity weight, times ``lambda_cycle`` (0.5 in the paper).
        lambda_gan: weight of G's adversarial loss. The paper's G minimises
            ``E[(D(G(a)) - 1)^2]``, twice the registered ``lsgan`` G loss (which keeps
            Mao et al.'s 1/2), hence 2: the paper's balance against ``lambda_cycle``.
        pool_size: history of generated images D is updated on (50; 0 = off).
        direction: ``BtoA`` swaps the data's domains.
    """

    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    lambda_gan: float = 2.0
    pool_size: int = 50
    direction: str = "AtoB"


class TranslationObjective(Objective):
    """Shared data handling, sample rows and state of the two translation objectives."""

    ema: Mapping[str, str] = {}
    method = ""

    def __init__(self, cfg: TrainConfig, data: TensorData | TranslationData | None) -> None:
        args = self.parse_args(cfg)
        if args.direction not in ("AtoB", "BtoA"):
            raise ConfigError(f"objective.args.direction must be AtoB or BtoA: {args.direction!r}")
        pairs = data if isinstance(data, TranslationData) else self._load(cfg, args)
        if args.direction == "BtoA":
            pairs = TranslationData(
                pairs.b, pairs.a, pairs.paired, pairs.name, pairs.b_test, pairs.a_test,
                pairs.test_paired, pairs.skipped,
            )  # fmt: skip
        self.pairs = pairs
        self.networks_args = from_dict(TranslationNetworks, dict(cfg.model.args), "model.args")
        y = pairs.b if self.method == "pix2pix" else None
        super().__init__(cfg, TensorData(pairs.a, y, pairs.name, skipped=pairs.skipped))
        self.loss = build_loss(cfg.loss.name, **cfg.loss.args)
        # A fixed sample batch: held-out images when there are some, else the first train
        # ones, evenly spaced so a class-sorted held-out set shows every class.
        src_a = pairs.a_test if pairs.a_test is not None else pairs.a
        src_b = pairs.b_test if pairs.b_test is not None else pairs.b
        self.fixed_a = src_a[torch.linspace(0, len(src_a) - 1, min(8, len(src_a))).long()]
        self.fixed_b = src_b[torch.linspace(0, len(src_b) - 1, min(8, len(src_b))).long()]

    def _load(self, cfg: TrainConfig, args: Any) -> TranslationData:
        pairs = load_translation_data(
            cfg.data.spec,
            paired=self.method == "pix2pix",
            resolution=cfg.data.resolution,
            channels=cfg.data.channels,
            seed=cfg.seed,
        )
        if self.method == "pix2pix" and not pairs.paired:
            raise ConfigError(f"{pairs.name}: pix2pix needs paired data")
        return pairs

    def build_networks(self) -> dict[str, nn.Module]:
        return build_translation_networks(
            self.method, self.networks_args, self.pairs.channels, self.pairs.resolution
        )

    def translate(self, nets: Mapping[str, nn.Module], x: Tensor, direction: str) -> Tensor:
        """Eval-mode translation of (N, C, R, R) ``x`` (CPU in, CPU out)."""
        name = "G" if self.method == "pix2pix" else ("G_AB" if direction == "AtoB" else "G_BA")
        net = nets[name]
        was = net.training
        net.eval()
        try:
            with torch.no_grad():
                p = next(net.parameters())
                return net(x.to(p.device, p.dtype)).float().cpu()
        finally:
            net.train(was)

    def write_samples(self, nets: Mapping[str, nn.Module], path: Path, step: int) -> Path:
        """Grid rows: pix2pix: input, output, target; CycleGAN: A, G_AB(A), G_BA(G_AB(A)),
        B, G_BA(B), G_AB(G_BA(B))."""
        a, b = self.fixed_a, self.fixed_b
        if self.method == "pix2pix":
            rows = [a, self.translate(nets, a, "AtoB"), b]
        else:
            fb, fa = self.translate(nets, a, "AtoB"), self.translate(nets, b, "BtoA")
            rows = [
                a, fb, self.translate(nets, fb, "BtoA"), b, fa, self.translate(nets, fa, "AtoB")
            ]  # fmt: skip
        return save_grid(grid_rows(rows), path, nrow=len(a))

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "channels": list(self.pairs.channels),
            "resolution": self.pairs.resolution,
        }

    def describe(self) -> str:
        n_a, n_b = len(self.pairs.a), len(self.pairs.b)
        kind = "pairs" if self.pairs.paired else f"A and {n_b} B images"
        return f"{self.method} on {self.pairs.name} ({n_a} {kind})"


@OBJECTIVES.register("pix2pix", help="pix2pix: conditional GAN + L1, paired data (Isola 2017)")
class Pix2PixObjective(TranslationObjective):
    """U-Net G, PatchGAN D on (input, output) pairs, ``lambda_l1`` * L1 to the target."""

    name = "pix2pix"
    method = "pix2pix"
    args_type = Pix2PixArgs

    def step(self, ctx: StepContext) -> dict[str, Tensor]:
        G, D = ctx.nets["G"], ctx.nets["D"]
        a, b = ctx.next_batch()
        with ctx.autocast():
            fake = G(a)
            d_real = D(torch.cat([a, b], 1))
            d_fake = D(torch.cat([a, fake.detach()], 1))
        loss_d = 0.5 * self.loss.d(d_real, d_fake)  # halved, as in the paper
        ctx.update("D", loss_d)
        with ctx.autocast():
            g_fake = D(torch.cat([a, fake], 1))
        loss_gan = self.loss.g(None, g_fake)
        loss_l1 = (fake.float() - b).abs().mean()
        loss_g = loss_gan + self.args.lambda_l1 * loss_l1
        ctx.update("G", loss_g)
        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "loss_g_gan": loss_gan.detach(),
            "loss_l1": loss_l1.detach(),
        }


@OBJECTIVES.register("cyclegan", help="CycleGAN: two GANs + cycle consistency (Zhu et al. 2017)")
class CycleGANObjective(TranslationObjective):
    """Two generators, two PatchGANs, cycle and identity losses, history pools."""

    name = "cyclegan"
    method = "cyclegan"
    groups = {"G": ("G_AB", "G_BA"), "D": ("D_A", "D_B")}
    args_type = CycleGANArgs

    def __init__(self, cfg: TrainConfig, data: TensorData | TranslationData | None) -> None:
        super().__init__(cfg, data)
        seed = cfg.seed
        self.pools = {
            "A": HistoryPool(self.args.pool_size, seed=seed + 1),
            "B": HistoryPool(self.args.pool_size, seed=seed + 2),
        }
        c_a, c_b = self.pairs.channels
        # Identity maps B through G_AB, which only type-checks when channels agree.
        self.use_identity = self.args.lambda_identity > 0 and c_a == c_b
        self.batcher_b: PermutationBatcher | None = None

    def setup(self, ctx: StepContext) -> None:
        # Unpaired: B is drawn in its own order, so training never uses correspondences.
        self.batcher_b = PermutationBatcher(len(self.pairs.b), self.cfg.batch_size, ctx.generator)
        self._b = self.pairs.b.to(ctx.device)

    def step(self, ctx: StepContext) -> dict[str, Tensor]:
        assert self.batcher_b is not None
        n = ctx.nets
        a, _ = ctx.next_batch()
        b = self._b.index_select(0, ctx.local(self.batcher_b.next()))
        lam = self.args.lambda_cycle
        with ctx.autocast():
            fake_b, fake_a = n["G_AB"](a), n["G_BA"](b)
            rec_a, rec_b = n["G_BA"](fake_b), n["G_AB"](fake_a)
            pred_b, pred_a = n["D_B"](fake_b), n["D_A"](fake_a)
        loss_gan = self.args.lambda_gan * (self.loss.g(None, pred_b) + self.loss.g(None, pred_a))
        loss_cycle = (rec_a.float() - a).abs().mean() + (rec_b.float() - b).abs().mean()
        loss_g = loss_gan + lam * loss_cycle
        loss_idt = torch.zeros((), device=a.device)
        if self.use_identity:
            with ctx.autocast():
                idt_b, idt_a = n["G_AB"](b), n["G_BA"](a)
            loss_idt = (idt_b.float() - b).abs().mean() + (idt_a.float() - a).abs().mean()
            loss_g = loss_g + lam * self.args.lambda_identity * loss_idt
        ctx.update("G", loss_g)
        loss_d = torch.zeros((), device=a.device)
        for dom, real, fake in (("A", a, fake_a), ("B", b, fake_b)):
            with ctx.autocast():
                pr, pf = n[f"D_{dom}"](real), n[f"D_{dom}"](self.pools[dom].query(fake.detach()))
            loss_d = loss_d + self.loss.d(pr, pf)  # lsgan's 1/2 is the paper's halving
        ctx.update("D", loss_d)
        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "loss_g_gan": loss_gan.detach(),
            "loss_cycle": loss_cycle.detach(),
            "loss_identity": loss_idt.detach(),
        }

    def state_dict(self) -> dict[str, Any]:
        assert self.batcher_b is not None
        return {
            **super().state_dict(),
            "pools": {k: p.state_dict() for k, p in self.pools.items()},
            "batcher_b": self.batcher_b.state_dict(),
        }

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        for k, p in self.pools.items():
            p.load_state_dict(checkpoint["pools"][k])
        assert self.batcher_b is not None
        self.batcher_b.load_state_dict(checkpoint["batcher_b"])
