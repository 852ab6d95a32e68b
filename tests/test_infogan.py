"""InfoGAN: latent layout, Q head, mutual-information loss, the infogan step, traversals
and the Hungarian code-to-class accuracy."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

import ganforge
import ganforge.training.objectives.infogan as infogan_objective
from ganforge.core.config import ModelConfig, ObjectiveConfig
from ganforge.core.registry import MODELS
from ganforge.metrics.codes import categorical_code_accuracy
from ganforge.models.base import Generator
from ganforge.models.infogan import (
    CodedLatents,
    QOutput,
    build_code_layout,
    mutual_info_loss,
    real_cluster_loss,
)
from ganforge.sampling.controls import (
    sample_with_controls,
    traversal_latents,
    write_controlled_samples,
)
from ganforge.training.objective import OBJECTIVES
from ganforge.training.trainer import Trainer
from tests.conftest import tiny_config

TINY = {"ngf": 8, "ndf": 8, "fc_dim": 32, "q_dim": 16}


def _build(**kw):
    args = {**TINY, **kw}
    return MODELS.get("infogan")(z_dim=8, out_shape=(1, 28, 28), **args)


def test_layout_and_shapes():
    G, D = _build(cat_dims=[10, 3], cont_dim=2)
    assert G.z_dim == 8 + 10 + 3 + 2 and G.noise_dim == 8
    assert [(s.name, s.kind, s.start, s.stop) for s in G.code_layout] == [
        ("cat0", "categorical", 8, 18),
        ("cat1", "categorical", 18, 21),
        ("cont0", "continuous", 21, 22),
        ("cont1", "continuous", 22, 23),
    ]
    z = G.make_z(64, seed=3)
    assert z.shape == (64, 23) and torch.equal(z, G.make_z(64, seed=3))
    for s in G.code_layout[:2]:  # one-hot categorical blocks
        block = z[:, s.start : s.stop]
        assert torch.equal(block.sum(1), torch.ones(64)) and set(block.unique().tolist()) == {0, 1}
    assert z[:, 21:].abs().max() <= 1  # Uniform(-1, 1) continuous codes
    x = G.eval()(z)
    assert x.shape == (64, 1, 28, 28) and x.abs().max() <= 1
    logits, q = D(x, with_q=True)
    assert logits.shape == (64,) and torch.equal(logits, D(x))
    assert [c.shape for c in q.cat_logits] == [(64, 10), (64, 3)]
    assert q.cont_mean.shape == (64, 2) and torch.equal(q.cont_log_std, torch.zeros(64, 2))
    _, D2 = _build(learn_std=True)
    assert D2(x, with_q=True)[1].cont_log_std.requires_grad


def test_make_latents_and_split_round_trip():
    G, _ = _build()
    z = G.make_latents(5, seed=1, codes={"cat0": torch.tensor([0, 1, 2, 3, 9]), "cont1": 1.5})
    noise, cats, conts = G.split_latents(z)
    assert torch.equal(cats[:, 0], torch.tensor([0, 1, 2, 3, 9]))
    assert torch.equal(conts[:, 1], torch.full((5,), 1.5))
    # Fixing codes leaves the noise and other codes of the same seed untouched.
    base = G.make_z(5, seed=1)
    assert torch.equal(noise, base[:, :8]) and torch.equal(conts[:, 0], base[:, 18])
    with pytest.raises(ValueError, match="codes: cat0, cont0, cont1"):
        G.make_latents(2, codes={"style": 1})
    with pytest.raises(ValueError, match="categories 0..9"):
        G.make_latents(2, codes={"cat0": 10})
    with pytest.raises(ValueError, match="at least one code"):
        _build(cat_dims=[], cont_dim=0)


def test_mutual_info_loss_closed_form():
    idx = torch.tensor([[0], [2]])
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    cont = torch.tensor([[0.5], [-1.0]])
    mean = torch.tensor([[0.0], [0.0]])
    log_std = torch.tensor([[0.0], [1.0]])
    loss, logs = mutual_info_loss(
        QOutput([logits], mean, log_std), idx, cont, lambda_cat=2.0, lambda_cont=0.5
    )
    ce = nn.functional.cross_entropy(logits, idx[:, 0])
    nll = ((0.0 + 0.5 * 0.25) + (1.0 + 0.5 * (1.0 / torch.e) ** 2)) / 2
    assert torch.allclose(logs["info_cat"], ce)
    assert torch.allclose(logs["info_cont"], torch.tensor(nll))
    assert torch.allclose(loss, 2.0 * ce + 0.5 * nll)
    assert logs["q_cat_acc"] == 1.0


def test_real_cluster_loss_closed_form():
    k = 4
    confident_balanced = 50.0 * torch.eye(k).repeat(2, 1)  # 8 images, each class twice
    loss, h_cond = real_cluster_loss([confident_balanced])
    assert torch.allclose(loss, -torch.log(torch.tensor(float(k))), atol=1e-5)
    assert h_cond < 1e-5
    collapsed = 50.0 * torch.eye(k)[[0] * 8]  # confident, all one class: 0 - 0
    assert torch.allclose(real_cluster_loss([collapsed])[0], torch.tensor(0.0), atol=1e-5)
    unsure = torch.zeros(8, k)  # uniform per image: log K - log K
    loss, h_cond = real_cluster_loss([unsure])
    assert torch.allclose(loss, torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(h_cond, torch.log(torch.tensor(float(k))))
    # Two codes add up.
    assert torch.allclose(
        real_cluster_loss([confident_balanced] * 2)[0], -2 * torch.log(torch.tensor(4.0)), atol=1e-5
    )


def test_infogan_step_with_real_clustering_logs_it(tmp_path):
    cfg = tiny_config(
        steps=2,
        model=ModelConfig(name="infogan", z_dim=8, args=TINY),
        objective=ObjectiveConfig(args={"lambda_real": 1.0}),
    )
    Trainer(cfg, tmp_path / "run").run()
    recs = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rec = [r for r in recs if "real_rim" in r][-1]
    # Between -log 10 (confident, balanced) and 0 (collapsed or unsure); finite.
    assert -2.31 < rec["real_rim"] < 1e-6 and 0 <= rec["real_h_cond"] <= 2.31


def test_q_augment_reads_categorical_codes_from_warped_images(tmp_path, monkeypatch):
    calls = []
    real_diff_augment = infogan_objective.diff_augment

    def spy(x, policy="", generator=None):
        calls.append((policy, tuple(x.shape)))
        return real_diff_augment(x, policy, generator)

    monkeypatch.setattr(infogan_objective, "diff_augment", spy)
    cfg = tiny_config(
        steps=2,
        model=ModelConfig(name="infogan", z_dim=8, args=TINY),
        objective=ObjectiveConfig(args={"q_augment": "affine"}),
    )
    Trainer(cfg, tmp_path / "run").run()
    # One warped pass for D's update and one for G's, each step; only fakes (no lambda_real).
    assert [c[0] for c in calls] == ["affine"] * 4
    recs = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["info_cat"])) for r in recs if "info_cat" in r)


def _objective_cfg(**args):
    model = ModelConfig(name="infogan", z_dim=8, args=TINY)
    return tiny_config(steps=6, model=model, objective=ObjectiveConfig(args=args))


def test_cont_warmup_ramps_the_continuous_weight(tmp_path, monkeypatch):
    seen = []
    real_loss = infogan_objective.mutual_info_loss

    def spy(q, cats, conts, *, lambda_cat=1.0, lambda_cont=1.0):
        seen.append(lambda_cont)
        return real_loss(q, cats, conts, lambda_cat=lambda_cat, lambda_cont=lambda_cont)

    monkeypatch.setattr(infogan_objective, "mutual_info_loss", spy)
    Trainer(_objective_cfg(lambda_cont=0.4, cont_warmup=4), tmp_path / "run").run()
    assert seen[0] == 0.0  # nothing from the continuous codes at the start
    assert seen == sorted(seen) and seen[-1] == pytest.approx(0.4)  # then up to the full weight
    with pytest.raises(ValueError, match="cont_warmup"):
        Trainer(_objective_cfg(cont_warmup=-1), tmp_path / "bad")


def test_objective_args_are_checked_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="valid: color, translation, cutout, affine"):
        Trainer(_objective_cfg(q_augment="rotate"), tmp_path / "a")
    with pytest.raises(ValueError, match="unknown key 'lambda_typo'. Valid keys: lambda_cat"):
        Trainer(_objective_cfg(lambda_typo=1.0), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_configs_with_weights_in_model_args_still_load():
    """Configs written before the objective table kept InfoGAN's weights in model.args."""
    from ganforge.core.config import TrainConfig, from_dict

    old = {"model": {"name": "infogan", "args": {"ngf": 8, "lambda_cont": 0.3, "q_augment": ""}}}
    cfg = from_dict(TrainConfig, old)
    assert cfg.model.args == {"ngf": 8}
    assert cfg.objective.args == {"lambda_cont": 0.3, "q_augment": ""}


