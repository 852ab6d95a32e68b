"""Hand-written gradients of linear chains (the 2-D presets' step) against autograd."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.core.config import LossConfig
from ganforge.models.base import LinearChainNet
from ganforge.models.layers import apply_spectral_norm
from ganforge.training.linear_chain import Chain, chain_backward, chain_forward, r1_weight_grads
from ganforge.training.trainer import Trainer
from tests.conftest import tiny_config


def _chain(sizes: list[int], slope: float) -> tuple[list[nn.Linear], nn.Sequential]:
    layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    mods: list[nn.Module] = []
    for i, layer in enumerate(layers):
        mods.append(layer)
        if i < len(layers) - 1:
            mods.append(nn.ReLU() if slope == 0 else nn.LeakyReLU(slope))
    return layers, nn.Sequential(*mods)


@pytest.mark.parametrize("slope", [0.0, 0.2])
@pytest.mark.parametrize("sizes", [[2, 16, 16, 16, 1], [3, 1], [2, 7, 1], [2, 8, 8, 2]])
def test_chain_gradients_and_r1_match_autograd(slope, sizes):
    torch.manual_seed(0)
    layers, net = _chain(sizes, slope)
    params = [p for layer in layers for p in (layer.weight, layer.bias)]
    x = torch.randn(40, sizes[0], requires_grad=True)
    out = net(x)
    loss = F.softplus(-out).mean()
    with_r1 = sizes[-1] == 1
    if with_r1:
        (grad_x,) = torch.autograd.grad(out.sum(), x, create_graph=True)
        loss = loss + 0.7 * grad_x.square().sum(1).mean()
    expected = torch.autograd.grad(loss, [*params, x])

    with torch.no_grad():
        chain = Chain.of(layers, slope)
        acts = chain_forward(chain, x.detach())
        torch.testing.assert_close(acts[-1], out.detach())
        grads, grad_in = chain_backward(
            chain, acts, -torch.sigmoid(-acts[-1]) / out.numel(), input_grad=True
        )
        if with_r1:
            r1, penalty = r1_weight_grads(chain, acts, 0.7)
            grads = [(gw + r, gb) for (gw, gb), r in zip(grads, r1, strict=True)]
            torch.testing.assert_close(penalty, 0.7 * grad_x.square().sum(1).mean())
    got = [t for pair in grads for t in pair]
    for g, e in zip(got, expected[:-1], strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)
    if not with_r1:  # the input gradient of the plain loss
        torch.testing.assert_close(grad_in, expected[-1], rtol=1e-5, atol=1e-6)


def _toy_cfg(**loss: object):
    cfg = tiny_config(steps=3, batch_size=32)
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, spec="ring8"),
        model=dataclasses.replace(
            cfg.model, name="toy2d", z_dim=2, args={"g_hidden": [16, 16], "d_hidden": [8, 8]}
        ),
        loss=LossConfig(**loss) if loss else cfg.loss,
    )


@pytest.mark.parametrize(
    "loss,d_steps",
    [
        ({"name": "ns", "args": {"r1_gamma": 0.5, "r1_interval": 2}}, 1),
        ({"name": "ralsgan"}, 2),  # G's loss sees D's real logits
        ({"name": "wgan"}, 1),  # weight clipping after D's update
        ({"name": "hinge"}, 1),
    ],
)
def test_hand_written_step_trains_like_autograd(tmp_path, loss, d_steps):
    """Steps on the hand-written path give autograd's weights to float rounding, and draw
    the same random numbers (data order, latents). SGD: Adam's first steps turn the
    rounding noise of gradients that are exactly zero in exact arithmetic (a relativistic
    loss's output bias) into whole learning-rate steps."""
    cfg = _toy_cfg(**loss)
    cfg = dataclasses.replace(
        cfg, optim=dataclasses.replace(cfg.optim, name="sgd", d_steps=d_steps, lr_d=0.05)
    )
    hand = Trainer(cfg, tmp_path / "hand")
    auto = Trainer(dataclasses.replace(cfg, hand_gradients=False), tmp_path / "auto")
    assert hand.objective.chain_step is not None and auto.objective.chain_step is None
    logs = {}
    for name, t in (("hand", hand), ("auto", auto)):
        logs[name] = [t.train_step() for _ in range(3)]
    for key in ("G", "D", "G_ema"):
        a, b = hand.nets[key].state_dict(), auto.nets[key].state_dict()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=f"{key}.{k}")
    for a, b in zip(logs["hand"], logs["auto"], strict=True):
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    assert hand.train_gen.get_state().equal(auto.train_gen.get_state())


@pytest.mark.parametrize(
    "args,extra",
    [
        ({"latent_clusters": 4}, {}),
        ({"mbstd_group": 4}, {}),
        ({}, {"precision": "bf16"}),
        ({}, {"loss": LossConfig(name="wgan-gp")}),
    ],
)
def test_what_the_hand_written_step_cannot_run_goes_through_autograd(tmp_path, args, extra):
    cfg = _toy_cfg()
    cfg = dataclasses.replace(
        cfg, model=dataclasses.replace(cfg.model, args={**cfg.model.args, **args}), **extra
    )
    t = Trainer(cfg, tmp_path)
    if extra.get("precision") == "bf16":  # chain networks, but not in fp32: autograd's step
        assert t.objective.chain_step is not None and t.precision == "bf16"
        before = t.nets["G"].linear_chain()[0][0].weight.detach().clone()
        t.train_step()
        assert not before.equal(t.nets["G"].linear_chain()[0][0].weight)
    else:
        assert t.objective.chain_step is None
        t.train_step()


def test_spectral_norm_makes_a_network_no_plain_chain():
    from ganforge.models.toy2d import build_toy2d

    _, D = build_toy2d(z_dim=2, out_shape=(2,), d_hidden=[8])
    assert isinstance(D, LinearChainNet) and D.linear_chain() is not None
    apply_spectral_norm(D)
    assert D.linear_chain() is None


def test_closed_form_loss_gradients_match_autograd():
    from ganforge.training.losses import build_loss

    loss = build_loss("ns")
    torch.manual_seed(1)
    real = (torch.randn(30) * 3).requires_grad_()
    fake = (torch.randn(20) * 3).requires_grad_()
    value, grad_real, grad_fake = loss.d_grads(real.detach(), fake.detach())
    torch.testing.assert_close(value, loss.d(real, fake))
    expected = torch.autograd.grad(loss.d(real, fake), [real, fake])
    torch.testing.assert_close(grad_real, expected[0])
    torch.testing.assert_close(grad_fake, expected[1])
    value, grad_fake = loss.g_grad(fake.detach())
    torch.testing.assert_close(value, loss.g(None, fake))
    torch.testing.assert_close(grad_fake, torch.autograd.grad(loss.g(None, fake), fake)[0])


def test_the_step_keeps_training_the_networks_weights_after_a_guard_rollback(tmp_path):
    """The hand-written step holds the layers' tensors; a rollback must load into them."""
    t = Trainer(_toy_cfg(), tmp_path)
    t.train_step()
    t.guard.snapshot(1)
    saved = t.nets["G"].state_dict()
    saved = {k: v.clone() for k, v in saved.items()}
    t.train_step()
    t.guard.rollback(2, "test")
    layers, _ = t.nets["G"].linear_chain()
    chain = t.objective.chain_step.g
    assert all(w is m.weight for w, m in zip(chain.weights, layers, strict=True))
    for k, v in t.nets["G"].state_dict().items():
        assert v.equal(saved[k]), k
    before = chain.weights[1].clone()
    t.train_step()
    assert not chain.weights[1].equal(before)
