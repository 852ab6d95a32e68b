"""Optimizers by name reduce a quadratic; schedules give the expected learning rates."""

from __future__ import annotations

import math

import pytest
import torch

from ganforge.core.registry import OPTIMIZERS, UnknownNameError
from ganforge.training.optim import SCHEDULES, build_optimizer, check_schedule, lr_factor

LRS = {"adam": 0.05, "adamw": 0.05, "rmsprop": 0.01, "adagrad": 0.3, "sgd": 0.05}


def test_all_five_optimizers_are_registered():
    assert set(OPTIMIZERS.names()) == set(LRS)


@pytest.mark.parametrize("name", sorted(LRS))
def test_optimizer_reduces_a_quadratic(name):
    target = torch.tensor([1.0, -2.0, 3.0])
    x = torch.zeros(3, requires_grad=True)
    opt = build_optimizer(name, [x], lr=LRS[name], beta1=0.5, beta2=0.99)
    start = (x - target).square().sum().item()
    for _ in range(100):
        opt.zero_grad()
        (x - target).square().sum().backward()
        opt.step()
    assert (x - target).square().sum().item() < 0.05 * start


def test_beta_mapping():
    p = [torch.zeros(2, requires_grad=True)]
    adam = build_optimizer("adam", p, lr=1e-3, beta1=0.0, beta2=0.9, weight_decay=0.1)
    g = adam.param_groups[0]
    assert g["betas"] == (0.0, 0.9) and g["weight_decay"] == 0.1 and g["fused"] is True
    rms = build_optimizer("rmsprop", p, lr=5e-5, beta1=0.0, beta2=0.99).param_groups[0]
    assert rms["alpha"] == 0.99 and rms["momentum"] == 0.0
    sgd = build_optimizer("sgd", p, lr=0.1, beta1=0.9, nesterov=True).param_groups[0]
    assert sgd["momentum"] == 0.9 and sgd["nesterov"] is True
    assert isinstance(build_optimizer("adamw", p, lr=1e-3), torch.optim.AdamW)
    assert isinstance(build_optimizer("adagrad", p, lr=1e-3), torch.optim.Adagrad)


def test_fused_adam_matches_the_reference_update():
    # The fused kernel must give Adam's update (the foreach one is the reference).
    torch.manual_seed(0)
    w0 = torch.randn(5, 3)
    grads = [torch.randn(5, 3) for _ in range(4)]
    out = {}
    for kernel in ({}, {"foreach": True}):
        w = w0.clone().requires_grad_(True)
        opt = build_optimizer("adam", [w], lr=1e-2, beta1=0.5, beta2=0.99, **kernel)
        for g in grads:
            w.grad = g.clone()
            opt.step()
        out[bool(kernel)] = w.detach()
    assert opt.param_groups[0]["foreach"] is True
    assert torch.allclose(out[False], out[True], atol=1e-6)
    assert not torch.allclose(out[False], w0)


def test_bad_names_and_values_explain_the_fix():
    p = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(UnknownNameError, match="Did you mean 'adam'.*Valid optimizers: adagrad"):
        build_optimizer("adma", p, lr=1e-3)
    with pytest.raises(ValueError, match="beta1"):
        build_optimizer("adam", p, lr=1e-3, beta1=1.0)
    with pytest.raises(ValueError, match="learning rate"):
        build_optimizer("adam", p, lr=0.0)
    with pytest.raises(UnknownNameError, match="Valid lr schedules: constant, cosine"):
        check_schedule("step", 10)
    with pytest.raises(ValueError, match="needs optim.warmup > 0"):
        check_schedule("warmup", 10)
    with pytest.raises(ValueError, match="optim.warmup must be in"):
        check_schedule("cosine", 10, warmup=10)
    with pytest.raises(ValueError, match="decay_start"):
        check_schedule("linear", 10, decay_start=1.0)


def _lrs(name: str, total: int, warmup: int = 0, base: float = 0.1, start: float = 0.0):
    """Learning rate in effect for optimizer steps 0 .. total-1, as the engine sets it."""
    return [base * lr_factor(name, k, total, warmup, start) for k in range(total)]


def test_schedules_give_expected_learning_rates():
    assert _lrs("constant", 5) == pytest.approx([0.1] * 5)
    assert _lrs("linear", 5) == pytest.approx([0.1, 0.08, 0.06, 0.04, 0.02])
    cos = _lrs("cosine", 4)
    assert cos == pytest.approx([0.1 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)])
    assert _lrs("warmup", 6, warmup=4) == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
    # warm-up then linear decay over the remaining 4 steps
    assert _lrs("linear", 6, warmup=2) == pytest.approx([0.05, 0.1, 0.1, 0.075, 0.05, 0.025])
    assert lr_factor("cosine", 10, 10) == pytest.approx(0.0)
    assert lr_factor("linear", 50, 10) == 0.0  # past the end stays at 0, never negative
    assert set(SCHEDULES.names()) == {"constant", "linear", "cosine", "warmup"}


def test_hold_then_linear_decay_is_the_translation_papers_schedule():
    # pix2pix/CycleGAN: constant for the first half, then linearly to 0 at the end
    lrs = _lrs("linear", 8, start=0.5)
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.1, 0.075, 0.05, 0.025])