def test_mi_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    G, D = _build()
    z = G.make_z(32, seed=0)
    _, cats, conts = G.split_latents(z)
    opt = torch.optim.Adam(list(G.parameters()) + list(D.parameters()), lr=2e-3)
    losses = []
    for _ in range(25):
        loss, _ = mutual_info_loss(D(G(z), with_q=True)[1], cats, conts)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0] and losses[-1] == min(losses), losses


def test_infogan_training_step_and_load(tmp_path):
    cfg = tiny_config(steps=2, model=ModelConfig(name="infogan", z_dim=8, args=TINY))
    trainer = Trainer(cfg, tmp_path / "run")
    assert type(trainer.objective) is OBJECTIVES.get("infogan")
    q_before = [p.detach().clone() for p in trainer.D.q_head.parameters()]
    trainer.run()
    # Q (on D's trunk) is trained: its weights moved.
    assert any(
        not torch.equal(a, b) for a, b in zip(q_before, trainer.D.q_head.parameters(), strict=True)
    )
    recs = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rec = [r for r in recs if "loss_info" in r][-1]
    for key in ("loss_d", "loss_g", "info_cat", "info_cont", "q_cat_acc"):
        assert key in rec and rec[key] == rec[key], key  # present and not NaN
    # The fixed latents for sample grids carry proper one-hot codes.
    fixed_z = trainer.objective.fixed_z
    assert torch.equal(fixed_z[:, 8:18].sum(1), torch.ones(len(fixed_z)))
    G = ganforge.load(tmp_path / "run")
    assert G.z_dim == 20 and [s.name for s in G.code_layout] == ["cat0", "cont0", "cont1"]
    assert torch.equal(G.sample(4, seed=5), G.sample(4, seed=5))


