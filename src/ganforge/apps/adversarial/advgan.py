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

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.apps.adversarial.attacks import frozen_eval
from ganforge.data.base import TensorData

__all__ = [
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


def train_advgan(
    target: nn.Module,
    data: TensorData | torch.Tensor,
    *,
    eps: float,
    steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    gan_weight: float = 1.0,
    hinge_weight: float = 1.0,
    hinge_bound: float | None = None,
    kappa: float = 0.0,
    target_label: int | None = None,
    width: int = 16,
    n_res: int = 2,
    seed: int = 0,
    device: str | torch.device = "cpu",
    log_every: int = 50,
    progress: bool = False,
) -> AdvGANAttack:
    """Train an AdvGAN generator against a fixed classifier (Xiao et al. 2018).

    Labels are the target's own predictions on the clean images (so items it already
    misclassifies are not rewarded) — AdvGAN is a black box to the labels; only the
    target's logits are used, and its weights stay frozen (eval mode, no gradients).

    Args:
        target: classifier on [0, 1] images (N, C, H, W) -> logits (N, K).
        data: training images: a :class:`TensorData` (stored in [-1, 1]) or a tensor
            already in [0, 1]; labels are not needed.
        eps: L-inf bound of the perturbation (``eps * tanh`` output).
        steps: generator/discriminator updates (one of each per step).
        batch_size, lr: Adam (betas 0.5, 0.999) for both networks.
        gan_weight: ``alpha`` of the paper, weight of the LSGAN loss.
        hinge_weight: ``beta``, weight of the L2 hinge.
        hinge_bound: ``c`` of the hinge; default ``eps * sqrt(C*H*W) / 2``, half the largest
            L2 norm the L-inf bound allows, so the hinge only trims saturated perturbations.
        kappa: C&W confidence margin.
        target_label: train a targeted attack towards this class; None for untargeted.
        width, n_res: generator/discriminator width and residual blocks.
        seed: seeds initial weights and batch order.
        device: where to train.
        log_every: record losses and the batch's fooling rate every this many steps.
        progress: show a tqdm bar.

    Returns:
        The trained :class:`AdvGANAttack` (its ``history`` holds the training log).
    """
    x_all = _as_unit_images(data)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    n, c = x_all.shape[:2]
    dim = x_all[0].numel()
    bound = hinge_bound if hinge_bound is not None else eps * dim**0.5 / 2
    torch.manual_seed(seed)
    G = PerturbationGenerator(c, eps, width, n_res).to(device)
    D = AdvGANDiscriminator(c, width).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    order = torch.randperm(n, generator=gen)
    pos = 0
    it = range(1, steps + 1)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="advgan", unit="step")
    t0 = time.perf_counter()
    with frozen_eval(target):
        for step in it:
            if pos + batch_size > n:
                order, pos = torch.randperm(n, generator=gen), 0
            x = x_all[order[pos : pos + batch_size]].to(device)
            pos += batch_size
            with torch.no_grad():
                y = target(x).argmax(1)
            labels = torch.full_like(y, target_label) if target_label is not None else y

            x_adv = (x + G(x)).clamp(0, 1)
            # Discriminator: LSGAN, real -> 1, adversarial -> 0.
            d_loss = 0.5 * ((D(x) - 1).pow(2).mean() + D(x_adv.detach()).pow(2).mean())
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()

            # Generator: fool f, look real to D, keep ||delta||_2 under the hinge bound.
            logits = target(x_adv)
            l_adv = cw_margin_loss(logits, labels, targeted=target_label is not None, kappa=kappa)
            l_gan = (D(x_adv) - 1).pow(2).mean()
            delta = x_adv - x
            l_hinge = (delta.flatten(1).norm(dim=1) - bound).clamp(min=0).mean()
            g_loss = l_adv + gan_weight * l_gan + hinge_weight * l_hinge
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()

            if step % log_every == 0 or step == steps:
                pred = logits.argmax(1)
                fooled = (pred == labels) if target_label is not None else (pred != labels)
                rec = {
                    "step": step,
                    "d_loss": d_loss.item(),
                    "l_adv": l_adv.item(),
                    "l_gan": l_gan.item(),
                    "l_hinge": l_hinge.item(),
                    "fool_rate": fooled.float().mean().item(),
                    "seconds": time.perf_counter() - t0,
                }
                history.append(rec)
                if progress:
                    it.set_postfix(fool=f"{rec['fool_rate']:.2f}", adv=f"{rec['l_adv']:.2f}")
    return AdvGANAttack(G.eval(), target_label=target_label, history=history)
