"""Training steps of the InfoGAN and class-conditional families, registered in ``STEPS``.

* ``infogan`` — Chen et al. 2016. D: the usual adversarial loss plus ``lambda * L_I`` on
  the fake batch; G: its adversarial loss plus ``lambda * L_I``. ``L_I`` (see
  :func:`~ganforge.models.infogan.mutual_info_loss`) is the negative variational MI
  bound. Q shares D's trunk and is trained in *both* updates, as in the official
  implementation (openai/InfoGAN, ``infogan_trainer.py`` subtracts the MI estimate from
  both the discriminator and the generator loss); G's update moves G only.
* ``conditional`` — projection discriminator (Miyato & Koyama 2018): real images are
  scored with their labels, fakes with the classes G was asked for (drawn uniformly).
* ``acgan`` — Odena et al. 2017: adversarial loss plus ``lambda_cls`` times the class
  cross-entropy of D's auxiliary head, for D on real and fake, for G on fake.

All three keep the engine's contract: ``optim.d_steps`` D updates, the fake batch of the
last one reused for the G update, regularisers through ``t.d_loss``, no host syncs.
Latents are drawn from ``t.train_gen`` (global draw, this process's slice), so resume
stays exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ganforge.training.distributed import local_slice
from ganforge.training.steps import STEPS

if TYPE_CHECKING:
    from ganforge.training.trainer import Trainer

Tensor = torch.Tensor


def draw_coded_latents(t: Trainer, n: int) -> Tensor:
    """This process's share of ``n`` latents (noise + codes) drawn from ``t.train_gen``."""
    z = t.G.draw_latents(n, t.train_gen)
    return z[local_slice(n, t.dist)].to(t.device)


def _augment(t: Trainer, x: Tensor) -> Tensor:
    return t.augment(x) if t.augment is not None else x


def _require(t: Trainer, attr: str, family: str) -> Any:
    D = t.D
    if not hasattr(D, attr):
        raise ValueError(
            f"the {family!r} step needs the {family} discriminator (D.{attr}); "
            f"got {type(D).__name__} — tricks.pac is not supported with this model"
        )
    return D


def _adv_logs(loss_d: Tensor, loss_g: Tensor, d_real: Tensor, d_fake: Tensor) -> dict[str, Tensor]:
    d_real, d_fake = d_real.detach().float(), d_fake.detach().float()
    return {
        "loss_d": loss_d.detach(),
        "loss_g": loss_g.detach(),
        "d_real": torch.sigmoid(d_real).mean(),
        "d_fake": torch.sigmoid(d_fake).mean(),
        "d_acc_real": (d_real > 0).float().mean(),
        "d_acc_fake": (d_fake < 0).float().mean(),
    }


@STEPS.register("infogan")
def infogan_step(t: Trainer) -> dict[str, Tensor]:
    """InfoGAN: the ``gan`` step plus the mutual-information loss on both updates.

    With ``model.args.q_augment`` (a policy of :mod:`ganforge.training.augment`) Q reads the
    categorical codes from a randomly warped copy of each image in a second pass through
    D; D's adversarial logits and the continuous codes (which may *be* rotation or width)
    still come from the images as they are.
    """
    from ganforge.models.infogan import mutual_info_loss, real_cluster_loss
    from ganforge.training.augment import diff_augment

    cfg = t.cfg
    D = _require(t, "q_from_features", "infogan")
    warmup = getattr(t.G, "cont_warmup", 0)
    ramp = min(1.0, t.step / warmup) if warmup > 0 else 1.0
    lam = {"lambda_cat": t.G.lambda_cat, "lambda_cont": t.G.lambda_cont * ramp}
    lam_real = getattr(t.G, "lambda_real", 0.0)
    q_policy = getattr(t.G, "q_augment", "")

    def adv_and_q(x: Tensor) -> tuple[Tensor, Any]:
        logits, q = D(_augment(t, x), with_q=True)
        if q_policy:
            q.cat_logits = D(diff_augment(x, q_policy), with_q=True)[1].cat_logits
        return logits, q

    logs: dict[str, Tensor] = {}
    for i in range(cfg.optim.d_steps):
        real, _ = t.next_batch()
        real = t.prepare_real(real)
        z = draw_coded_latents(t, cfg.batch_size)
        _, cat_idx, cont = t.G.split_latents(z)
        last = i == cfg.optim.d_steps - 1
        with t.autocast():
            fake = t.generate(z, with_grad=last)
            if lam_real > 0:
                d_real, q_real = adv_and_q(real)
            else:
                d_real = t.D_forward(real)
            d_fake, q_fake = adv_and_q(fake.detach())
        info_d, _ = mutual_info_loss(q_fake, cat_idx, cont, **lam)
        loss_d = t.d_loss(d_real, d_fake, real, fake) + info_d
        if lam_real > 0 and q_real.cat_logits:
            rim, h_cond = real_cluster_loss(q_real.cat_logits)
            loss_d = loss_d + lam_real * rim
            logs = {"real_rim": rim.detach(), "real_h_cond": h_cond}
        t.backward_step("D", loss_d)
    with t.autocast():
        g_fake, q_g = adv_and_q(fake)
        g_real = t.D_forward(real.detach()).detach() if t.loss.g_uses_real else None
    info_g, info_logs = mutual_info_loss(q_g, cat_idx, cont, **lam)
    loss_g = t.loss.g(g_real, g_fake) + info_g
    t.backward_step("G", loss_g)
    logs.update(_adv_logs(loss_d, loss_g, d_real, d_fake))
    logs["loss_info"] = info_g.detach()
    logs.update(info_logs)
    return logs


