"""Closed-form checks of every adversarial loss on hand-chosen logits."""

from __future__ import annotations

import math

import pytest
import torch

import ganforge.training.losses  # noqa: F401  (registers the losses)
from ganforge.core.registry import LOSSES, UnknownNameError
from ganforge.training.losses import AdversarialLoss, build_loss

# Logits chosen so every term is different and nothing is symmetric by accident.
REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 1.0])
MR, MF = REAL.mean().item(), FAKE.mean().item()  # 0.5, -1.0


def sp(t: float) -> float:
    """softplus, the reference for -log sigmoid(-t)."""
    return math.log1p(math.exp(t))


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


R, F_ = REAL.tolist(), FAKE.tolist()

EXPECTED = {
    # name: (D loss, G loss)
    "minimax": (mean(sp(-r) for r in R) + mean(sp(f) for f in F_), -mean(sp(f) for f in F_)),
    "ns": (mean(sp(-r) for r in R) + mean(sp(f) for f in F_), mean(sp(-f) for f in F_)),
    "wgan": (MF - MR, -MF),
    "wgan-gp": (MF - MR, -MF),
    "lsgan": (
        0.5 * mean((r - 1) ** 2 for r in R) + 0.5 * mean(f**2 for f in F_),
        0.5 * mean((f - 1) ** 2 for f in F_),
    ),
    "hinge": (
        mean(max(0.0, 1 - r) for r in R) + mean(max(0.0, 1 + f) for f in F_),
        -MF,
    ),
    "ragan": (
        mean(sp(-(r - MF)) for r in R) + mean(sp(f - MR) for f in F_),
        mean(sp(r - MF) for r in R) + mean(sp(-(f - MR)) for f in F_),
    ),
    "ralsgan": (
        mean((r - MF - 1) ** 2 for r in R) + mean((f - MR + 1) ** 2 for f in F_),
        mean((r - MF + 1) ** 2 for r in R) + mean((f - MR - 1) ** 2 for f in F_),
    ),
}


def test_every_registered_loss_has_a_closed_form_check():
    assert set(LOSSES.names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_closed_form(name):
    loss = LOSSES.get(name)
    want_d, want_g = EXPECTED[name]
    real_for_g = REAL if loss.g_uses_real else None
    assert loss.d(REAL, FAKE).item() == pytest.approx(want_d, rel=1e-6)
    assert loss.g(real_for_g, FAKE).item() == pytest.approx(want_g, rel=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_half_precision_logits_give_fp32_scalars(name):
    loss = LOSSES.get(name)
    r, f = REAL.bfloat16(), FAKE.bfloat16()
    d = loss.d(r, f)
    g = loss.g(r if loss.g_uses_real else None, f)
    assert d.dtype == torch.float32 and g.dtype == torch.float32
    assert d.dim() == 0 and g.dim() == 0
    # bf16 represents these logits exactly, so the values must match fp32.
    assert d.item() == pytest.approx(EXPECTED[name][0], rel=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gradients_point_the_right_way(name):
    """D's loss falls when real logits rise / fake logits fall; G's when fake ones rise.

    Small logits keep every loss inside its margins (LSGAN pulls real logits above 1 back
    down, which is correct, so large logits would not test the sign).
    """
    loss = LOSSES.get(name)
    real, fake = torch.tensor([0.2, -0.1, 0.1]), torch.tensor([-0.2, 0.3])
    r = real.clone().requires_grad_(True)
    f = fake.clone().requires_grad_(True)
    loss.d(r, f).backward()
    assert r.grad.sum() < 0 and f.grad.sum() > 0
    f2 = fake.clone().requires_grad_(True)
    loss.g(real if loss.g_uses_real else None, f2).backward()
    assert f2.grad.sum() < 0


def test_relativistic_g_needs_real_logits():
    with pytest.raises(ValueError, match="g_uses_real"):
        LOSSES.get("ragan").g(None, FAKE)
    assert LOSSES.get("ragan").g_uses_real and not LOSSES.get("ns").g_uses_real


def test_wgan_family_regularisation_defaults():
    assert LOSSES.get("wgan").d_weight_clip == 0.01 and LOSSES.get("wgan").gp_weight == 0
    assert LOSSES.get("wgan-gp").gp_weight == 10.0 and LOSSES.get("wgan-gp").d_weight_clip == 0
    assert LOSSES.get("ns").r1_gamma == 0


def test_bce_is_stable_for_huge_logits():
    big = torch.tensor([1e4, -1e4])
    assert torch.isfinite(LOSSES.get("ns").d(big, -big))
    assert LOSSES.get("ns").d(big[:1], -big[:1]).item() == pytest.approx(0.0, abs=1e-6)


def test_build_loss_overrides_and_validates():
    loss = build_loss("hinge", r1_gamma=10, r1_interval=16.0)
    assert isinstance(loss, AdversarialLoss)
    assert loss.r1_gamma == 10.0 and loss.r1_interval == 16 and loss.d is LOSSES.get("hinge").d
    assert build_loss("wgan-gp", gp_weight=5).gp_weight == 5.0
    with pytest.raises(ValueError, match="valid keys: gp_weight"):
        build_loss("ns", gamma=1.0)
    with pytest.raises(ValueError, match="r1_interval"):
        build_loss("ns", r1_interval=0)
    with pytest.raises(ValueError, match="gp_weight"):
        build_loss("ns", gp_weight=-1)
    with pytest.raises(UnknownNameError, match="Valid losses: .*wgan-gp"):
        build_loss("wgangp")


def test_a_loss_registered_in_its_own_file_trains(tmp_path):
    import dataclasses

    import ganforge
    import tests.plugins.my_losses  # noqa: F401  (registers "my-loss")
    from ganforge.core.config import LossConfig
    from tests.conftest import tiny_config

    cfg = dataclasses.replace(tiny_config(steps=2), loss=LossConfig(name="my-loss"))
    run = ganforge.train(cfg, tmp_path / "run")
    assert (run / "checkpoints" / "latest.pt").is_file()
    assert "my-loss" in (run / "config.toml").read_text()
