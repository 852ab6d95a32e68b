"""The adversarial game of one G and one D (Goodfellow et al. 2014), with the loss,
regularisers and augmentation the config names — the base of every noise-to-data family.

``GanObjective.step`` is Algorithm 1 of the paper: ``optim.d_steps`` D updates, then one G
update. The fake batch of the last D update is generated with gradients on and reused for
the G update (as PyTorch's DCGAN example does), saving one G forward pass per step. The
InfoGAN and class-conditional objectives (:mod:`.infogan`, :mod:`.conditional`) override
the step and reuse the pieces here: :meth:`GanObjective.d_loss` (loss + gradient penalty +
lazy R1 + label smoothing/flipping), :meth:`GanObjective.d_forward` (augmentation),
:meth:`GanObjective.g_regularizers` (path length).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.core.config import ConfigError, TrainConfig
from ganforge.core.imaging import save_samples
from ganforge.data.base import TensorData
from ganforge.data.builtin import mixture_centers
from ganforge.models import build_gan
from ganforge.models.base import DataBound, SampleWriter, StyleBased
from ganforge.training.augment import AdaptiveAugment, diff_augment
from ganforge.training.losses import build_loss
from ganforge.training.objective import OBJECTIVES, Objective, StepContext
from ganforge.training.objectives.chain_step import ChainStep, unsupported_reason
from ganforge.training.path_length import PathLengthPenalty
from ganforge.training.regularizers import clip_weights_, d_penalties, r1_due

Tensor = torch.Tensor

#: Offset of the fixed latents' seed from the run's seed: the sample grids show the same
#: latents at every step, drawn apart from the training draws.
FIXED_Z_SEED_OFFSET = 1_000_003


def adversarial_logs(
    loss_d: Tensor, loss_g: Tensor, d_real: Tensor, d_fake: Tensor
) -> dict[str, Tensor]:
    """The per-step numbers every adversarial objective logs (detached, no host sync)."""
    d_real, d_fake = d_real.detach().float(), d_fake.detach().float()
    return {
        "loss_d": loss_d.detach(),
        "loss_g": loss_g.detach(),
        "d_real": torch.sigmoid(d_real).mean(),
        "d_fake": torch.sigmoid(d_fake).mean(),
        "d_acc_real": (d_real > 0).float().mean(),
        "d_acc_fake": (d_fake < 0).float().mean(),
    }


@OBJECTIVES.register("gan", help="the adversarial game of G and D (Goodfellow et al. 2014)")
class GanObjective(Objective):
    """G against D with ``loss.name``'s losses, ``tricks.*`` and ``loss.args`` regularisers."""

    name = "gan"

    def __init__(self, cfg: TrainConfig, data: TensorData) -> None:
        super().__init__(cfg, data)
        tricks = cfg.tricks
        self.loss = build_loss(cfg.loss.name, **cfg.loss.args)
        if (tricks.label_smoothing or tricks.label_flip) and cfg.loss.name not in ("ns", "minimax"):
            raise ConfigError(
                "tricks.label_smoothing/label_flip apply to the BCE losses "
                f"(ns, minimax), not loss.name={cfg.loss.name!r}"
            )
        self.augment = self._make_augment()
        self.path_length = PathLengthPenalty() if tricks.pl_weight > 0 else None
        self.d_updates = 0  # D updates so far (R1's lazy interval counts these)
        self.fixed_z: Tensor | None = None
        self.chain_step: ChainStep | None = None
        self._mode_centers = mixture_centers(data.name)

    def _make_augment(self) -> Any:
        t = self.cfg.tricks
        if not (t.diffaugment or t.ada):
            return None
        if not self.data.is_image:
            raise ConfigError("tricks.diffaugment/ada need image data")
        if t.ada:
            return AdaptiveAugment(
                target=t.ada_target, policy=t.diffaugment or "color,translation,cutout"
            )
        policy = t.diffaugment
        return lambda x: diff_augment(x, policy=policy)

    # ------------------------------------------------------------------ networks
    def build_networks(self) -> dict[str, nn.Module]:
        G, D = build_gan(self.cfg, self.data.item_shape)
        if isinstance(G, DataBound):  # e.g. a text G records its data's vocabulary
            G.bind_data(self.data)
        if self.path_length is not None and not isinstance(G, StyleBased):
            raise ConfigError(
                "tricks.pl_weight needs a style-based generator (model.name = 'stylegan'), "
                f"not {self.cfg.model.name!r}"
            )
        self.fixed_z = G.make_z(self.cfg.log.n_samples, seed=self.cfg.seed + FIXED_Z_SEED_OFFSET)
        return {"G": G, "D": D}

    # ------------------------------------------------------------------ step pieces
    def latents(self, ctx: StepContext, n: int) -> Tensor:
        """This process's latents (n / world_size, z_dim) out of a global draw of ``n``."""
        G = ctx.nets["G"]
        return ctx.local(torch.randn(n, G.z_dim, generator=ctx.generator))

    @staticmethod
    def generate(ctx: StepContext, z: Tensor, *, with_grad: bool) -> Tensor:
        """G(z); without a graph unless the result feeds G's own update (saves memory in
        the extra D steps of ``optim.d_steps > 1``)."""
        if with_grad:
            return ctx.nets["G"](z)
        with torch.no_grad():
            return ctx.nets["G"](z)

    def d_forward(self, ctx: StepContext, x: Tensor) -> Tensor:
        """D's logits on (augmented, when configured) data; packed logits with PacGAN."""
        if self.augment is not None:
            x = self.augment(x)
        return ctx.nets["D"](x)

    def prepare_real(self, real: Tensor) -> Tensor:
        """Real batch for a D update; requires grad when R1 is due this update."""
        if r1_due(self.loss, self.d_updates):
            return real.detach().requires_grad_(True)
        return real

    def d_loss(
        self, ctx: StepContext, d_real: Tensor, d_fake: Tensor, real: Tensor, fake: Tensor
    ) -> Tensor:
        """D's adversarial loss plus its regularisers (gradient penalty, lazy R1)."""
        loss = self.adversarial_d_loss(d_real, d_fake)
        if self.loss.gp_weight > 0 or r1_due(self.loss, self.d_updates):
            loss = loss + d_penalties(
                self.loss,
                lambda x: self.d_forward(ctx, x),
                real,
                fake.detach(),
                d_real,
                step=self.d_updates,
            )
        if isinstance(self.augment, AdaptiveAugment):
            self.augment.update(d_real)
        self.d_updates += 1
        return loss

    def adversarial_d_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """D's adversarial loss on its logits (N,): ``loss.name``'s, or BCE with smoothed
        or flipped labels when ``tricks`` ask for them."""
        t = self.cfg.tricks
        if t.label_smoothing or t.label_flip:
            return self._bce_with_targets(d_real, d_fake)
        return self.loss.d(d_real, d_fake)

    def _bce_with_targets(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        """BCE with one-sided smoothed targets and randomly flipped labels."""
        t = self.cfg.tricks
        y_real = torch.full_like(d_real, 1.0 - t.label_smoothing, dtype=torch.float32)
        y_fake = torch.zeros_like(d_fake, dtype=torch.float32)
        if t.label_flip:
            flip_r = torch.rand(y_real.shape, device=y_real.device) < t.label_flip
            flip_f = torch.rand(y_fake.shape, device=y_fake.device) < t.label_flip
            y_real = torch.where(flip_r, 1.0 - y_real, y_real)
            y_fake = torch.where(flip_f, 1.0 - y_fake, y_fake)
        bce = F.binary_cross_entropy_with_logits
        return bce(d_real.float(), y_real) + bce(d_fake.float(), y_fake)

    def update_d(self, ctx: StepContext, loss: Tensor) -> None:
        """D's update, then WGAN's weight clipping when the loss asks for it."""
        ctx.update("D", loss)
        if self.loss.d_weight_clip > 0:
            clip_weights_(ctx.nets["D"], self.loss.d_weight_clip)

    def g_regularizers(self, ctx: StepContext, z: Tensor) -> Tensor | float:
        """Lazy path-length regularisation of G (StyleGAN2), on half the batch."""
        t = self.cfg.tricks
        if self.path_length is None or ctx.step % t.pl_interval:
            return 0.0
        half = z[: max(1, len(z) // 2)]
        return t.pl_weight * t.pl_interval * self.path_length(ctx.nets["G"], half)

    def step_logs(self) -> dict[str, Tensor]:
        """Numbers the augmentation adds to every logged step (ADA's p and r_t)."""
        return self.augment.stats() if isinstance(self.augment, AdaptiveAugment) else {}

    # ------------------------------------------------------------------ the step
    def setup(self, ctx: StepContext) -> None:
        """Chain networks (the 2-D mixtures' MLPs) train with hand-written gradients."""
        if unsupported_reason(self, ctx) is None:
            self.chain_step = ChainStep(self, ctx)

    def _hand_step(self, ctx: StepContext) -> ChainStep | None:
        """The hand-written step when it runs this run's steps (chain networks, fp32)."""
        return self.chain_step if ctx.precision == "fp32" else None

    def step_description(self, ctx: StepContext) -> str:
        if self._hand_step(ctx) is not None:
            return "hand-written gradients (G and D are plain MLPs; hand_gradients=false: autograd)"
        return ""

    def step(self, ctx: StepContext) -> dict[str, Tensor]:
        hand = self._hand_step(ctx)
        if hand is not None:
            loss_d, loss_g, d_real, d_fake = hand.step(ctx)
            return {**adversarial_logs(loss_d, loss_g, d_real, d_fake), **self.step_logs()}
        d_steps = self.cfg.optim.d_steps
        for i in range(d_steps):
            real, _ = ctx.next_batch()
            real = self.prepare_real(real)
            z = self.latents(ctx, self.cfg.batch_size)
            with ctx.autocast():
                fake = self.generate(ctx, z, with_grad=i == d_steps - 1)
                d_real = self.d_forward(ctx, real)
                d_fake = self.d_forward(ctx, fake.detach())
            loss_d = self.d_loss(ctx, d_real, d_fake, real, fake)
            self.update_d(ctx, loss_d)
        with ctx.autocast():
            g_fake = self.d_forward(ctx, fake)
            g_real = self.d_forward(ctx, real.detach()).detach() if self.loss.g_uses_real else None
        loss_g = self.loss.g(g_real, g_fake) + self.g_regularizers(ctx, z)
        ctx.update("G", loss_g)
        return {**adversarial_logs(loss_d, loss_g, d_real, d_fake), **self.step_logs()}

    # ------------------------------------------------------------------ outputs and state
    @torch.no_grad()
    def write_samples(self, nets: Mapping[str, nn.Module], path: Path, step: int) -> Path:
        """G_ema on the fixed latents: an image grid, a scatter plot of 2,500 points (2-D
        data needs many), or the generator's own modality writer (audio, text)."""
        G = nets["G_ema"]
        if self.fixed_z is None:
            raise RuntimeError("build_networks() draws the fixed latents; call it first")
        x = G.generate(self.fixed_z)
        if isinstance(G, SampleWriter):
            return G.write_samples(x, path)
        if not G.is_image:
            x = G.sample(2500, seed=self.cfg.seed + 7)
        return save_samples(x, path, title=f"step {step}", reference=self._mode_centers)

    def state_dict(self) -> dict[str, Any]:
        return {
            "d_updates": self.d_updates,
            "path_length": self.path_length.state_dict() if self.path_length else {},
            "augment": self.augment.state_dict()
            if isinstance(self.augment, AdaptiveAugment)
            else {},
        }

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        self.d_updates = int(checkpoint.get("d_updates", 0))
        if self.path_length is not None and checkpoint.get("path_length"):
            self.path_length.load_state_dict(checkpoint["path_length"])
        if isinstance(self.augment, AdaptiveAugment) and checkpoint.get("augment"):
            self.augment.load_state_dict(checkpoint["augment"])