def _labels_or_fail(t: Trainer, labels: Tensor | None) -> Tensor:
    if labels is None:
        raise ValueError(
            f"needs labels: model {t.cfg.model.name!r} is class-conditional but data "
            f"{t.data.name!r} has none — use a labelled source (a folder with one "
            "sub-folder per class, an .npz with x and y, or mnist5k) and data.labels = true"
        )
    return labels


def check_num_classes(t: Trainer) -> None:
    """Fail early when the data's class count differs from G's ``num_classes``."""
    k = t.data.num_classes
    if k and k != t.G.num_classes:
        raise ValueError(
            f"data {t.data.name!r} has {k} classes but model.args.num_classes = "
            f"{t.G.num_classes}; set --set model.args.num_classes={k}"
        )


def _draw_classes(t: Trainer, n: int) -> tuple[Tensor, Tensor]:
    z = draw_coded_latents(t, n)
    _, cat_idx, _ = t.G.split_latents(z)
    return z, cat_idx[:, 0]


@STEPS.register("conditional")
def conditional_step(t: Trainer) -> dict[str, Tensor]:
    """Projection-discriminator cGAN: D(x, y) on (real, label) and (fake, asked class)."""
    cfg = t.cfg
    D = _require(t, "embed", "cgan")
    check_num_classes(t)
    for i in range(cfg.optim.d_steps):
        real, labels = t.next_batch()
        labels = _labels_or_fail(t, labels)
        real = t.prepare_real(real)
        z, y_fake = _draw_classes(t, cfg.batch_size)
        last = i == cfg.optim.d_steps - 1
        with t.autocast():
            fake = t.generate(z, with_grad=last)
            d_real = D(_augment(t, real), labels)
            d_fake = D(_augment(t, fake.detach()), y_fake)
        loss_d = t.d_loss(d_real, d_fake, real, fake)
        t.backward_step("D", loss_d)
    with t.autocast():
        g_fake = D(_augment(t, fake), y_fake)
        g_real = D(_augment(t, real.detach()), labels).detach() if t.loss.g_uses_real else None
    loss_g = t.loss.g(g_real, g_fake)
    t.backward_step("G", loss_g)
    return _adv_logs(loss_d, loss_g, d_real, d_fake)


@STEPS.register("acgan")
def acgan_step(t: Trainer) -> dict[str, Tensor]:
    """AC-GAN: adversarial loss + ``lambda_cls`` * class cross-entropy (D: real and fake)."""
    cfg = t.cfg
    D = _require(t, "classify", "cgan")
    check_num_classes(t)
    lam = float(getattr(t.G, "lambda_cls", 1.0))
    for i in range(cfg.optim.d_steps):
        real, labels = t.next_batch()
        labels = _labels_or_fail(t, labels)
        real = t.prepare_real(real)
        z, y_fake = _draw_classes(t, cfg.batch_size)
        last = i == cfg.optim.d_steps - 1
        with t.autocast():
            fake = t.generate(z, with_grad=last)
            d_real, c_real = D.classify(_augment(t, real))
            d_fake, c_fake = D.classify(_augment(t, fake.detach()))
        cls_d = F.cross_entropy(c_real.float(), labels) + F.cross_entropy(c_fake.float(), y_fake)
        loss_d = t.d_loss(d_real, d_fake, real, fake) + lam * cls_d
        t.backward_step("D", loss_d)
    with t.autocast():
        g_fake, c_g = D.classify(_augment(t, fake))
        g_real = D.classify(_augment(t, real.detach()))[0].detach() if t.loss.g_uses_real else None
    cls_g = F.cross_entropy(c_g.float(), y_fake)
    loss_g = t.loss.g(g_real, g_fake) + lam * cls_g
    t.backward_step("G", loss_g)
    logs = _adv_logs(loss_d, loss_g, d_real, d_fake)
    logs["cls_real_acc"] = (c_real.detach().argmax(1) == labels).float().mean()
    logs["cls_fake_acc"] = (c_g.detach().argmax(1) == y_fake).float().mean()
    return logs
