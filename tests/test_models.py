"""Registry-driven model tests: every registered family at tiny size."""

from __future__ import annotations

import pytest
import torch

import ganforge.models  # noqa: F401
import ganforge.training.losses  # noqa: F401
from ganforge.core.config import ConfigError, ModelConfig
from ganforge.core.registry import LOSSES, MODELS, UnknownNameError
from ganforge.models import build_models
from ganforge.models.dcgan import plan_resolution

# Small arguments per family so each case runs in milliseconds; families not listed are
# built with their defaults.
TINY_ARGS = {
    "dcgan": {"ngf": 8, "ndf": 8},
    "mlp": {"g_hidden": [16, 16], "d_channels": [4, 8, 8, 8]},
    "toy2d": {"g_hidden": [16], "d_hidden": [16]},
    "wavegan": {"width": 4},
    "textgan": {"dim": 8, "n_blocks": 1},
    "stylegan": {"channel_max": 16, "channel_base": 256, "w_dim": 16, "mapping_layers": 2},
}
SHAPES = {"toy2d": (2,), "stylegan": (3, 32, 32), "wavegan": (1, 4096), "textgan": (12, 16)}


def _cases():
    for name in MODELS.names():
        yield pytest.param(name, id=name)


CASES = list(_cases())


def build(name, z_dim=8):
    shape = SHAPES.get(name, (1, 28, 28))
    G, D = build_models(ModelConfig(name=name, z_dim=z_dim, args=TINY_ARGS.get(name, {})), shape)
    return G, D, shape


@pytest.mark.parametrize("name", CASES)
def test_shapes_and_range(name):
    torch.manual_seed(0)
    G, D, shape = build(name)
    x = G.sample(5, seed=1)
    assert x.shape == (5, *shape)
    assert torch.isfinite(x).all()
    if name in ("dcgan", "mlp"):  # tanh outputs
        assert x.min() >= -1 and x.max() <= 1
    logits = D(x)
    assert logits.shape == (5,)


@pytest.mark.parametrize("name", CASES)
def test_determinism_under_seed(name):
    torch.manual_seed(0)
    G, _, _ = build(name)
    G.eval()
    assert torch.equal(G.sample(4, seed=3), G.sample(4, seed=3))
    assert not torch.equal(G.sample(4, seed=3), G.sample(4, seed=4))
    torch.manual_seed(0)
    G2, _, _ = build(name)
    G2.eval()
    assert torch.equal(G.sample(4, seed=3), G2.sample(4, seed=3))


@pytest.mark.parametrize("name", CASES)
def test_state_dict_round_trip(name):
    torch.manual_seed(0)
    G, D, _ = build(name)
    torch.manual_seed(1)
    G2, D2, _ = build(name)
    G2.load_state_dict(G.state_dict())
    G.eval(), G2.eval()
    assert torch.equal(G.sample(3, seed=0), G2.sample(3, seed=0))


@pytest.mark.parametrize("name", CASES)
def test_one_training_step_changes_weights(name):
    torch.manual_seed(0)
    G, D, shape = build(name)
    loss = LOSSES.get("ns")
    opt_g = torch.optim.Adam(G.parameters(), 1e-3)
    opt_d = torch.optim.Adam(D.parameters(), 1e-3)
    real = torch.rand(8, *shape) * 2 - 1
    z = torch.randn(8, G.z_dim)
    before_g = [p.detach().clone() for p in G.parameters()]
    before_d = [p.detach().clone() for p in D.parameters()]
    d_loss = loss.d(D(real), D(G(z).detach()))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = loss.g(None, D(G(z)))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert any(not torch.equal(a, b) for a, b in zip(before_g, G.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, D.parameters(), strict=True))


def test_seed_mlp_architecture_matches_the_seed():
    G, D = build_models(ModelConfig(name="mlp", z_dim=100), (1, 28, 28))
    linears = [m for m in G.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (100, 128),
        (128, 128),
        (128, 784),
    ]
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512]
    assert all(c.kernel_size == (5, 5) and c.stride == (2, 2) for c in convs)
    assert D.fc.out_features == 1


@pytest.mark.parametrize("res, channels", [(28, 1), (32, 3), (64, 3), (64, 1), (32, 4)])
def test_dcgan_resolutions(res, channels):
    G, D = build_models(
        ModelConfig(name="dcgan", z_dim=10, args={"ngf": 4, "ndf": 4}), (channels, res, res)
    )
    x = G(torch.randn(2, 10))
    assert x.shape == (2, channels, res, res)
    assert D(x).shape == (2,)


def test_dcgan_bad_resolution_explains():
    with pytest.raises(ValueError, match="28, 32, 64"):
        plan_resolution(30)
    with pytest.raises(ConfigError, match="data.resolution"):
        build_models(ModelConfig(name="dcgan"), (3, 30, 30))


def test_unknown_model_and_argument():
    with pytest.raises(UnknownNameError, match="Valid models: .*dcgan"):
        build_models(ModelConfig(name="dcgann"), (1, 28, 28))
    with pytest.raises(ConfigError, match="unknown argument 'width'.*ngf"):
        build_models(ModelConfig(name="dcgan", args={"width": 3}), (1, 28, 28))


def test_point_generator_latent_clusters_split_a_standard_normal_evenly():
    """The first latent coordinate picks one of K clusters with probability 1/K each
    (through the normal CDF), so every sampler's N(0, I) latents keep working."""
    from ganforge.models.toy2d import PointGenerator

    torch.manual_seed(0)
    G = PointGenerator(3, (2,), (16,), latent_clusters=8)
    z = torch.randn(40_000, 3)
    k = (torch.special.ndtr(z[:, 0]) * 8).long()
    freq = torch.bincount(k, minlength=8).float() / len(z)
    assert torch.allclose(freq, torch.full((8,), 1 / 8), atol=0.01)
    # within a cluster the first coordinate does not matter; the others do
    a, b = z[:2].clone(), z[:2].clone()
    b[:, 0] = torch.special.ndtri(torch.special.ndtr(a[:, 0]) + 1e-6)
    assert torch.equal(G(a), G(b))
    c = a.clone()
    c[:, 1] += 1.0
    assert not torch.allclose(G(a), G(c))
    with pytest.raises(ValueError, match="z_dim >= 2"):
        PointGenerator(1, (2,), (16,), latent_clusters=8)
