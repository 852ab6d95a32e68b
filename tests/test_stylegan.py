"""StyleGAN2 family: generator controls, modulated convs, residual D, path-length penalty."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import ganforge.models.stylegan  # noqa: F401  (registers "stylegan")
import ganforge.training.losses  # noqa: F401  (registers losses)
from ganforge.core.registry import LOSSES, MODELS
from ganforge.models.stylegan import (
    EqualConv2d,
    EqualLinear,
    ModulatedConv2d,
    StyleGANGenerator,
    build_stylegan,
    minibatch_stddev,
    upsample2d,
)
from ganforge.training.path_length import PathLengthPenalty


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These models are tiny: one thread avoids OpenMP stalls on a busy 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TINY = {"channel_base": 256, "channel_max": 16, "w_dim": 16, "mapping_layers": 2}
Z = 8


def tiny(shape=(3, 32, 32), seed=0, **kw):
    torch.manual_seed(seed)
    return build_stylegan(z_dim=Z, out_shape=shape, **{**TINY, **kw})


@pytest.mark.parametrize("arch", ["skip", "resnet"])
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 64, 64), (4, 32, 32)])
def test_shapes_finite_and_num_ws(shape, arch):
    G, D = tiny(shape, architecture=arch)
    x = G(torch.randn(4, Z))
    assert x.shape == (4, *shape)
    assert torch.isfinite(x).all()
    # StyleGAN has no tanh: outputs are only roughly in [-1, 1] at init.
    assert x.abs().max() < 20
    assert G.num_ws == 2 * int(math.log2(shape[1])) - 2
    assert D(x).shape == (4,)


def test_registry_builds_and_bad_resolution_explains():
    G, D = MODELS.build("stylegan", z_dim=Z, out_shape=(3, 32, 32), **TINY)
    assert isinstance(G, StyleGANGenerator) and G.z_dim == Z and G.out_shape == (3, 32, 32)
    with pytest.raises(ValueError, match="power of two.*data.resolution"):
        build_stylegan(z_dim=Z, out_shape=(1, 28, 28))
    with pytest.raises(ValueError, match="architecture"):
        build_stylegan(z_dim=Z, out_shape=(1, 32, 32), architecture="orig")


def test_determinism_const_noise_and_random_noise_differs():
    G, _ = tiny()
    G2, _ = tiny()
    G.eval(), G2.eval()
    z = torch.randn(3, Z)
    with torch.no_grad():
        for g in (G, G2):  # give the noise a visible effect
            for name, p in g.named_parameters():
                if name.endswith("noise_strength"):
                    p.fill_(0.5)
        a = G(z, noise_mode="const")
        assert torch.equal(a, G(z, noise_mode="const"))
        assert torch.equal(a, G2(z, noise_mode="const"))
        assert not torch.allclose(G(z, noise_mode="random"), G(z, noise_mode="random"))
        assert not torch.allclose(a, G(z, noise_mode="none"))
    assert torch.equal(G.sample(4, seed=3), G.sample(4, seed=3))
    with pytest.raises(ValueError, match="noise_mode"):
        G(z, noise_mode="fixed")


def test_truncation_psi_zero_collapses_to_w_avg_and_psi_one_is_identity():
    G, _ = tiny()
    G.eval()
    with torch.no_grad():
        G.mapping_net.w_avg.normal_()  # a non-trivial mean
        z = torch.randn(5, Z)
        ws = G.mapping(z, truncation_psi=0.0)
        assert torch.allclose(ws, G.w_avg.expand_as(ws))
        imgs = G(z, truncation_psi=0.0, noise_mode="const")
        assert torch.allclose(imgs, imgs[:1].expand_as(imgs), atol=1e-5)
        assert torch.equal(G(z, truncation_psi=1.0, noise_mode="const"), G(z, noise_mode="const"))
        # A cutoff truncates only the first layers.
        wc = G.mapping(z, truncation_psi=0.0, truncation_cutoff=2)
        assert torch.allclose(wc[:, :2], G.w_avg.expand(5, 2, -1))
        assert torch.equal(wc[:, 2:], G.mapping(z)[:, 2:])
        # psi=0.5 lies halfway between w and w_avg.
        half = G.mapping(z, truncation_psi=0.5)
        assert torch.allclose(half, 0.5 * (G.mapping(z) + G.w_avg), atol=1e-5)


def test_style_mix_endpoints_and_middle():
    G, _ = tiny()
    G.eval()
    za, zb = torch.randn(2, Z), torch.randn(2, Z)
    with torch.no_grad():
        img_a, img_b = G(za, noise_mode="const"), G(zb, noise_mode="const")
        assert torch.allclose(G.style_mix(za, zb, 0), img_b, atol=1e-6)
        assert torch.allclose(G.style_mix(za, zb, G.num_ws), img_a, atol=1e-6)
        mid = G.style_mix(za, zb, G.num_ws // 2)
        assert not torch.allclose(mid, img_a) and not torch.allclose(mid, img_b)
    with pytest.raises(ValueError, match="crossover_layer"):
        G.style_mix(za, zb, G.num_ws + 1)


def test_demodulation_gives_unit_norm_output_weights():
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, 3)
    styles = torch.rand(4, 6) * 3 + 0.1
    w = conv.modulated_weight(styles)
    assert w.shape == (4, 5, 6, 3, 3)
    norms = w.flatten(2).norm(dim=2)
    assert torch.allclose(norms, torch.ones(4, 5), atol=1e-4)
    # Without demodulation (ToRGB) the norm follows the style.
    raw = ModulatedConv2d(6, 5, 1, demodulate=False)
    n1 = raw.modulated_weight(torch.ones(1, 6)).flatten(2).norm(dim=2)
    n2 = raw.modulated_weight(2 * torch.ones(1, 6)).flatten(2).norm(dim=2)
    assert torch.allclose(n2, 2 * n1)


@pytest.mark.parametrize("up", [1, 2])
def test_fused_and_unfused_modconv_agree_in_value_and_gradient(up):
    torch.manual_seed(0)
    conv = ModulatedConv2d(4, 3, 3, up=up)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    s = torch.rand(2, 4) + 0.5
    a = conv(x, s, fused=True)
    ga = torch.autograd.grad(a.square().sum(), [x, conv.weight])
    b = conv(x, s, fused=False)
    gb = torch.autograd.grad(b.square().sum(), [x, conv.weight])
    assert a.shape == (2, 3, 8 * up, 8 * up)
    assert torch.allclose(a, b, atol=1e-5)
    for u, v in zip(ga, gb, strict=True):
        assert torch.allclose(u, v, atol=1e-4)
    # Each sample's output equals a plain conv with that sample's demodulated weights.
    if up == 1:
        ref = F.conv2d(x[1:2], conv.modulated_weight(s)[1], padding=1)
        assert torch.allclose(a[1:2], ref, atol=1e-5)


def test_generator_fused_matches_unfused_end_to_end():
    G, _ = tiny(fused_modconv=True)
    G.eval()
    z = torch.randn(3, Z)
    with torch.no_grad():
        a = G(z, noise_mode="const")
        G.synthesis_net.fused_modconv = False
        b = G(z, noise_mode="const")
    assert torch.allclose(a, b, atol=1e-5)


def test_upsample_is_bilinear_in_the_interior():
    x = torch.randn(1, 2, 6, 6)
    up = upsample2d(x)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert up.shape == ref.shape
    assert torch.allclose(up[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-6)


def test_equalized_learning_rate_scaling():
    torch.manual_seed(0)
    fc = EqualLinear(256, 64, lr_multiplier=0.01)
    # Stored N(0, 1/lr_mul^2); applied std 1/sqrt(fan_in).
    assert fc.weight.std().item() == pytest.approx(100, rel=0.05)
    assert fc.effective_weight().std().item() == pytest.approx(1 / 16, rel=0.05)
    x = torch.randn(3, 256)
    assert torch.allclose(fc(x), x @ fc.effective_weight().t(), atol=1e-5)
    conv = EqualConv2d(32, 8, 3)
    assert conv.weight.std().item() == pytest.approx(1, rel=0.1)
    assert conv.effective_weight().std().item() == pytest.approx(1 / math.sqrt(32 * 9), rel=0.1)
    # Every G/D layer stores unit-scale weights, so Adam's steps are uniform across layers.
    G, D = tiny()
    for name, p in [*G.synthesis_net.named_parameters(), *D.named_parameters()]:
        if name.endswith("weight") and p.numel() > 50:
            assert p.std().item() == pytest.approx(1, rel=0.3), name
    # The mapping network keeps activations at unit scale (leaky-ReLU gain sqrt(2)).
    w = G.mapping(torch.randn(512, Z), update_w_avg=False)[:, 0]
    assert 0.2 < w.square().mean().item() < 5


def test_discriminator_logits_gradients_and_odd_batch():
    _, D = tiny()
    x = torch.randn(6, 3, 32, 32, requires_grad=True)
    logits = D(x)
    assert logits.shape == (6,)
    logits.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())
    assert D(torch.randn(5, 3, 32, 32)).shape == (5,)  # 5 is not a multiple of 4
    with pytest.raises(ValueError, match="expects images"):
        D(torch.randn(2, 1, 32, 32))


def test_minibatch_stddev_closed_form():
    x = torch.randn(8, 4, 2, 2)
    y = minibatch_stddev(x, group_size=4)
    assert y.shape == (8, 5, 2, 2)
    assert torch.equal(y[:, :4], x)
    # Sample i belongs to group {i, i+2, i+4, i+6} (groups stride over the batch).
    grp = x[[1, 3, 5, 7]]
    expect = (grp.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
    assert torch.allclose(y[3, 4], expect.expand(2, 2), atol=1e-6)


def test_w_avg_tracks_batch_mean_only_in_training():
    G, _ = tiny(mixing_prob=0.0)
    z = torch.randn(64, Z)
    w_mean = G.mapping(z, update_w_avg=False)[:, 0].mean(0).detach()
    before = G.w_avg.clone()
    G.eval()
    G(z)
    G.sample(4, seed=0)
    assert torch.equal(G.w_avg, before)
    G.train()
    G(z)
    assert torch.allclose(G.w_avg, before + 0.005 * (w_mean - before), atol=1e-6)
    for _ in range(200):
        G.mapping(z)  # the update lives in the (training-mode) mapping network
    # After many updates w_avg is much closer to the batch mean than before.
    assert (G.w_avg - w_mean).norm() < 0.5 * (before - w_mean).norm()
    G.sample(2, seed=0)  # sample() in training mode must not move it either
    snap = G.w_avg.clone()
    G.sample(2, seed=0)
    assert torch.equal(G.w_avg, snap)


def test_style_mixing_regularisation_in_training_only():
    G, _ = tiny(mixing_prob=1.0)
    z = torch.randn(4, Z)
    G.train()
    torch.manual_seed(1)
    ws = G.training_ws(z)
    assert not torch.allclose(ws[:, 0], ws[:, -1])  # the last style comes from another z
    assert torch.allclose(ws[:, 0], G.mapping(z, update_w_avg=False)[:, 0])
    G.eval()
    ws = G.training_ws(z)
    assert torch.allclose(ws, ws[:, :1].expand_as(ws))
    G.train()
    G.mixing_prob = 0.0
    ws = G.training_ws(z)
    assert torch.allclose(ws, ws[:, :1].expand_as(ws))


def test_path_length_penalty_finite_with_grads_and_state():
    G, _ = tiny()
    G.train()
    pl = PathLengthPenalty(decay=0.01)
    z = torch.randn(4, Z)
    pen = pl(G, z)
    assert pen.ndim == 0 and torch.isfinite(pen)
    pen.backward()
    grads = [p.grad for p in G.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert all(torch.isfinite(g).all() for g in grads)
    # The first update moves pl_mean from 0 by decay * mean length (> 0).
    m1 = pl.pl_mean.item()
    assert m1 > 0
    # Penalty is (len - pl_mean)^2 with pl_mean ~ 0.01 * len, so it is about len^2.
    assert pen.item() == pytest.approx((m1 / 0.01 - m1) ** 2, rel=0.5)
    state = pl.state_dict()
    pl2 = PathLengthPenalty()
    pl2.load_state_dict(state)
    assert pl2.pl_mean.item() == m1
    with pytest.raises(KeyError, match="pl_mean"):
        pl2.load_state_dict({})
    with pytest.raises(TypeError, match="StyleGAN"):
        pl(torch.nn.Linear(2, 2), z)


def test_one_ns_training_step_with_path_length():
    G, D = tiny()
    loss = LOSSES.get("ns")
    opt_g = torch.optim.Adam(G.parameters(), 2e-3, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), 2e-3, betas=(0.0, 0.99))
    pl = PathLengthPenalty()
    real = torch.rand(8, 3, 32, 32) * 2 - 1
    before = [p.detach().clone() for p in G.parameters()]
    z = torch.randn(8, Z)
    for _ in range(2):
        d_loss = loss.d(D(real), D(G(z).detach()))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = loss.g(None, D(G(z))) + 2.0 * pl(G, z[:4])
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert all(torch.isfinite(p).all() for p in [*G.parameters(), *D.parameters()])
    changed = [not torch.equal(a, b) for a, b in zip(before, G.parameters(), strict=True)]
    assert sum(changed) >= len(changed) - 1  # everything trains (mapping, const, noise...)
    assert torch.isfinite(G.sample(2, seed=0)).all()
