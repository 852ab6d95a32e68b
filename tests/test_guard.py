"""The non-finite guard survives injected faults and diagnoses hopeless runs."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import torch

from ganforge.core.checkpoint import load_checkpoint
from ganforge.training.guard import TrainingDiverged, all_finite
from ganforge.training.trainer import Trainer
from tests.conftest import tiny_config


def _events(run):
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_nan_in_data_is_skipped_and_run_finishes(tmp_path):
    cfg = tiny_config(steps=12)
    t = Trainer(cfg, tmp_path / "run")
    t.data.x[torch.arange(0, len(t.data.x), 50)] = float("nan")  # ~2% of items poisoned
    t.run()
    assert t.skipped_updates > 0
    assert all_finite(t.G) and all_finite(t.D) and all_finite(t.G_ema)
    ev = [e for e in _events(tmp_path / "run") if e.get("event") == "nonfinite_grad"]
    assert ev and all(e["data_finite"] is False for e in ev)


@pytest.mark.parametrize("lr_after", [1, 2])
def test_nan_weights_roll_back_and_lower_lr(tmp_path, lr_after):
    cfg = tiny_config(steps=12)
    guard = dataclasses.replace(cfg.guard, snapshot_every=2, lr_after=lr_after)
    cfg = dataclasses.replace(cfg, guard=guard)
    t = Trainer(cfg, tmp_path / "run")
    inner = t.objective.step
    lrs = {}

    def poisoned(ctx):
        logs = inner(ctx)
        if ctx.step in (5, 8):  # about to become step 6 / 9: corrupt a G weight
            with torch.no_grad():
                next(t.G.parameters()).view(-1)[0] = float("inf")
        lrs[ctx.step] = t.opt_g.param_groups[0]["lr"]
        return logs

    t.objective.step = poisoned
    t.run()
    rollbacks = [e for e in _events(tmp_path / "run") if e.get("event") == "rollback"]
    assert len(rollbacks) == 2 and rollbacks[0]["reason"] == "nonfinite_weights"
    assert rollbacks[0]["to_step"] == 4
    lr = cfg.optim.lr_g
    # lr_after=1 halves at every rollback; lr_after=2 keeps the LR after an isolated fault
    # and halves only at the second rollback before recovery.
    after_first = lr * 0.5 if lr_after == 1 else lr
    assert lrs[7] == pytest.approx(after_first)
    assert t.opt_g.param_groups[0]["lr"] == pytest.approx(after_first * 0.5)
    assert all_finite(t.G) and t.step == 12


def test_hopeless_run_stops_with_diagnosis_and_keeps_last_good(tmp_path):
    cfg = tiny_config(steps=40)
    cfg = dataclasses.replace(
        cfg, guard=dataclasses.replace(cfg.guard, snapshot_every=1, skip_limit=2, max_rollbacks=2)
    )
    t = Trainer(cfg, tmp_path / "run")
    inner = t.objective.step

    def always_nan_after_3(ctx):
        if ctx.step >= 3:
            t.data.x.fill_(float("nan"))
        return inner(ctx)

    t.objective.step = always_nan_after_3
    with pytest.raises(TrainingDiverged, match="data holds NaN"):
        t.run()
    ckpt = load_checkpoint(tmp_path / "run")
    assert all(torch.isfinite(v).all() for v in ckpt["G"].values() if v.is_floating_point())


def test_diagnosis_names_grad_clip_for_exploding_gradients(tmp_path):
    t = Trainer(tiny_config(), tmp_path / "run")
    msg = t.guard.diagnosis(t.step, "nonfinite_weights")
    assert "optim.grad_clip" in msg and "optim.lr_g" in msg


def test_learning_rate_recovers_after_clean_steps(tmp_path):
    cfg = tiny_config(steps=12)
    cfg = dataclasses.replace(
        cfg, guard=dataclasses.replace(cfg.guard, snapshot_every=2, recover_after=3, lr_after=1)
    )
    t = Trainer(cfg, tmp_path / "run")
    inner = t.objective.step

    def poisoned(ctx):
        logs = inner(ctx)
        if ctx.step == 4:
            with torch.no_grad():
                next(t.G.parameters()).view(-1)[0] = float("nan")
        return logs

    t.objective.step = poisoned
    t.run()
    events = [e.get("event") for e in _events(tmp_path / "run")]
    assert events.count("rollback") == 1 and events.count("lr_recovered") == 1
    assert t.guard.lr_scale == 1.0 and t.guard.rollbacks == 0
    assert t.opt_g.param_groups[0]["lr"] == pytest.approx(cfg.optim.lr_g)


@pytest.mark.parametrize("optim_name", ["rmsprop", "adam"])
def test_a_second_rollback_restores_the_same_optimizer_state(optim_name):
    """torch.optim adopts the tensors it loads: without a copy the steps after a rollback
    wrote into the snapshot, and a second rollback to it restored their moments (or NaNs)."""
    from ganforge.training.guard import NonFiniteGuard
    from ganforge.training.optim import build_optimizer

    w = torch.zeros(4, requires_grad=True)
    opt = build_optimizer(optim_name, [w], lr=0.1, beta1=0.5, beta2=0.9)

    def step(grad):
        w.grad = torch.full((4,), grad)
        opt.step()

    step(1.0)
    guard = NonFiniteGuard(tiny_config(), {"opt": opt, "w": torch.nn.ParameterList([w])}, [w])
    guard.snapshot(1)
    good = copy.deepcopy(opt.state_dict()["state"])
    for _ in range(2):
        step(float("nan"))
        guard.rollback(2, "nonfinite_weights")
        state = opt.state_dict()["state"]
        for k, v in good[0].items():
            assert torch.equal(state[0][k], v), k
