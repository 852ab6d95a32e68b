"""Adversarial examples: FGSM/PGD against torchattacks as an oracle and closed forms,
AdvGAN, the classifier trainer and ``ganforge attack``."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.apps.adversarial.advgan import (
    AdvGANAttack,
    PerturbationGenerator,
    cw_margin_loss,
    train_advgan,
)
from ganforge.apps.adversarial.attacks import attack_report, fgsm, pgd
from ganforge.apps.adversarial.classifier import (
    Range01,
    SmallCNN,
    accuracy,
    load_classifier,
    load_target,
    save_classifier,
    train_classifier,
)
from ganforge.data.base import TensorData


def bn_dropout_net() -> nn.Module:
    """A net whose output depends on train/eval mode (batch norm + dropout), so an attack
    that forgot to switch to eval mode would differ from torchattacks and be random."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 10),
    )


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(12, 1, 8, 8, generator=g), torch.randint(10, (12,), generator=g)


# --- oracle: torchattacks 3.5.1 ----------------------------------------------------------


def test_fgsm_matches_torchattacks(batch):
    ta = pytest.importorskip("torchattacks")
    x, y = batch
    model = bn_dropout_net().train()
    ours = fgsm(model, x, y, eps=0.1)
    ref = ta.FGSM(model, eps=0.1)(x, y)
    assert torch.allclose(ours, ref, atol=1e-6)
    t = (y + 3) % 10
    atk = ta.FGSM(model, eps=0.1)
    atk.set_mode_targeted_by_label(quiet=True)
    assert torch.allclose(fgsm(model, x, t, eps=0.1, targeted=True), atk(x, t), atol=1e-6)


@pytest.mark.parametrize("norm", ["inf", "2"])
@pytest.mark.parametrize("targeted", [False, True])
@pytest.mark.parametrize("random_start", [True, False])
def test_pgd_matches_torchattacks(batch, norm, targeted, random_start):
    ta = pytest.importorskip("torchattacks")
    x, y = batch
    model = bn_dropout_net().train()
    eps, alpha = (0.2, 0.03) if norm == "inf" else (1.0, 0.3)
    cls = ta.PGD if norm == "inf" else ta.PGDL2
    atk = cls(model, eps=eps, alpha=alpha, steps=7, random_start=random_start)
    labels = (y + 1) % 10 if targeted else y
    if targeted:
        atk.set_mode_targeted_by_label(quiet=True)
    # Same seed -> same random start: both draw from the global RNG in the same order.
    torch.manual_seed(123)
    ours = pgd(
        model,
        x,
        labels,
        eps=eps,
        alpha=alpha,
        steps=7,
        norm=norm,
        targeted=targeted,
        random_start=random_start,
    )
    torch.manual_seed(123)
    ref = atk(x, labels)
    assert torch.allclose(ours, ref, atol=1e-6)
    assert not torch.equal(ours, x)


# --- closed forms and invariants ---------------------------------------------------------


