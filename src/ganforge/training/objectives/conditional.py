"""Class-conditional objectives of the ``cgan`` family.

* ``conditional`` — projection discriminator (Miyato & Koyama 2018): real images are
  scored with their labels, fakes with the classes G was asked for (drawn uniformly).
* ``acgan`` — Odena, Olah & Shlens 2017: adversarial loss plus ``lambda_cls`` times the
  class cross-entropy of D's auxiliary head, for D on real and fake, for G on fake.

Both keep the GAN step's contract: ``optim.d_steps`` D updates, the fake batch of the last
one reused for the G update, regularisers through :meth:`GanObjective.d_loss`, no host
syncs. Classes are drawn from the run's generator (a global draw, this process's slice).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganforge.core.config import ConfigError, TrainConfig
from ganforge.data.base import TensorData
from ganforge.models.base import ClassConditional
from ganforge.models.conditional import ConditionalDiscriminator
from ganforge.training.objective import OBJECTIVES, StepContext
from ganforge.training.objectives.gan import GanObjective, adversarial_logs

Tensor = torch.Tensor


class _ClassConditionalObjective(GanObjective):
    """Shared checks and draws of the two class-conditional objectives."""

    d_mode = ""

    def __init__(self, cfg: TrainConfig, data: TensorData) -> None:
        super().__init__(cfg, data)
        if data.y is None:
            raise ConfigError(
                f"model {cfg.model.name!r} is class-conditional but data {data.name!r} has no "
                "labels — use a labelled source (a folder with one sub-folder per class, an "
                ".npz with x and y, or mnist5k) and data.labels = true"
            )
        if cfg.tricks.pac > 1:
            raise ConfigError(
                f"the {self.name} objective scores (image, label) pairs; set tricks.pac = 1"
            )

    def build_networks(self) -> dict[str, torch.nn.Module]:
        nets = super().build_networks()
        G, D = nets["G"], nets["D"]
        if not isinstance(G, ClassConditional) or not isinstance(D, ConditionalDiscriminator):
            raise ConfigError(f"the {self.name} objective needs model.name = 'cgan'")
        if D.mode != self.d_mode:
            raise ConfigError(
                f"the {self.name} objective needs model.args.mode = {self.d_mode!r}, got {D.mode!r}"
            )
        k = self.data.num_classes
        if k and k != G.num_classes:
            raise ConfigError(
                f"data {self.data.name!r} has {k} classes but model.args.num_classes = "
                f"{G.num_classes}; set --set model.args.num_classes={k}"
            )
        return nets

    def latents_and_classes(self, ctx: StepContext, n: int) -> tuple[Tensor, Tensor]:
        """Latents with a uniformly drawn class code, and those classes (this process's)."""
        z = ctx.local(ctx.nets["G"].draw_latents(n, ctx.generator))
        _, cat_idx, _ = ctx.nets["G"].split_latents(z)
        return z, cat_idx[:, 0]

    def augmented(self, x: Tensor) -> Tensor:
        return self.augment(x) if self.augment is not None else x


@OBJECTIVES.register("conditional", help="projection-discriminator cGAN (Miyato & Koyama 2018)")
class ProjectionObjective(_ClassConditionalObjective):
    """D(x, y) on (real, label) and (fake, asked class)."""

    name = "conditional"
    d_mode = "projection"

    def step(self, ctx: StepContext) -> dict[str, Tensor]:
        D = ctx.nets["D"]
        d_steps = self.cfg.optim.d_steps
        for i in range(d_steps):
            real, labels = ctx.next_batch()
            real = self.prepare_real(real)
            z, y_fake = self.latents_and_classes(ctx, self.cfg.batch_size)
            with ctx.autocast():
                fake = self.generate(ctx, z, with_grad=i == d_steps - 1)
                d_real = D(self.augmented(real), labels)
                d_fake = D(self.augmented(fake.detach()), y_fake)
            loss_d = self.d_loss(ctx, d_real, d_fake, real, fake)
            self.update_d(ctx, loss_d)
        with ctx.autocast():
            g_fake = D(self.augmented(fake), y_fake)
            g_real = (
                D(self.augmented(real.detach()), labels).detach() if self.loss.g_uses_real else None
            )
        loss_g = self.loss.g(g_real, g_fake)
        ctx.update("G", loss_g)
        return {**adversarial_logs(loss_d, loss_g, d_real, d_fake), **self.step_logs()}


@dataclass(frozen=True)
class ACGANArgs:
    """AC-GAN's weight (``objective.args``): ``lambda_cls`` scales the class cross-entropy."""

    lambda_cls: float = 1.0

    def __post_init__(self) -> None:
        if self.lambda_cls < 0:
            raise ConfigError(f"objective.args.lambda_cls must be >= 0, got {self.lambda_cls}")


@OBJECTIVES.register("acgan", help="AC-GAN: + auxiliary class cross-entropy (Odena et al. 2017)")
class ACGANObjective(_ClassConditionalObjective):
    """Adversarial loss + ``lambda_cls`` * class cross-entropy (D: real and fake; G: fake)."""

    name = "acgan"
    d_mode = "acgan"
    args_type = ACGANArgs

    def step(self, ctx: StepContext) -> dict[str, Tensor]:
        D = ctx.nets["D"]
        lam = self.args.lambda_cls
        d_steps = self.cfg.optim.d_steps
        for i in range(d_steps):
            real, labels = ctx.next_batch()
            real = self.prepare_real(real)
            z, y_fake = self.latents_and_classes(ctx, self.cfg.batch_size)
            with ctx.autocast():
                fake = self.generate(ctx, z, with_grad=i == d_steps - 1)
                d_real, c_real = D.classify(self.augmented(real))
                d_fake, c_fake = D.classify(self.augmented(fake.detach()))
            cls_d = F.cross_entropy(c_real.float(), labels) + F.cross_entropy(
                c_fake.float(), y_fake
            )
            loss_d = self.d_loss(ctx, d_real, d_fake, real, fake) + lam * cls_d
            self.update_d(ctx, loss_d)
        with ctx.autocast():
            g_fake, c_g = D.classify(self.augmented(fake))
            g_real = (
                D.classify(self.augmented(real.detach()))[0].detach()
                if self.loss.g_uses_real
                else None
            )
        cls_g = F.cross_entropy(c_g.float(), y_fake)
        loss_g = self.loss.g(g_real, g_fake) + lam * cls_g
        ctx.update("G", loss_g)
        logs = adversarial_logs(loss_d, loss_g, d_real, d_fake)
        logs["cls_real_acc"] = (c_real.detach().argmax(1) == labels).float().mean()
        logs["cls_fake_acc"] = (c_g.detach().argmax(1) == y_fake).float().mean()
        return {**logs, **self.step_logs()}
