"""InfoGAN's objective (Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel, NeurIPS 2016).

D: the usual adversarial loss plus ``lambda * L_I`` on the fake batch; G: its adversarial
loss plus ``lambda * L_I``. ``L_I`` (:func:`~ganforge.models.infogan.mutual_info_loss`) is
the negative variational MI bound. Q shares D's trunk and is trained in *both* updates, as
in the official implementation (openai/InfoGAN, ``infogan_trainer.py`` subtracts the MI
estimate from both the discriminator and the generator loss); G's update moves G only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ganforge.core.config import ConfigError, TrainConfig
from ganforge.data.base import TensorData
from ganforge.models.base import LatentCodes
from ganforge.models.infogan import InfoGANDiscriminator, mutual_info_loss, real_cluster_loss
from ganforge.training.augment import diff_augment, parse_policy
from ganforge.training.objective import OBJECTIVES, StepContext
from ganforge.training.objectives.gan import GanObjective, adversarial_logs

Tensor = torch.Tensor


@dataclass(frozen=True)
class InfoGANArgs:
    """InfoGAN's weights (``objective.args``).

    Attributes:
        lambda_cat, lambda_cont: mutual-information weights. The official code uses 1.0
            for all codes (fixed-std Gaussian Q); the paper (section 6) uses a smaller
            weight for continuous codes. Measured here: with ``lambda_cont=1`` and no
            augmented Q a continuous code took over digit identity (2<->8, 7<->9 along
            cont0) and the 10-way code stayed at 80% digit accuracy after 3,000 steps,
            hence 0.1 by default (the preset uses 1.0 with ``q_augment``).
        cont_warmup: ramp ``lambda_cont`` linearly from 0 over this many steps (0 = off),
            so the categorical code settles on the digits before the continuous codes pull.
        lambda_real: weight of :func:`~ganforge.models.infogan.real_cluster_loss` on Q's
            categorical predictions for *real* images in D's update (0 = the paper's
            InfoGAN). Regularized information maximisation (Krause et al. 2010; IMSAT, Hu
            et al. 2017): Q's categories cluster the real data, which G's codes follow.
        q_augment: an augmentation policy (:func:`ganforge.training.augment.diff_augment`
            names, e.g. ``"affine"``) applied to the images Q reads the categorical codes
            from; ``""`` (the paper) reads them from the images D scores. A Q that must
            recover the code from a rotated, sheared, rescaled copy cannot use slant or
            size for the categorical code (IMSAT's self-augmentation).
    """

    lambda_cat: float = 1.0
    lambda_cont: float = 0.1
    cont_warmup: int = 0
    lambda_real: float = 0.0
    q_augment: str = ""

    def __post_init__(self) -> None:
        for name in ("lambda_cat", "lambda_cont", "lambda_real"):
            if getattr(self, name) < 0:
                raise ConfigError(f"objective.args.{name} must be >= 0, got {getattr(self, name)}")
        if self.cont_warmup < 0:
            raise ConfigError(f"objective.args.cont_warmup must be >= 0, got {self.cont_warmup}")
        if self.q_augment:
            parse_policy(self.q_augment)  # unknown names fail here, naming the valid ones


@OBJECTIVES.register("infogan", help="InfoGAN: + mutual information of latent codes (Chen 2016)")
class InfoGANObjective(GanObjective):
    """The GAN game plus the mutual-information loss on both updates.

    With ``q_augment`` Q reads the categorical codes from a randomly warped copy of each
    image in a second pass through D; D's adversarial logits and the continuous codes (which
    may *be* rotation or width) still come from the images as they are.
    """

    name = "infogan"
    args_type = InfoGANArgs

    def __init__(self, cfg: TrainConfig, data: TensorData) -> None:
        super().__init__(cfg, data)
        if cfg.tricks.pac > 1:
            raise ConfigError("the infogan objective needs InfoGAN's own D; tricks.pac must be 1")

    def build_networks(self) -> dict[str, Any]:
        nets = super().build_networks()
        if not isinstance(nets["G"], LatentCodes) or not isinstance(
            nets["D"], InfoGANDiscriminator
        ):
            raise ConfigError(
                f"the infogan objective needs model.name = 'infogan', not {self.cfg.model.name!r}"
            )
        return nets

    def latents(self, ctx: StepContext, n: int) -> Tensor:
        """Noise and codes drawn from their priors, this process's share of ``n``."""
        return ctx.local(ctx.nets["G"].draw_latents(n, ctx.generator))

    def step(self, ctx: StepContext) -> dict[str, Tensor]:
        a: InfoGANArgs = self.args
        G, D = ctx.nets["G"], ctx.nets["D"]
        ramp = min(1.0, ctx.step / a.cont_warmup) if a.cont_warmup > 0 else 1.0
        lam = {"lambda_cat": a.lambda_cat, "lambda_cont": a.lambda_cont * ramp}

        def adv_and_q(x: Tensor) -> tuple[Tensor, Any]:
            logits, q = D(self.augment(x) if self.augment is not None else x, with_q=True)
            if a.q_augment:
                q.cat_logits = D(diff_augment(x, a.q_augment), with_q=True)[1].cat_logits
            return logits, q

        logs: dict[str, Tensor] = {}
        d_steps = self.cfg.optim.d_steps
        for i in range(d_steps):
            real, _ = ctx.next_batch()
            real = self.prepare_real(real)
            z = self.latents(ctx, self.cfg.batch_size)
            _, cat_idx, cont = G.split_latents(z)
            with ctx.autocast():
                fake = self.generate(ctx, z, with_grad=i == d_steps - 1)
                if a.lambda_real > 0:
                    d_real, q_real = adv_and_q(real)
                else:
                    d_real = self.d_forward(ctx, real)
                d_fake, q_fake = adv_and_q(fake.detach())
            info_d, _ = mutual_info_loss(q_fake, cat_idx, cont, **lam)
            loss_d = self.d_loss(ctx, d_real, d_fake, real, fake) + info_d
            if a.lambda_real > 0 and q_real.cat_logits:
                rim, h_cond = real_cluster_loss(q_real.cat_logits)
                loss_d = loss_d + a.lambda_real * rim
                logs = {"real_rim": rim.detach(), "real_h_cond": h_cond}
            self.update_d(ctx, loss_d)
        with ctx.autocast():
            g_fake, q_g = adv_and_q(fake)
            g_real = self.d_forward(ctx, real.detach()).detach() if self.loss.g_uses_real else None
        info_g, info_logs = mutual_info_loss(q_g, cat_idx, cont, **lam)
        loss_g = self.loss.g(g_real, g_fake) + info_g
        ctx.update("G", loss_g)
        logs.update(adversarial_logs(loss_d, loss_g, d_real, d_fake))
        logs["loss_info"] = info_g.detach()
        logs.update(info_logs)
        logs.update(self.step_logs())
        return logs
