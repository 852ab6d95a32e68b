"""Every loss, optimizer and stabiliser is selectable from config and trains end to end."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ganforge.core.config import apply_override
from ganforge.core.registry import LOSSES, OPTIMIZERS
from ganforge.training.guard import all_finite
from ganforge.training.trainer import Trainer
from tests.conftest import tiny_config
from tests.test_engine import _assert_same_state


def _train(tmp_path, *assignments, steps=3):
    cfg = tiny_config(steps=steps)
    for a in assignments:
        cfg = apply_override(cfg, a)
    t = Trainer(cfg, tmp_path / "run")
    t.run()
    assert all_finite(t.G) and all_finite(t.D)
    return t


@pytest.mark.parametrize("loss", LOSSES.names())
def test_every_loss_trains(tmp_path, loss):
    _train(tmp_path, f"loss.name={loss}")


@pytest.mark.parametrize("opt", OPTIMIZERS.names())
def test_every_optimizer_trains(tmp_path, opt):
    _train(tmp_path, f"optim.name={opt}", "optim.schedule=cosine", "optim.warmup=1")


@pytest.mark.parametrize(
    "assignments",
    [
        ("tricks.pac=2",),
        ("tricks.spectral_norm=true",),
        ("tricks.label_smoothing=0.1", "tricks.label_flip=0.05"),
        ("tricks.diffaugment=color,translation,cutout",),
        ("tricks.ada=true",),
        ("loss.args.r1_gamma=1.0", "loss.args.r1_interval=2"),
        ("loss.name=wgan", "optim.d_steps=2"),
    ],
    ids=lambda a: "+".join(a),
)
def test_tricks_train(tmp_path, assignments):
    t = _train(tmp_path, *assignments)
    if "loss.name=wgan" in assignments:  # weight clipping keeps D inside [-0.01, 0.01]
        assert all(p.abs().max() <= 0.01 + 1e-7 for p in t.D.parameters())


def test_pac_discriminator_sees_packs(tmp_path):
    t = _train(tmp_path, "tricks.pac=4")
    x = torch.zeros(16, 1, 28, 28)
    assert t.D(x).shape == (4,)


def test_ada_probability_rises_and_resume_is_exact(tmp_path):
    cfg = tiny_config(steps=8)
    cfg = apply_override(cfg, "tricks.ada=true")
    cfg = apply_override(cfg, "loss.args.r1_gamma=0.5")
    cfg = apply_override(cfg, "loss.args.r1_interval=3")
    a = Trainer(cfg, tmp_path / "a")
    a.run()
    assert a.objective.augment.p > 0  # a fresh D is right on reals more often than the 0.6 target
    Trainer(dataclasses.replace(cfg, steps=5), tmp_path / "b").run()
    b = Trainer(cfg, tmp_path / "b", resume=True)
    b.run()
    sa, sb = a.state_dict(), b.state_dict()
    for key in ("G", "D", "G_ema", "opt_d", "augment"):
        _assert_same_state(sa[key], sb[key], key)
    assert sa["d_updates"] == sb["d_updates"] == 8


def test_label_tricks_need_bce(tmp_path):
    cfg = apply_override(tiny_config(), "loss.name=hinge")
    cfg = apply_override(cfg, "tricks.label_smoothing=0.1")
    with pytest.raises(ValueError, match="BCE"):
        Trainer(cfg, tmp_path / "x")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_resumes(tmp_path, precision):
    t = _train(tmp_path, f"precision={precision}", steps=4)
    assert t.G_ema.sample(2, seed=0).dtype == torch.float32
    if precision == "fp16":
        assert set(t.state_dict()["scalers"]) == {"G", "D"}
    Trainer(dataclasses.replace(t.cfg, steps=6), tmp_path / "run", resume=True).run()


def test_channels_last_matches_default_layout(tmp_path):
    a = _train(tmp_path / "a", steps=2)
    b = _train(tmp_path / "b", "channels_last=true", steps=2)
    for (k, va), vb in zip(a.G.state_dict().items(), b.G.state_dict().values(), strict=True):
        assert torch.allclose(va, vb, atol=1e-4), k


def test_auto_precision_follows_the_hardware(tmp_path, monkeypatch):
    from ganforge.training import precision as trainer_mod

    cpu = torch.device("cpu")
    monkeypatch.setattr(trainer_mod, "cpu_has_bf16", lambda: True)
    assert trainer_mod.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(trainer_mod, "cpu_has_bf16", lambda: False)
    assert trainer_mod.resolve_precision("auto", cpu) == "fp32"
    assert trainer_mod.resolve_precision("fp16", cpu) == "fp16"
    with pytest.raises(ValueError, match="valid: auto, fp32, bf16, fp16"):
        trainer_mod.resolve_precision("fp8", cpu)
    t = Trainer(dataclasses.replace(tiny_config(steps=1), precision="auto"), tmp_path / "r")
    assert t.precision == "fp32"  # (cpu_has_bf16 is patched to False above)
    t.run()