def test_infogan_resume_is_exact(tmp_path):
    cfg = tiny_config(steps=4, model=ModelConfig(name="infogan", z_dim=8, args=TINY))
    a = Trainer(cfg, tmp_path / "a")
    a.run()
    Trainer(dataclasses.replace(cfg, steps=3), tmp_path / "b").run()
    b = Trainer(cfg, tmp_path / "b", resume=True)
    b.run()
    for k, v in a.G.state_dict().items():
        assert torch.equal(v, b.G.state_dict()[k]), k


def test_traversal_rows_vary_one_code(tmp_path):
    G, _ = _build()
    z = traversal_latents(G, "cont0", n_rows=3, n_cols=5, seed=0)
    assert z.shape == (15, G.z_dim)
    rows = z.view(3, 5, -1)
    assert torch.equal(rows[:, :, 18], torch.linspace(-2, 2, 5).expand(3, 5))
    others = torch.cat([rows[:, :, :18], rows[:, :, 19:]], 2)
    assert torch.equal(others, others[:, :1].expand_as(others))  # the rest fixed in a row
    assert not torch.equal(rows[0, 0, :8], rows[1, 0, :8])  # rows differ in noise
    zc = traversal_latents(G, "cat0", n_rows=2)
    assert torch.equal(zc.view(2, 10, -1)[:, :, 8:18].argmax(2), torch.arange(10).expand(2, 10))
    x = sample_with_controls(G.eval(), 20, seed=0, traverse="cat0")
    assert x.shape == (20, 1, 28, 28)
    assert write_controlled_samples(G, tmp_path / "t.png", n=20, traverse="cont1").is_file()
    with pytest.raises(ValueError, match="not class-conditional"):
        sample_with_controls(G, 4, class_id=3)


class _StubG(CodedLatents, Generator):
    """Writes its category (through a fixed permutation) into every pixel."""

    def __init__(self, perm):
        super().__init__(4 + 10, (1, 28, 28))
        self.noise_dim, self.code_layout = 4, build_code_layout(4, [10], 0)
        self.perm = perm
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        digit = self.perm[z[:, 4:14].argmax(1)].float()
        return (digit / 10)[:, None, None, None].expand(-1, 1, 28, 28) + self.anchor


class _StubClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        digit = (x[:, 0, 0, 0] * 10).round().long()
        return nn.functional.one_hot(digit, 10).float() + self.w


def test_hungarian_accuracy_recovers_a_permutation():
    perm = torch.tensor([3, 1, 4, 0, 5, 9, 2, 6, 8, 7])
    res = categorical_code_accuracy(_StubG(perm), _StubClassifier(), n_per_value=20)
    assert res["acc"] == 1.0 and res["mapping"] == perm.tolist()
    merged = perm.clone()
    merged[1] = merged[0]  # two code values give the same digit: one of them must miss
    res = categorical_code_accuracy(_StubG(merged), _StubClassifier(), n_per_value=20)
    assert res["acc"] == pytest.approx(0.9)
