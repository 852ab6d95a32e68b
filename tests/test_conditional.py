"""Class-conditional GANs: projection discriminator, AC-GAN, conditional BatchNorm,
per-class sampling and evaluation, and the label checks of the steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ganforge
import ganforge.models  # noqa: F401  (registers cgan)
from ganforge.core.config import ModelConfig
from ganforge.core.registry import MODELS
from ganforge.data.base import TensorData
from ganforge.metrics.codes import per_class_accuracy
from ganforge.sampling.controls import sample_with_controls, traversal_latents
from ganforge.training.objective import OBJECTIVES
from ganforge.training.trainer import Trainer
from tests.conftest import tiny_config

TINY = {"ngf": 8, "ndf": 8}


def _build(**kw):
    return MODELS.get("cgan")(z_dim=8, out_shape=(1, 28, 28), **{**TINY, **kw})


def test_projection_discriminator_formula():
    torch.manual_seed(0)
    G, D = _build()
    assert G.z_dim == 18 and G.num_classes == 10
    x = torch.randn(6, 1, 28, 28)
    y = torch.tensor([0, 1, 2, 3, 4, 9])
    h = D.features(x)
    expected = D.psi(h).flatten() + (D.embed(y) * h).sum(1)  # psi(phi(x)) + <e(y), phi(x)>
    assert torch.allclose(D(x, y), expected, atol=1e-6)
    assert torch.allclose(D(x), D.psi(h).flatten())
    assert not torch.allclose(D(x, y), D(x, (y + 1) % 10))
    with pytest.raises(ValueError, match="AC-GAN head"):
        D.classify(x)


def test_flatten_pool_keeps_positions():
    torch.manual_seed(0)
    _, D = _build(d_pool="flatten")
    x = torch.randn(4, 1, 28, 28)
    h = D.features(x)
    assert h.shape == (4, 16 * 7 * 7)  # ndf 8 -> 16 channels on the 7x7 map, flattened
    assert torch.equal(h, D.phi(x).flatten(1))
    # The embedding has the flattened width, and the projection formula still holds.
    y = torch.tensor([1, 2, 3, 4])
    assert torch.allclose(D(x, y), D.psi(h).flatten() + (D.embed(y) * h).sum(1), atol=1e-6)
    # Flatten keeps where a feature is: a shifted image gives other features.
    shifted = torch.roll(x, shifts=(0, 4), dims=(2, 3))
    assert not torch.allclose(D.features(shifted), h)
    with pytest.raises(ValueError, match="'sum' or 'flatten'"):
        _build(d_pool="max")


def test_acgan_heads_and_bad_mode():
    G, D = _build(mode="acgan")
    adv, cls = D.classify(torch.randn(3, 1, 28, 28))
    assert adv.shape == (3,) and cls.shape == (3, 10)
    with pytest.raises(ValueError, match="projection' or 'acgan"):
        _build(mode="concat")


def test_generator_class_conditioning():
    torch.manual_seed(0)
    G, _ = _build()
    # Give the conditional BatchNorm a class dependence (it starts as plain BatchNorm).
    for norm in G.norms:
        nn.init.normal_(norm.beta.weight, 0, 0.5)
    G.eval()
    x3 = G.sample_class(4, 3, seed=1)
    z = G.make_latents(4, seed=1, codes={"class": 3})
    assert torch.equal(z[:, 8:].argmax(1), torch.full((4,), 3))
    assert torch.equal(z[:, :8], G.make_z(4, seed=1)[:, :8])  # same noise as sample()
    assert torch.allclose(x3, G(G.make_z(4, seed=1), y=torch.full((4,), 3)))
    assert not torch.allclose(x3, G.sample_class(4, 5, seed=1))
    assert torch.equal(sample_with_controls(G, 4, seed=1, class_id=3), x3)
    assert G.sample(7, seed=0).shape == (7, 1, 28, 28)
    with pytest.raises(ValueError, match="0..9"):
        G.sample_class(2, 10)
    z = traversal_latents(G, "class", n_rows=2)
    assert torch.equal(z.view(2, 10, -1)[:, :, 8:].argmax(2), torch.arange(10).expand(2, 10))


class _ReadsTheClass(nn.Module):
    """A fake classifier for a fake G whose pixels hold the class / 10."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return nn.functional.one_hot((x[:, 0, 0, 0] * 10).round().long(), 10).float() + self.w


def test_per_class_accuracy_uses_the_requested_class():
    G, _ = _build()
    G.eval()
    G.forward = lambda z, y=None: (z[:, 8:].argmax(1).float() / 10)[:, None, None, None].expand(
        -1, 1, 28, 28
    )
    res = per_class_accuracy(G, _ReadsTheClass(), classes=[0, 4, 7], n_per_class=8)
    assert res["per_class"] == {0: 1.0, 4: 1.0, 7: 1.0} and res["min"] == 1.0


@pytest.mark.parametrize("mode,step", [("projection", "conditional"), ("acgan", "acgan")])
def test_one_training_step(tmp_path, mode, step):
    cfg = tiny_config(steps=1, model=ModelConfig(name="cgan", z_dim=8, args={**TINY, "mode": mode}))
    trainer = Trainer(cfg, tmp_path / "run")
    assert type(trainer.objective) is OBJECTIVES.get(step)
    d_before = [p.detach().clone() for p in trainer.D.parameters()]
    trainer.run()
    assert all(not torch.equal(a, b) for a, b in zip(d_before, trainer.D.parameters(), strict=True))
    G = ganforge.load(tmp_path / "run")
    assert G.sample_class(3, 2, seed=0).shape == (3, 1, 28, 28)


def test_missing_labels_and_class_count_are_clear_errors(tmp_path):
    x = torch.rand(32, 1, 28, 28) * 2 - 1
    cfg = tiny_config(steps=1, model=ModelConfig(name="cgan", z_dim=8, args=TINY))
    with pytest.raises(ValueError, match="has no labels"):
        Trainer(cfg, tmp_path / "a", data=TensorData(x, None, "unlabelled"))
    assert not (tmp_path / "a").exists()  # refused before anything was written
    y = torch.arange(32) % 3
    with pytest.raises(ValueError, match="num_classes=3"):
        Trainer(cfg, tmp_path / "b", data=TensorData(x, y, "three", num_classes=3))