def test_fgsm_closed_form_on_linear_model(batch):
    """For logits W x + b the CE input gradient is W^T (softmax - onehot(y))."""
    x, y = batch
    torch.manual_seed(0)
    lin = nn.Linear(64, 10)
    model = nn.Sequential(nn.Flatten(), lin)
    p = F.softmax(model(x), 1)
    grad = ((p - F.one_hot(y, 10).float()) @ lin.weight).view_as(x)
    expected = (x + 0.05 * grad.sign()).clamp(0, 1)
    assert torch.allclose(fgsm(model, x, y, eps=0.05), expected, atol=1e-6)
    # Targeted steps the other way.
    expected_t = (x - 0.05 * grad.sign()).clamp(0, 1)
    assert torch.allclose(fgsm(model, x, y, eps=0.05, targeted=True), expected_t, atol=1e-6)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_pgd_stays_in_ball_and_range_and_raises_loss(batch, norm):
    x, y = batch
    model = bn_dropout_net()
    eps = 0.1 if norm == "inf" else 0.8
    g = torch.Generator().manual_seed(0)
    adv = pgd(model, x, y, eps=eps, alpha=eps / 4, steps=10, norm=norm, generator=g)
    d = (adv - x).flatten(1)
    size = d.abs().amax(1) if norm == "inf" else d.norm(dim=1)
    assert (size <= eps + 1e-5).all()
    assert adv.min() >= 0 and adv.max() <= 1
    with torch.no_grad():
        model.eval()
        clean = F.cross_entropy(model(x), y, reduction="none")
        attacked = F.cross_entropy(model(adv), y, reduction="none")
    assert (attacked > clean).all()
    # The generator makes the start reproducible.
    again = pgd(
        model,
        x,
        y,
        eps=eps,
        alpha=eps / 4,
        steps=10,
        norm=norm,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(adv, again)


def test_pgd_l2_step_lands_on_sphere():
    """One big normalised step from the centre is projected to exactly ||delta||_2 = eps."""
    x = torch.full((3, 1, 8, 8), 0.5)
    y = torch.tensor([0, 1, 2])
    model = bn_dropout_net()
    adv = pgd(model, x, y, eps=0.3, alpha=5.0, steps=1, norm="2", random_start=False)
    assert torch.allclose((adv - x).flatten(1).norm(dim=1), torch.full((3,), 0.3), atol=1e-5)


def test_targeted_pgd_lowers_target_loss(batch):
    x, y = batch
    model = bn_dropout_net()
    t = (y + 5) % 10
    adv = pgd(model, x, t, eps=0.3, alpha=0.05, steps=10, targeted=True)
    model.eval()
    with torch.no_grad():
        before = F.cross_entropy(model(x), t, reduction="none")
        after = F.cross_entropy(model(adv), t, reduction="none")
    assert (after < before).all()


def test_attacks_restore_modes_and_leave_weights_alone(batch):
    x, y = batch
    model = bn_dropout_net().train()
    model[1].eval()  # a submodule in its own mode must come back as it was
    model[5].weight.requires_grad_(False)
    stats = model[1].running_mean.clone()
    pgd(model, x, y, eps=0.1, alpha=0.02, steps=3)
    fgsm(model, x, y, eps=0.1)
    assert model.training and not model[1].training and model[3].training
    assert all(p.grad is None for p in model.parameters())
    assert [p.requires_grad for p in model.parameters()] == [True, True, True, True, False, True]
    assert torch.equal(model[1].running_mean, stats)  # eval mode: BN statistics untouched


def test_input_checks(batch):
    x, y = batch
    model = bn_dropout_net()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fgsm(model, x * 2 - 1, y, eps=0.1)
    with pytest.raises(ValueError, match="norm"):
        pgd(model, x, y, eps=0.1, alpha=0.01, steps=1, norm="1")
    with pytest.raises(ValueError, match="int64"):
        fgsm(model, x, y.float(), eps=0.1)


def test_attack_report_counts_success_on_correct_inputs_only():
    class Fixed(nn.Module):
        """Predicts the class stored in the first pixel * 10."""

        def forward(self, x):
            return F.one_hot((x[:, 0, 0, 0] * 10).round().long(), 10).float()

    y = torch.tensor([1, 2, 3, 4])
    x = torch.zeros(4, 1, 2, 2)
    x[:, 0, 0, 0] = torch.tensor([0.1, 0.2, 0.3, 0.9])  # last one already wrong
    adv = x.clone()
    adv[0, 0, 0, 0] = 0.5  # fooled
    adv[3, 0, 0, 0] = 0.6  # was wrong anyway: no success
    r = attack_report(Fixed(), x, adv, y)
    assert r["clean_acc"] == 0.75 and r["adv_acc"] == 0.5
    assert r["success_rate"] == pytest.approx(1 / 3)
    assert r["linf"] == pytest.approx(0.4)


def test_cw_margin_loss_closed_form():
    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0]])
    y = torch.tensor([0, 2])
    # untargeted: Z_y - max_other = [3 - 2, 1 - 5] = [1, -4], clamped at -kappa = -2
    assert cw_margin_loss(logits, y, kappa=2.0).item() == pytest.approx((1 - 2) / 2)
    # targeted: max_other - Z_t = [2 - 3, 5 - 1] = [-1, 4]
    assert cw_margin_loss(logits, y, targeted=True).item() == pytest.approx((0 + 4) / 2)


# --- AdvGAN ------------------------------------------------------------------------------


def test_advgan_trains_bounded_and_round_trips(tmp_path):
    torch.manual_seed(0)
    target = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    w_before = target[1].weight.clone()
    x = torch.rand(64, 1, 8, 8)
    atk = train_advgan(
        target,
        x,
        eps=0.4,
        steps=40,
        batch_size=32,
        width=4,
        n_res=1,
        log_every=10,
        lr=3e-3,
        gan_weight=0.1,
    )
    assert torch.equal(target[1].weight, w_before) and target[1].weight.grad is None
    adv = atk(x)
    assert (adv - x).abs().max() <= 0.4 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert [h["step"] for h in atk.history] == [10, 20, 30, 40]
    r = attack_report(target, x, adv, target(x).argmax(1))
    # A linear model on noise is easy to fool at eps 0.4 (0.89-0.95 over seeds and thread
    # counts); an untrained generator's +-eps*tanh noise fools far fewer.
    assert r["success_rate"] > 0.7
    loaded = AdvGANAttack.load(atk.save(tmp_path / "g.safetensors"))
    assert loaded.eps == 0.4 and torch.equal(loaded(x), adv)


