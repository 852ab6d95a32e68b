"""Optimizers by name reduce a quadratic; schedules give the expected learning rates."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from ganforge.core.registry import OPTIMIZERS, UnknownNameError
from ganforge.training.fused_adam import FusedAdam
from ganforge.training.optim import (
    SCHEDULES,
    Optimizer,
    build_optimizer,
    check_schedule,
    lr_factor,
)

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
    adamw = build_optimizer("adamw", p, lr=1e-3)
    assert isinstance(adamw, FusedAdam) and adamw.param_groups[0]["decoupled_weight_decay"]
    assert isinstance(build_optimizer("adamw", p, lr=1e-3, foreach=True), torch.optim.AdamW)
    assert isinstance(build_optimizer("adagrad", p, lr=1e-3), torch.optim.Adagrad)
    assert all(isinstance(o, Optimizer) for o in (adam, adamw))


@pytest.mark.parametrize("decoupled", [False, True])
def test_fused_adam_is_bit_identical_to_torch_and_swaps_checkpoints(decoupled):
    """FusedAdam's weights and moments equal torch.optim.Adam(W)(fused=True)'s exactly, step
    for step, with two groups, a parameter without gradient and a learning-rate change; a
    state saved by either resumes in the other with the same next step."""
    reference = torch.optim.AdamW if decoupled else torch.optim.Adam
    torch.manual_seed(0)
    shapes = [(4, 3), (3,), (2, 5)]
    init = [torch.randn(s) for s in shapes]
    grads = [[torch.randn(s) for s in shapes] for _ in range(5)]

    def make(kind):
        ps = [t.clone().requires_grad_(True) for t in init]
        groups = [{"params": ps[:2]}, {"params": ps[2:], "lr": 3e-3}]
        kw = dict(lr=1e-2, betas=(0.5, 0.9), weight_decay=0.01)
        if kind == "ours":
            return ps, FusedAdam(groups, decoupled=decoupled, **kw)
        return ps, reference(groups, fused=True, **kw)

    def run(ps, opt, steps):
        for i in steps:
            for p, g in zip(ps, grads[i], strict=True):
                p.grad = None if (i == 1 and p is ps[1]) else g.clone()
            if i == 3:
                opt.param_groups[0]["lr"] = 5e-3
            opt.step()
            opt.zero_grad(set_to_none=True)

    (pa, a), (pb, b) = make("ours"), make("torch")
    run(pa, a, range(3))
    run(pb, b, range(3))
    for x, y in zip(pa, pb, strict=True):
        assert torch.equal(x, y)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for i in sb["state"]:
        for k in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(sa["state"][i][k], sb["state"][i][k]), (i, k)
    # swap: torch's state into ours and ours into torch, then two more steps each
    (pc, c), (pd, d) = make("ours"), make("torch")
    with torch.no_grad():
        for x, y, z in zip(pc, pd, pa, strict=True):
            x.copy_(z)
            y.copy_(z)
    c.load_state_dict(copy.deepcopy(sb))  # torch.optim adopts loaded tensors: copies, so
    d.load_state_dict(copy.deepcopy(sa))  # that a and b go on alone
    run(pc, c, range(3, 5))
    run(pd, d, range(3, 5))
    run(pa, a, range(3, 5))
    for x, y, z in zip(pc, pd, pa, strict=True):
        assert torch.equal(x, z) and torch.equal(y, z)


def test_fused_adam_loading_copies_the_state():
    """A loaded state is the optimizer's own: later steps leave the caller's dict as it was
    (the guard restores the same snapshot more than once)."""
    w = torch.zeros(3, requires_grad=True)
    opt = FusedAdam([w], lr=0.1)
    w.grad = torch.ones(3)
    opt.step()
    snap = opt.state_dict()
    kept = {k: v.clone() for k, v in snap["state"][0].items()}
    opt2 = FusedAdam([w], lr=0.1)
    opt2.load_state_dict(snap)
    w.grad = torch.ones(3)
    opt2.step()
    assert all(torch.equal(snap["state"][0][k], kept[k]) for k in kept)
    with pytest.raises(ValueError, match="parameter groups"):
        FusedAdam([w, torch.zeros(2, requires_grad=True)]).load_state_dict(snap)


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
