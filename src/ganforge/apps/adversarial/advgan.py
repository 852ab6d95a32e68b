"""AdvGAN: a generator of adversarial perturbations, trained once, attacking in one pass.

Xiao, Li, Zhu, He, Liu & Song, "Generating Adversarial Examples with Adversarial
Networks", IJCAI 2018 (arXiv:1801.02610). A generator ``G`` maps an image ``x`` to a
perturbation; ``x + G(x)`` should fool a fixed target classifier ``f`` and look real to a
discriminator ``D``. The generator minimises (paper's eq. 4)

    L = L_adv^f + alpha * L_GAN + beta * L_hinge

* ``L_adv^f`` — the Carlini–Wagner margin loss on the target's logits ``Z``:
  untargeted ``max(Z_y - max_{i != y} Z_i, -kappa)``, targeted
  ``max(max_{i != t} Z_i - Z_t, -kappa)``;
* ``L_GAN`` — least-squares GAN loss (Mao et al. 2017), as the paper uses:
  ``D`` regresses real images to 1 and adversarial ones to 0, ``G`` pushes ``D(x + G(x))``
  to 1;
* ``L_hinge = max(0, ||G(x)||_2 - c)`` — a soft bound on the perturbation's L2 norm.

Here the perturbation is also hard-bounded in L-inf: ``G`` ends in ``eps * tanh``, so every
output lies in the same threat model as FGSM/PGD at that ``eps`` and the numbers compare.
The networks follow the paper's appendix in spirit (a small conv encoder, residual blocks
and a transposed-conv decoder with instance norm; a strided-conv discriminator), scaled
down to train on a CPU in minutes. Images are in [0, 1] on the attack side.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.apps.adversarial.attacks import frozen_eval
from ganforge.core.config import (
    ConfigError,
    DataConfig,
    LogConfig,
    LossConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimConfig,
    TrainConfig,
)
from ganforge.core.imaging import save_grid
from ganforge.data.base import TensorData
from ganforge.training.losses import build_loss
from ganforge.training.objective import OBJECTIVES, Objective, StepContext

Tensor = torch.Tensor

__all__ = [
    "AdvGANArgs",
    "AdvGANObjective",
    "PerturbationGenerator",
    "AdvGANDiscriminator",
    "AdvGANAttack",
    "cw_margin_loss",
    "train_advgan",
]


class _ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, padding=1, bias=False),
            nn.InstanceNorm2d(ch, affine=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(ch, ch, 3, padding=1, bias=False),
            nn.InstanceNorm2d(ch, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class PerturbationGenerator(nn.Module):
    """Encoder (two stride-2 convs) - residual blocks - decoder, ending in ``eps * tanh``.

    Args:
        channels: image channels C.
        eps: L-inf bound of the output.
        width: channels of the first layer (then 2x, 4x).
        n_res: residual blocks at 1/4 resolution.

    Shape:
        (N, C, H, W) in [0, 1] -> perturbation (N, C, H, W) in [-eps, eps]; H, W divisible by 4.
    """

    def __init__(self, channels: int = 1, eps: float = 0.3, width: int = 16, n_res: int = 2):
        super().__init__()
        self.args = dict(channels=channels, eps=eps, width=width, n_res=n_res)
        self.eps = eps
        w = width

        def down(i: int, o: int, k: int, s: int) -> list[nn.Module]:
            return [
                nn.Conv2d(i, o, k, s, k // 2 - (s == 2), bias=False),
                nn.InstanceNorm2d(o, affine=True),
                nn.ReLU(inplace=True),
            ]

        def up(i: int, o: int) -> list[nn.Module]:
            return [
                nn.ConvTranspose2d(i, o, 4, 2, 1, bias=False),
                nn.InstanceNorm2d(o, affine=True),
                nn.ReLU(inplace=True),
            ]

        self.net = nn.Sequential(
            *down(channels, w, 3, 1),
            *down(w, 2 * w, 4, 2),
            *down(2 * w, 4 * w, 4, 2),
            *[_ResBlock(4 * w) for _ in range(n_res)],
            *up(4 * w, 2 * w),
            *up(2 * w, w),
            nn.Conv2d(w, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"AdvGAN's generator needs H, W divisible by 4, got {x.shape[-2:]}")
        # The network sees [-1, 1] (centred inputs train better); the output is a delta.
        return self.eps * torch.tanh(self.net(x * 2 - 1))


class AdvGANDiscriminator(nn.Module):
    """Strided convs with leaky ReLU; the patch scores are averaged into one logit per image.

    Shape:
        (N, C, H, W) in [0, 1] -> (N,) real-vs-adversarial scores (LSGAN targets 1 / 0).
    """

    def __init__(self, channels: int = 1, width: int = 16) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False),
            nn.InstanceNorm2d(2 * w, affine=True),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * w, 1, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1).mean(dim=(1, 2, 3))


def cw_margin_loss(
    logits: torch.Tensor, y: torch.Tensor, *, targeted: bool = False, kappa: float = 0.0
) -> torch.Tensor:
    """Carlini & Wagner (2017) margin loss, averaged over the batch.

    Args:
        logits: (N, K) target-classifier logits.
        y: (N,) true labels (untargeted) or target labels (targeted).
        targeted: push towards ``y`` instead of away from it.
        kappa: confidence margin; the loss stops decreasing once the margin exceeds it.

    Returns:
        Scalar: mean of ``max(Z_y - max_{i != y} Z_i, -kappa)`` (untargeted) or
        ``max(max_{i != y} Z_i - Z_y, -kappa)`` (targeted).
    """
    z_y = logits.gather(1, y[:, None]).squeeze(1)
    # Mask the label's own logit with -inf so the max runs over the other classes.
    others = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf"))
    z_other = others.max(1).values
    margin = z_other - z_y if targeted else z_y - z_other
    return margin.clamp(min=-kappa).mean()


class AdvGANAttack:
    """A trained AdvGAN generator as an attack: ``attack(x) -> x_adv`` in one forward pass.

    Attributes:
        G: the :class:`PerturbationGenerator` (eval mode).
        eps: its L-inf bound.
        target_label: the class a targeted AdvGAN pushes to, or None (untargeted).
        history: training log, one dict per logged step (empty after :meth:`load`).
    """

    def __init__(
        self,
        G: PerturbationGenerator,
        *,
        target_label: int | None = None,
        history: list[dict[str, float]] | None = None,
    ) -> None:
        self.G = G.eval()
        self.eps = G.eps
        self.target_label = target_label
        self.history = history or []

    @torch.no_grad()
    def perturbation(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) in [0, 1] -> the generator's perturbation, in [-eps, eps]."""
        dev = next(self.G.parameters()).device
        return self.G(x.to(dev)).to(x.device)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Adversarial images ``clip_[0,1](x + G(x))`` for (N, C, H, W) ``x`` in [0, 1].

        ``y`` is accepted (and ignored) so the attack has the same call shape as
        ``fgsm``/``pgd``: AdvGAN needs no labels at attack time.
        """
        return (x + self.perturbation(x)).clamp(0, 1)

    def to(self, device: str | torch.device) -> AdvGANAttack:
        self.G.to(device)
        return self

    def save(self, path: str | Path) -> Path:
        """Write the generator as safetensors, its arguments in the metadata."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        sd = {k: v.detach().cpu().contiguous() for k, v in self.G.state_dict().items()}
        meta = {"kind": "advgan", "args": json.dumps(self.G.args)}
        if self.target_label is not None:
            meta["target_label"] = str(self.target_label)
        tmp = path.with_name(f".{path.name}.tmp")
        save_file(sd, str(tmp), metadata=meta)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "cpu") -> AdvGANAttack:
        """Read an attack written by :meth:`save`."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"AdvGAN weights not found: {path}")
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        if meta.get("kind") != "advgan":
            raise ValueError(f"{path} is not an AdvGAN generator (no kind=advgan metadata)")
        G = PerturbationGenerator(**json.loads(meta["args"]))
        G.load_state_dict(sd)
        tl = meta.get("target_label")
        return cls(G.to(device), target_label=int(tl) if tl is not None else None)


def _as_unit_images(data: TensorData | torch.Tensor) -> torch.Tensor:
    if isinstance(data, TensorData):
        if not data.is_image:
            raise ValueError(f"AdvGAN needs images (N, C, H, W); {data.name} has {data.item_shape}")
        return (data.x.float() + 1) / 2  # library [-1, 1] -> attack [0, 1]
    return data.float()


@dataclass(frozen=True)
class AdvGANArgs:
    """AdvGAN's settings (``objective.args``).

    Attributes:
        eps: L-inf bound of the perturbation (``eps * tanh`` output).
        gan_weight: ``alpha`` of the paper times 2: the paper's LSGAN term is
            ``E[(D(x + G(x)) - 1)^2]``, twice the registered ``lsgan`` G loss.
        hinge_weight: ``beta``, weight of the L2 hinge.
        hinge_bound: ``c`` of the hinge; 0 means ``eps * sqrt(C*H*W) / 2``, half the
            largest L2 norm the L-inf bound allows, so the hinge only trims saturated
            perturbations.
        kappa: C&W confidence margin.
        target_label: train a targeted attack towards this class; -1 for untargeted.
        target: the attacked classifier: ``lenet`` or a weights file
            (:func:`~ganforge.apps.adversarial.classifier.load_target`).
    """

    eps: float = 0.3
    gan_weight: float = 2.0
    hinge_weight: float = 1.0
    hinge_bound: float = 0.0
    kappa: float = 0.0
    target_label: int = -1
    target: str = "lenet"


@OBJECTIVES.register("advgan", help="AdvGAN: a generator of adversarial perturbations (Xiao 2018)")
class AdvGANObjective(Objective):
    """G perturbs, D tells clean from perturbed, the frozen target classifier is fooled.

    Labels are the target's own predictions on the clean images (so items it already
    misclassifies are not rewarded) — AdvGAN is a black box to the labels; only the
    target's logits are used, and its weights stay frozen (eval mode, no gradients).
    """

    name = "advgan"
    ema: Mapping[str, str] = {}
    args_type = AdvGANArgs

    def __init__(self, cfg: TrainConfig, data: TensorData, target: nn.Module | None = None) -> None:
        super().__init__(cfg, data)
        a: AdvGANArgs = self.args
        if not data.is_image or data.x.shape[-1] % 4 or data.x.shape[-2] % 4:
            raise ConfigError(
                f"AdvGAN needs images with sides divisible by 4, got {data.item_shape}"
            )
        if target is None:
            from ganforge.apps.adversarial.classifier import load_target

            target = load_target(a.target)
        self.target = target
        self.loss = build_loss(cfg.loss.name, **cfg.loss.args)
        self.bound = a.hinge_bound or a.eps * math.prod(data.item_shape) ** 0.5 / 2
        self.fixed = (data.x[:8] + 1) / 2

    def build_networks(self) -> dict[str, nn.Module]:
        c = self.data.item_shape[0]
        width = int(self.cfg.model.args.get("width", 16))
        n_res = int(self.cfg.model.args.get("n_res", 2))
        return {
            "G": PerturbationGenerator(c, self.args.eps, width, n_res),
            "D": AdvGANDiscriminator(c, width),
        }

    def setup(self, ctx: StepContext) -> None:
        self.target.to(ctx.device)

    def step(self, ctx: StepContext) -> dict[str, Tensor]:
        a: AdvGANArgs = self.args
        G, D = ctx.nets["G"], ctx.nets["D"]
        x, _ = ctx.next_batch()
        x = (x + 1) / 2
        with frozen_eval(self.target):
            with torch.no_grad():
                y = self.target(x).argmax(1)
            labels = torch.full_like(y, a.target_label) if a.target_label >= 0 else y
            with ctx.autocast():
                x_adv = (x + G(x)).clamp(0, 1)
                d_real, d_fake = D(x), D(x_adv.detach())
            loss_d = self.loss.d(d_real, d_fake)  # LSGAN: clean -> 1, adversarial -> 0
            ctx.update("D", loss_d)
            # G: fool f, look real to D, keep ||delta||_2 under the hinge bound.
            with ctx.autocast():
                logits = self.target(x_adv).float()
                d_adv = D(x_adv)
            l_adv = cw_margin_loss(logits, labels, targeted=a.target_label >= 0, kappa=a.kappa)
            l_gan = self.loss.g(None, d_adv)
            delta = (x_adv - x).float()
            l_hinge = (delta.flatten(1).norm(dim=1) - self.bound).clamp(min=0).mean()
            loss_g = l_adv + a.gan_weight * l_gan + a.hinge_weight * l_hinge
            ctx.update("G", loss_g)
        pred = logits.detach().argmax(1)
        fooled = (pred == labels) if a.target_label >= 0 else (pred != labels)
        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "l_adv": l_adv.detach(),
            "l_gan": l_gan.detach(),
            "l_hinge": l_hinge.detach(),
            "fool_rate": fooled.float().mean(),
        }

    @torch.no_grad()
    def write_samples(self, nets: Mapping[str, nn.Module], path: Path, step: int) -> Path:
        """Rows: clean images, perturbations (scaled to the full range), adversarial images."""
        G = nets["G"]
        was = G.training
        G.eval()
        try:
            x = self.fixed.to(next(G.parameters()).device)
            delta = G(x).float().cpu()
        finally:
            G.train(was)
        x = x.cpu()
        adv = (x + delta).clamp(0, 1)
        rows = torch.cat([x * 2 - 1, delta / self.args.eps, adv * 2 - 1])
        return save_grid(rows, path, nrow=len(x))


def train_advgan(
    target: nn.Module,
    data: TensorData | torch.Tensor,
    *,
    eps: float,
    steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    gan_weight: float = 2.0,
    hinge_weight: float = 1.0,
    hinge_bound: float | None = None,
    kappa: float = 0.0,
    target_label: int | None = None,
    width: int = 16,
    n_res: int = 2,
    seed: int = 0,
    device: str | torch.device = "cpu",
    precision: str = "auto",
    log_every: int = 50,
    progress: bool = False,
    out: str | Path | None = None,
) -> AdvGANAttack:
    """Train an AdvGAN generator against a fixed classifier (Xiao et al. 2018) on the shared
    engine (non-finite guard, exact resume, precision, run folder).

    Args:
        target: classifier on [0, 1] images (N, C, H, W) -> logits (N, K).
        data: training images: a :class:`TensorData` (stored in [-1, 1]) or a tensor
            already in [0, 1]; labels are not needed.
        eps, gan_weight, hinge_weight, hinge_bound, kappa, target_label: see
            :class:`AdvGANArgs` (None: the default hinge bound; untargeted).
        steps: generator/discriminator updates (one of each per step).
        batch_size, lr: Adam (betas 0.5, 0.999) for both networks.
        width, n_res: generator/discriminator width and residual blocks.
        seed: seeds initial weights and batch order.
        device: where to train.
        precision: ``auto`` (measured fastest), ``fp32``, ``bf16`` or ``fp16``.
        log_every: record losses and the batch's fooling rate every this many steps.
        progress: show a progress bar.
        out: the run folder (config.toml, checkpoints, metrics.jsonl, samples, report);
            default a temporary folder removed afterwards.

    Returns:
        The trained :class:`AdvGANAttack` (its ``history`` holds the logged records).
    """
    from ganforge.training.trainer import Trainer
    from ganforge.ui.report import ReportCallback

    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    x01 = _as_unit_images(data)
    args = AdvGANArgs(
        eps=eps, gan_weight=gan_weight, hinge_weight=hinge_weight,
        hinge_bound=hinge_bound or 0.0, kappa=kappa,
        target_label=-1 if target_label is None else int(target_label),
        target="(given in Python)",
    )  # fmt: skip
    cfg = TrainConfig(
        seed=seed,
        steps=steps,
        batch_size=min(batch_size, len(x01)),
        device=str(device),
        precision=precision,
        data=DataConfig(spec=getattr(data, "name", "") or "tensor", labels=False),
        model=ModelConfig("advgan", 0, {"width": width, "n_res": n_res}),
        loss=LossConfig("lsgan"),
        objective=ObjectiveConfig("advgan", dataclasses.asdict(args)),
        optim=OptimConfig("adam", lr, lr, 0.5, 0.999),
        log=LogConfig(every=log_every, sample_every=max(log_every, steps // 4), ckpt_every=steps,
                      n_samples=8, progress=progress),
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        if out is None:
            out = stack.enter_context(tempfile.TemporaryDirectory(prefix="advgan-"))
        objective = AdvGANObjective(cfg, TensorData(x01 * 2 - 1, name=cfg.data.spec), target)
        trainer = Trainer(cfg, out, objective=objective, callbacks=[ReportCallback()])
        trainer.run()
        history = [r for r in trainer.run_folder.records() if "event" not in r]
    # the default layout again: trained in NHWC, it would answer slightly differently from
    # the same weights loaded back
    G = trainer.nets["G"].eval().to(memory_format=torch.contiguous_format)
    return AdvGANAttack(G, target_label=target_label, history=history)
