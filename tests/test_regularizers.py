"""Gradient penalty, R1, weight clipping and spectral normalisation against closed forms."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.models.layers import MinibatchStdDev, PacDiscriminator, pack
from ganforge.training.losses import build_loss
from ganforge.training.regularizers import (
    apply_spectral_norm,
    clip_weights_,
    d_penalties,
    gradient_penalty,
    r1_due,
    r1_penalty,
)


def linear_d(w: torch.Tensor, b: float = 0.3) -> nn.Module:
    """D(x) = <w, flatten(x)> + b, whose input gradient is w everywhere."""

    class LinD(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(w.numel(), 1)
            with torch.no_grad():
                self.lin.weight.copy_(w.reshape(1, -1))
                self.lin.bias.fill_(b)

        def forward(self, x):
            return self.lin(x.flatten(1)).squeeze(1)

    return LinD()


W = torch.tensor([[[0.5, -1.0], [2.0, 0.25]]])  # (1, 2, 2); ||w|| = sqrt(5.3125)
WNORM2 = float(W.square().sum())


@pytest.mark.parametrize("center", [1.0, 0.0])
def test_gradient_penalty_of_linear_d_is_exact(center):
    D = linear_d(W)
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    gp = gradient_penalty(D, real, fake, center=center, generator=torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx((WNORM2**0.5 - center) ** 2, rel=1e-6)
    gp.backward()  # the penalty trains D: its weight gets gradient 2(||w|| - c) w / ||w||
    want = 2 * (WNORM2**0.5 - center) * W.reshape(1, -1) / WNORM2**0.5
    assert torch.allclose(D.lin.weight.grad, want, rtol=1e-5)


def test_gradient_penalty_one_sided_ignores_small_gradients():
    D = linear_d(W * 0.1)  # ||w|| < 1
    real, fake = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    assert gradient_penalty(D, real, fake, one_sided=True).item() == 0.0
    assert gradient_penalty(D, real, fake).item() > 0


def test_gradient_penalty_does_not_reach_g_and_is_reproducible():
    D = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    real = torch.randn(5, 1, 2, 2)
    fake = torch.randn(5, 1, 2, 2, requires_grad=True)
    a = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(3))
    b = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(3))
    assert a.item() == b.item()
    a.backward()
    assert fake.grad is None
    # (a bias of the last layer cannot change an input gradient, so only weights get one)
    assert all(p.grad is not None for n, p in D.named_parameters() if n.endswith("weight"))
    with pytest.raises(ValueError, match="one shape"):
        gradient_penalty(D, real, fake[:3])


def test_r1_of_linear_d_is_squared_weight_norm():
    D = linear_d(W)
    real = torch.randn(7, 1, 2, 2).requires_grad_(True)
    r1 = r1_penalty(D(real), real)
    assert r1.item() == pytest.approx(WNORM2, rel=1e-6)
    r1.backward()
    assert torch.allclose(D.lin.weight.grad, 2 * W.reshape(1, -1))  # d||w||^2/dw


def test_r1_needs_real_to_require_grad():
    D = linear_d(W)
    real = torch.randn(3, 1, 2, 2)
    with pytest.raises(ValueError, match="requires_grad_"):
        r1_penalty(D(real), real)


def test_d_penalties_weights_and_lazy_interval():
    D = linear_d(W)
    real = torch.randn(4, 1, 2, 2).requires_grad_(True)
    fake = torch.randn(4, 1, 2, 2)
    loss = build_loss("ns", r1_gamma=2.0, r1_interval=4)
    assert [r1_due(loss, k) for k in range(5)] == [True, False, False, False, True]
    # gamma/2 * interval * ||w||^2 on a due step, nothing otherwise.
    got = d_penalties(loss, D, real, fake, D(real), step=0)
    assert got.item() == pytest.approx(0.5 * 2.0 * 4 * WNORM2, rel=1e-6)
    assert d_penalties(loss, D, real, fake, D(real), step=1).item() == 0.0
    gp_loss = build_loss("wgan-gp")
    got = d_penalties(gp_loss, D, real.detach(), fake, D(real), step=1)
    assert got.item() == pytest.approx(10 * (WNORM2**0.5 - 1) ** 2, rel=1e-6)


def test_clip_weights_clamps_every_parameter():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 1))
    clip_weights_(D, 0.01)
    for p in D.parameters():
        assert p.abs().max() <= 0.01
    # values inside the box are untouched
    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.005, -0.02], [0.0, 1.0]]))
    clip_weights_(lin, 0.01)
    assert torch.allclose(lin.weight, torch.tensor([[0.005, -0.01], [0.0, 0.01]]))
    clip_weights_(lin, 0.0)  # off
    assert lin.weight.abs().max().item() == pytest.approx(0.01)


def test_spectral_norm_bounds_largest_singular_value():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Conv2d(3, 8, 3), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 16, 1))
    with torch.no_grad():
        D[3].weight.mul_(50)  # a large weight the normalisation must tame
    apply_spectral_norm(D)
    apply_spectral_norm(D)  # idempotent
    x = torch.randn(4, 3, 6, 6)
    for _ in range(30):  # each training-mode forward runs one power iteration
        D(x)
    D.eval()
    for m in (D[0], D[3]):
        w = m.weight.detach().reshape(m.weight.shape[0], -1)
        assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=1e-3)
    keys = D.state_dict().keys()
    assert "0.parametrizations.weight.original" in keys and "3.parametrizations.weight.0._u" in keys


# ----------------------------------------------------------------------------- layers
def test_minibatch_stddev_matches_a_direct_computation():
    x = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    y = MinibatchStdDev(group_size=4)(x)
    assert y.shape == (8, 4, 4, 4)
    assert torch.equal(y[:, :3], x)
    # StyleGAN2 grouping: sample i is in group i % (N / group_size)
    for j in range(2):
        members = x[j::2]
        want = (members.var(0, unbiased=False) + 1e-8).sqrt().mean()
        for i in range(j, 8, 2):
            assert torch.allclose(y[i, 3], torch.full((4, 4), want.item()), atol=1e-6)


def test_minibatch_stddev_features_shapes_and_errors():
    x = torch.randn(6, 4, 2, 2)
    assert MinibatchStdDev(group_size=2, num_features=2)(x).shape == (6, 6, 2, 2)
    assert MinibatchStdDev(group_size=4)(x[:3]).shape == (3, 5, 2, 2)  # group = N if smaller
    assert MinibatchStdDev()(torch.randn(8, 5)).shape == (8, 6)  # feature vectors
    with pytest.raises(ValueError, match="not divisible by group size 4"):
        MinibatchStdDev(group_size=4)(x)
    # eval mode scores any batch: 6 samples -> groups of 3 (largest divisor of 6 <= 4)
    assert torch.equal(MinibatchStdDev(group_size=4).eval()(x), MinibatchStdDev(group_size=3)(x))
    same = torch.ones(4, 2, 3, 3, requires_grad=True)  # a collapsed batch
    out = MinibatchStdDev()(same)
    assert out[:, 2].max().item() == pytest.approx(1e-4)
    out.sum().backward()
    assert torch.isfinite(same.grad).all()


def test_pac_discriminator_packs_consecutive_samples():
    torch.manual_seed(0)
    D = PacDiscriminator(lambda shape: nn.Linear(shape[0], 1), (2,), pac=4)
    assert D.packed_shape == (8,) and D.inner.in_features == 8
    x = torch.randn(12, 2)
    out = D(x)
    assert out.shape == (3,)
    assert torch.allclose(out[1], D.inner(torch.cat([x[4], x[5], x[6], x[7]])).squeeze())
    imgs = torch.randn(6, 1, 4, 4)
    packed = pack(imgs, 2)
    assert packed.shape == (3, 2, 4, 4) and torch.equal(packed[2], torch.cat([imgs[4], imgs[5]]))
    with pytest.raises(ValueError, match="not divisible by pac=4"):
        D(torch.randn(10, 2))
    with pytest.raises(ValueError, match=r"expects \(N, 2\)"):
        D(torch.randn(8, 3))
    # regularizers work on packed discriminators (one penalty per pack input)
    gp = gradient_penalty(D, torch.randn(8, 2), torch.randn(8, 2))
    w = D.inner.weight.detach().reshape(4, 2)  # per-sample gradient of the pack's logit
    assert gp.item() == pytest.approx(((w.norm(dim=1) - 1) ** 2).mean().item(), rel=1e-5)


@pytest.mark.parametrize(
    ("name", "shape"), [("toy2d", (2,)), ("dcgan", (3, 28, 28))], ids=["toy2d", "dcgan"]
)
def test_mbstd_group_makes_d_see_the_batch(name, shape):
    """model.args.mbstd_group: each logit depends on the other members of its group (and
    only on them); without it D scores every sample on its own, with the old weight names."""
    from ganforge.core.config import ModelConfig
    from ganforge.models import build_models

    args = {"ngf": 8, "ndf": 8} if name == "dcgan" else {}
    torch.manual_seed(0)
    _, D = build_models(ModelConfig(name=name, z_dim=4, args={**args, "mbstd_group": 2}), shape)
    _, D_off = build_models(ModelConfig(name=name, z_dim=4, args=args), shape)
    D.eval()
    D_off.eval()
    x = torch.randn(8, *shape)
    y = x.clone()
    y[1] = torch.randn(*shape)  # groups of 2 are {i, i + 4}: sample 5 shares 1's group
    a, b = D(x), D(y)
    assert a.shape == (8,)
    changed = (a - b).abs() > 1e-6
    assert changed[1] and changed[5] and not changed[[0, 2, 3, 4, 6, 7]].any()
    a0, b0 = D_off(x), D_off(y)
    assert torch.equal((a0 - b0).abs() > 0, torch.tensor([False, True] + [False] * 6))
    # mbstd off keeps the layer names of earlier checkpoints
    last = "net.6.weight" if name == "toy2d" else "out.weight"
    assert last in D_off.state_dict()
