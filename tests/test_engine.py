"""The training loop: run folder contents, exact resume, Ctrl-C, checkpoints, load."""

from __future__ import annotations

import dataclasses
import errno
import json
import signal

import pytest
import torch

import ganforge
from ganforge.apps.gan import gan_trainer
from ganforge.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ganforge.training.stopping import TrainingStopped
from ganforge.training.trainer import Trainer
from tests.conftest import tiny_config


def _assert_same_state(a: dict, b: dict, path: str = "") -> None:
    assert a.keys() == b.keys(), path
    for k in a:
        va, vb = a[k], b[k]
        if isinstance(va, dict):
            _assert_same_state(va, vb, f"{path}.{k}")
        elif isinstance(va, torch.Tensor):
            assert torch.equal(va, vb), f"{path}.{k} differs"
        elif isinstance(va, list) and va and isinstance(va[0], torch.Tensor):
            assert all(torch.equal(x, y) for x, y in zip(va, vb, strict=True)), f"{path}.{k}"
        else:
            assert va == vb, f"{path}.{k}: {va} != {vb}"


def test_run_folder_contents(tmp_path, tiny_cfg):
    out = Trainer(tiny_cfg, tmp_path / "run").run()
    assert (out / "config.toml").is_file()
    assert (out / "checkpoints" / "latest.pt").is_file()
    assert (out / "checkpoints" / "step_0000003.pt").is_file()
    assert (out / "samples" / "step_0000003.png").is_file()
    assert (out / "samples.png").is_file()
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in lines if "loss_d" in r]
    assert steps == [2, 4, 6]
    for key in (
        "loss_d",
        "loss_g",
        "d_real",
        "d_fake",
        "grad_norm_D",
        "grad_norm_G",
        "images_per_s",
    ):
        assert all(key in r for r in lines if "loss_d" in r), key
    assert 0 <= lines[0]["d_real"] <= 1


@pytest.mark.parametrize(
    "model,precision", [("dcgan", "fp32"), ("toy2d", "fp32"), ("dcgan", "bf16")]
)
def test_resume_is_bit_exact(tmp_path, model, precision):
    """On CPU, bf16 autocast is deterministic too: a resumed bf16 run is bit-identical."""
    cfg = tiny_config(
        steps=8, precision=precision, channels_last="true" if precision == "bf16" else "false"
    )
    if model == "toy2d":
        cfg = dataclasses.replace(
            cfg,
            data=dataclasses.replace(cfg.data, spec="ring8"),
            model=dataclasses.replace(cfg.model, name="toy2d", args={"g_hidden": [16]}),
        )
    # d_steps=2 and gradient clipping exercise the data permutation and extra RNG draws.
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, d_steps=2, grad_clip=1.0))
    straight = Trainer(cfg, tmp_path / "a")
    straight.run()

    half = Trainer(dataclasses.replace(cfg, steps=5), tmp_path / "b")  # stop off the ckpt grid
    half.run()
    resumed = Trainer(cfg, tmp_path / "b", resume=True)
    assert resumed.step == 5
    resumed.run()
    a, b = straight.state_dict(), resumed.state_dict()
    for key in ("G", "D", "G_ema", "opt_g", "opt_d", "batcher", "rng"):
        _assert_same_state(a[key], b[key], key)
    log = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss_d" in r] == [2, 4, 5, 6, 8]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGUSR1])
def test_a_signal_stops_at_the_step_boundary_and_the_resume_is_exact(tmp_path, tiny_cfg, sig):
    cfg = dataclasses.replace(
        tiny_cfg, steps=8, log=dataclasses.replace(tiny_cfg.log, ckpt_every=100)
    )
    straight = Trainer(cfg, tmp_path / "a")
    straight.run()
    trainer = Trainer(cfg, tmp_path / "b")
    real_step = trainer.objective.step
    calls = {"n": 0}

    def signalled(ctx):
        calls["n"] += 1
        if calls["n"] == 4:  # the signal lands in the middle of step 4
            signal.raise_signal(sig)
            signal.raise_signal(sig)  # a second one must not cut anything short
        return real_step(ctx)

    trainer.objective.step = signalled
    with pytest.raises(TrainingStopped) as stopped:
        trainer.run()
    assert stopped.value.step == 4 and stopped.value.exit_code == 128 + sig
    assert load_checkpoint(tmp_path / "b")["step"] == 4
    assert not list((tmp_path / "b").glob(".lock"))  # the writer lock is released
    events = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert {"step": 4, "event": "stopped", "signal": signal.Signals(sig).name} in events
    resumed = Trainer(cfg, tmp_path / "b", resume=True)
    resumed.run()
    a, b = straight.state_dict(), resumed.state_dict()
    for key in ("G", "D", "G_ema", "opt_g", "opt_d", "batcher", "rng"):
        _assert_same_state(a[key], b[key], key)