def test_advgan_generator_shape_and_bound():
    G = PerturbationGenerator(channels=3, eps=0.1, width=4, n_res=1)
    out = G(torch.rand(2, 3, 12, 16))
    assert out.shape == (2, 3, 12, 16) and out.abs().max() <= 0.1
    with pytest.raises(ValueError, match="divisible by 4"):
        G(torch.rand(1, 3, 10, 10))


# --- classifier --------------------------------------------------------------------------


def bright_dark(n: int = 200) -> TensorData:
    """Two classes a CNN separates in a few steps: dark (-0.5) and bright (+0.5) noise."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(2, (n,), generator=g)
    x = (y.float() - 0.5).view(-1, 1, 1, 1) + 0.2 * torch.randn(n, 1, 8, 8, generator=g)
    return TensorData(x.clamp(-1, 1), y, "bright_dark", 2)


def test_train_classifier_and_save_load(tmp_path):
    data = bright_dark()
    torch.manual_seed(0)
    model = SmallCNN(1, 2, width=4, img_size=8, hidden=8)
    r = train_classifier(model, data, epochs=3, lr=3e-3, batch_size=32, seed=0)
    assert r["acc"] == 1.0 and r["n_val"] == 20 and r["n_train"] == 180
    assert accuracy(model, data.x, data.y) == 1.0

    path = save_classifier(model, tmp_path / "clf.safetensors")
    loaded, rng = load_classifier(path)
    assert rng == "pm1" and torch.equal(loaded(data.x), model(data.x))
    wrapped = load_target(path)  # [0, 1] inputs
    assert torch.allclose(wrapped((data.x + 1) / 2), model(data.x), atol=1e-6)

    # A plain .pt state dict is recognised by its shapes (read with weights_only=True).
    torch.save(model.state_dict(), tmp_path / "clf.pt")
    loaded_pt, _ = load_classifier(tmp_path / "clf.pt")
    assert isinstance(loaded_pt, SmallCNN) and torch.equal(loaded_pt(data.x), model(data.x))


def test_load_classifier_rejects_unknown_architecture(tmp_path):
    torch.save({"w": torch.zeros(3)}, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match="odd.pt.*known architectures"):
        load_classifier(tmp_path / "odd.pt")
    with pytest.raises(FileNotFoundError):
        load_classifier(tmp_path / "missing.safetensors")


def test_range01_wraps():
    m = Range01(nn.Identity())
    assert torch.equal(m(torch.tensor([0.0, 0.5, 1.0])), torch.tensor([-1.0, 0.0, 1.0]))


# --- CLI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["fgsm", "advgan"])
def test_cli_attack_writes_report_grid_and_plot(tmp_path, method, capsys):
    from ganforge.cli import main

    torch.manual_seed(0)
    weights = save_classifier(SmallCNN(width=4, hidden=8), tmp_path / "m.safetensors")
    out = tmp_path / "out"
    argv = ["attack", "--model", str(weights), "--data", "mnist5k", "--method", method]
    argv += ["--eps", "0.2", "--n", "16", "--out", str(out), "--no-progress"]
    argv += ["--sweep", "0,0.3", "--steps", "2", "--train-steps", "2"]
    assert main(argv) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["method"] == method and rep["n"] == 16
    assert 0 <= rep["adv_acc"] <= 1 and 0 <= rep["clean_acc"] <= 1
    assert rep["linf"] <= 0.2 + 1e-6
    assert [(s["method"], s["eps"]) for s in rep["sweep"]] == [
        ("fgsm", 0.0),
        ("fgsm", 0.3),
        ("pgd", 0.0),
        ("pgd", 0.3),
    ]
    assert rep["sweep"][0]["adv_acc"] == rep["clean_acc"]  # eps 0 changes nothing
    for name in ("grid.png", "accuracy_vs_eps.png"):
        assert (out / name).stat().st_size > 1000
    assert (out / "advgan.safetensors").exists() == (method == "advgan")
    assert "success" in capsys.readouterr().out


def test_shipped_lenet_as_target_takes_unit_range():
    lenet_mod = pytest.importorskip("ganforge.metrics.lenet")
    from ganforge.data.builtin import mnist5k_arrays

    x, y = mnist5k_arrays()
    x01 = torch.from_numpy(x[:200]).float().div(255)[:, None]
    model = load_target("lenet")
    assert accuracy(model, x01, torch.from_numpy(y[:200])) > 0.95
    # The weights file by path is recognised too (arch and input range from its metadata).
    by_path = load_target(lenet_mod.WEIGHTS_PATH)
    assert torch.equal(by_path(x01[:8]), model(x01[:8]))