def test_an_interrupt_inside_a_step_keeps_the_last_whole_checkpoint(tmp_path, tiny_cfg):
    trainer = Trainer(tiny_cfg, tmp_path / "run")  # ckpt_every = 3
    real_step = trainer.objective.step
    calls = {"n": 0}

    def interrupted(ctx):
        calls["n"] += 1
        out = real_step(ctx)
        if calls["n"] == 5:  # after the updates of step 5, before the loop sees them
            raise KeyboardInterrupt
        return out

    trainer.objective.step = interrupted
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert load_checkpoint(tmp_path / "run")["step"] == 3  # not a half-done step 5
    resumed = Trainer(tiny_cfg, tmp_path / "run", resume=True)
    resumed.run()
    assert load_checkpoint(tmp_path / "run")["step"] == tiny_cfg.steps


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "latest.pt"
    save_checkpoint({"step": 1}, path)

    def boom(obj, f, *a, **k):
        open(f, "wb").write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(f))

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(CheckpointError, match=r"latest.pt: the disk is full. Earlier files"):
        save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]


def test_checkpoint_refuses_pickled_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "ganforge-checkpoint", "version": 1, "x": Evil()}, tmp_path / "e.pt")
    with pytest.raises(CheckpointError, match="refused: it holds pickled Python objects") as e:
        load_checkpoint(tmp_path / "e.pt")
    assert "weights_only=False" not in str(e.value)  # never advise loading it anyway
    with pytest.raises(CheckpointError, match="no such run"):
        load_checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="latest.pt"):
        load_checkpoint(tmp_path / "empty")


def test_load_returns_eval_generator(tmp_path, tiny_cfg):
    trainer = Trainer(tiny_cfg, tmp_path / "run")
    trainer.run()
    G = ganforge.load(tmp_path / "run")
    assert not G.training and G.z_dim == 16
    x = G.sample(5, seed=0)
    assert x.shape == (5, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, G.sample(5, seed=0))
    G2 = ganforge.load(tmp_path / "run" / "checkpoints" / "step_0000003.pt")
    assert G2.step == 3


def test_nonfinite_gradient_is_skipped(tmp_path, tiny_cfg):
    trainer = Trainer(tiny_cfg, tmp_path / "run")
    before = [p.detach().clone() for p in trainer.G.parameters()]
    loss = sum(p.sum() for p in trainer.G.parameters()) * float("nan")
    trainer.update("G", loss)
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.G.parameters(), strict=True))
    assert trainer.skipped_updates == 1


def test_run_writes_a_report(tmp_path, tiny_cfg):
    out = gan_trainer(tiny_cfg, tmp_path / "run").run()
    html = (out / "report.html").read_text()
    assert "<svg" in html and "data:image/png;base64" in html
    assert "http://" not in html.replace("http://www.w3.org", "")  # self-contained


def test_g_update_leaves_d_gradients_alone(tmp_path, tiny_cfg):
    """G's backward computes only G's weight gradients (D's are neither computed nor
    accumulated), and D's backward only D's."""
    t = Trainer(tiny_cfg, tmp_path / "run")
    obj, ctx = t.objective, t.ctx
    real = ctx.next_batch()[0]
    z = obj.latents(ctx, tiny_cfg.batch_size)
    fake = t.G(z)
    d_real, d_fake = obj.d_forward(ctx, real), obj.d_forward(ctx, fake.detach())
    t.update("D", obj.d_loss(ctx, d_real, d_fake, real, fake))
    d_grads = [p.grad.clone() for p in t.D.parameters()]
    assert all(p.grad is None for p in t.G.parameters())
    t.update("G", obj.loss.g(None, obj.d_forward(ctx, fake)))
    assert all(torch.equal(p.grad, g) for p, g in zip(t.D.parameters(), d_grads, strict=True))
    assert all(p.grad is not None for p in t.G.parameters())


def test_threads_setting_sets_and_checks_the_thread_count(tmp_path, tiny_cfg):
    before = torch.get_num_threads()
    try:
        Trainer(dataclasses.replace(tiny_cfg, threads=1), tmp_path / "a")
        assert torch.get_num_threads() == 1
        torch.set_num_threads(before)
        Trainer(dataclasses.replace(tiny_cfg, threads=0), tmp_path / "b")  # 0: left alone
        assert torch.get_num_threads() == before
        with pytest.raises(ValueError, match="threads = -1 is out of range: must be >= 0"):
            Trainer(dataclasses.replace(tiny_cfg, threads=-1), tmp_path / "c")
    finally:
        torch.set_num_threads(before)


def test_timing_steps_leaves_the_run_exactly_as_it_was(tmp_path, tiny_cfg):
    plain = Trainer(tiny_cfg, tmp_path / "a")
    plain.run()
    timed = Trainer(tiny_cfg, tmp_path / "b")
    assert timed.time_steps(2) > 0 and timed.step == 0
    timed.run()
    a, b = plain.state_dict(), timed.state_dict()
    for key in ("G", "D", "G_ema", "opt_g", "opt_d", "batcher", "rng"):
        _assert_same_state(a[key], b[key], key)


def test_auto_precision_and_layout_are_measured_recorded_and_kept_on_resume(tmp_path, monkeypatch):
    from ganforge.training import autotune

    monkeypatch.setattr(autotune, "native_precisions", lambda device: ["fp32", "bf16"])
    cfg = tiny_config(precision="auto", channels_last="auto", steps=4)
    t = Trainer(cfg, tmp_path / "run")
    assert t.precision in ("fp32", "bf16") and t.speed_choice.endswith("(measured fastest)")
    entry = json.loads(autotune.cache_file().read_text())
    assert any(len(e["timings"]) == 4 for e in entry.values())  # 2 precisions x 2 layouts
    t.run()
    events = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    tuned = [e for e in events if e.get("event") == "autotune"]
    assert tuned and tuned[0]["precision"] == t.precision
    ckpt = load_checkpoint(tmp_path / "run")
    assert (ckpt["precision"], ckpt["channels_last"]) == (t.precision, t.channels_last)
    resumed = Trainer(dataclasses.replace(cfg, steps=6), tmp_path / "run", resume=True)
    assert (resumed.precision, resumed.channels_last) == (t.precision, t.channels_last)
    assert resumed.speed_choice == ""  # nothing measured again


def test_autotune_keeps_each_candidates_fastest_of_interleaved_rounds(tmp_path, monkeypatch):
    """One slow draw (load on a shared machine) must not decide: fp32 measured 5 s once
    and 1 s twice beats bf16's steady 0.97 s within the margin."""
    from ganforge.training import autotune

    order = _script_timings(monkeypatch, {"fp32": [5.0, 1.0, 1.0], "bf16": [0.97, 0.97, 0.97]})
    t = Trainer(tiny_config(precision="auto", channels_last="false"), tmp_path / "run")
    assert order == ["fp32", "bf16"] * autotune.ROUNDS  # interleaved
    assert t.precision == "fp32"


def _script_timings(monkeypatch, draws: dict[str, list[float]]) -> list[str]:
    """Autotuning between fp32 and bf16 with scripted seconds per step (a fresh cache);
    returns the list the precisions are appended to as they are timed."""
    from ganforge.training import autotune

    monkeypatch.setattr(autotune, "native_precisions", lambda device: ["fp32", "bf16"])
    monkeypatch.setattr(autotune, "cached", lambda key: None)
    order: list[str] = []

    def fake_time_steps(self, n=2):
        order.append(self.precision)
        return draws[self.precision].pop(0)

    monkeypatch.setattr(Trainer, "time_steps", fake_time_steps)
    return order


def test_slow_steps_are_timed_once(tmp_path, monkeypatch):
    """A step slower than SLOW_STEP_S is its own measurement: time_steps stops after the
    warm-up step (still undone), and autotuning stops after one round."""
    from ganforge.training import autotune

    t = Trainer(tiny_config(), tmp_path / "a")
    calls = []
    real_step = Trainer.train_step
    monkeypatch.setattr(Trainer, "train_step", lambda self: calls.append(1) or real_step(self))
    monkeypatch.setattr(autotune, "SLOW_STEP_S", 0.0)
    assert t.time_steps(2) > 0 and len(calls) == 1 and t.step == 0
    monkeypatch.undo()

    order = _script_timings(monkeypatch, {"fp32": [60.0, 1.0, 1.0], "bf16": [50.0, 1.0, 1.0]})
    t = Trainer(tiny_config(precision="auto", channels_last="false"), tmp_path / "b")
    assert order == ["fp32", "bf16"] and t.precision == "bf16"


def test_auto_precision_stays_within_what_the_objective_allows():
    from ganforge.training import autotune

    cpu = torch.device("cpu")
    both = autotune.candidates("auto", "auto", cpu, True, ("fp32", "bf16"))
    assert {p for p, _ in both} <= {"fp32", "bf16"}
    assert autotune.candidates("auto", "false", cpu, True, ("fp32",)) == [("fp32", False)]
    # an explicit precision is obeyed whatever the objective prefers
    assert autotune.candidates("bf16", "false", cpu, True, ("fp32",)) == [("bf16", False)]


def test_pick_prefers_plain_numerics_on_a_tie():
    from ganforge.training.autotune import pick

    assert pick({("fp32", False): 1.0, ("bf16", True): 0.97}) == ("fp32", False)
    assert pick({("fp32", False): 1.0, ("bf16", True): 0.5}) == ("bf16", True)


def test_logged_numbers_are_averaged_over_every_step_of_a_log_interval():
    from ganforge.training.trainer import _LoggedSums

    sums = _LoggedSums()
    values = [float(i) for i in range(300)]  # more than two folds
    for i, v in enumerate(values):
        logs = {"a": torch.tensor(v)}
        if i % 2 == 0:
            logs["b"] = torch.tensor(1.0)  # logged by half the steps: counts 0 elsewhere
        sums.add(logs)
    means = sums.means()
    assert means["a"] == pytest.approx(sum(values) / 300)
    assert means["b"] == pytest.approx(0.5)
    assert len(sums._pending) == 0
