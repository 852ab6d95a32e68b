"""What clusters, users and shared files do to a run: every case gets one clear
``ganforge: error:`` line or a clean recovery, never a traceback or a lost run."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.core.checkpoint import load_checkpoint
from ganforge.core.config import EvalConfig, save_toml
from ganforge.core.runfolder import RunFolder, RunFolderBusy
from ganforge.hub.zoo import resolve_zoo
from ganforge.training.trainer import Trainer
from tests.conftest import tiny_config


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI expecting a user error: exit 2, one `ganforge: error:` line."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge: error: ") and "Traceback" not in err, err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("batch_size=0", "batch_size = 0 is out of range: must be >= 1"),
        ("batch_size=-4", "batch_size = -4 is out of range"),
        ("steps=-5", "steps = -5 is out of range: must be >= 0"),
        ("log.every=0", "log.every = 0 is out of range: must be >= 1"),
        ("log.ckpt_every=0", "log.ckpt_every = 0 is out of range"),
        ("optim.lr_g=-1", "optim.lr_g = -1.0 is out of range: must be > 0"),
        ("model.z_dim=-3", "model.z_dim = -3 is out of range"),
        ("tricks.label_flip=0.9", "tricks.label_flip = 0.9 is out of range"),
    ],
)
def test_out_of_range_values_are_refused_before_anything_runs(
    tmp_path, capsys, assignment, message
):
    err = _error(["train", "gan-ring8", "--out", str(tmp_path / "r"), "--set", assignment], capsys)
    assert message in err
    assert not (tmp_path / "r").exists()


def test_a_deeply_nested_toml_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested deeper" in _error(["train", str(path)], capsys)


def test_a_tampered_export_with_a_huge_layer_fails_fast(tmp_path, capsys):
    exp = tmp_path / "exp"
    shutil.copytree(resolve_zoo("gan-ring8"), exp)
    info = json.loads((exp / "config.json").read_text())
    info["config"]["model"]["args"]["g_hidden"] = [1_000_000_000]
    (exp / "config.json").write_text(json.dumps(info))
    t0 = time.perf_counter()
    err = _error(["sample", str(exp), "--out", str(tmp_path / "s.png")], capsys)
    assert time.perf_counter() - t0 < 1.0
    assert "config.json" in err and "parameters, more than the limit" in err


@pytest.mark.parametrize("damage", ["truncated", "empty", "bad_json"])
def test_damaged_exports_name_the_file(tmp_path, capsys, damage):
    exp = tmp_path / "exp"
    shutil.copytree(resolve_zoo("gan-ring8"), exp)
    weights = exp / "generator.safetensors"
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:500])
    elif damage == "empty":
        weights.write_bytes(b"")
    else:
        (exp / "config.json").write_text("{not json")
    err = _error(["sample", str(exp), "--out", str(tmp_path / "s.png")], capsys)
    assert ("config.json" if damage == "bad_json" else "generator.safetensors") in err


def test_a_truncated_checkpoint_names_the_file(tmp_path, capsys):
    run = tmp_path / "run"
    Trainer(tiny_config(steps=2), run).run()
    latest = run / "checkpoints" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:300])
    err = _error(["sample", str(run), "--out", str(tmp_path / "s.png")], capsys)
    assert "latest.pt: not a readable checkpoint (truncated or corrupt" in err


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a read-only system folder")
def test_an_unwritable_output_folder_says_so(tmp_path, capsys):
    err = _error(["train", "gan-ring8", "--out", "/sys/ganforge-run", "--steps", "1"], capsys)
    assert "cannot write" in err and "permission denied" in err


def test_a_second_writer_is_refused_and_a_stale_lock_is_taken_over(tmp_path):
    cfg = tiny_config(steps=2)
    run = RunFolder(tmp_path / "run")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run.path.mkdir()
        run.lock_path.write_text(json.dumps({"pid": holder.pid, "host": os.uname().nodename,
                                             "since": time.time()}))  # fmt: skip
        with pytest.raises(RunFolderBusy, match=f"written by process {holder.pid}"):
            Trainer(cfg, run.path).run()
        assert not run.metrics.exists() and not run.has_run()  # nothing written
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone now: its lock is stale and is taken over, with a note in the log
    Trainer(cfg, run.path).run()
    assert run.has_run() and not run.lock_path.exists()
    assert any(r.get("event") == "stale_lock" for r in run.records())


def test_an_empty_lock_left_by_a_writer_killed_while_taking_it_is_taken_over(tmp_path):
    """A writer killed between creating .lock and writing its pid leaves an empty file;
    a fresh one is being written this instant (waited for), an old one is taken over."""
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.lock_path.write_text("")
    old = time.time() - 60
    os.utime(run.lock_path, (old, old))
    assert "unreadable lock" in run.acquire()
    assert json.loads(run.lock_path.read_text())["pid"] == os.getpid()
    run.release()


def test_resuming_a_finished_run_clears_the_lock_of_a_run_killed_after_its_last_save(
    tmp_path, capsys
):
    run = RunFolder(tmp_path / "run")
    Trainer(tiny_config(steps=2), run.path).run()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.lock_path.write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename,
                                         "since": time.time()}))  # fmt: skip
    assert main(["train", "--resume", str(run.path)]) == 0
    assert "already at step 2" in capsys.readouterr().out
    assert not run.lock_path.exists()


def test_temp_files_of_killed_writes_are_removed_at_the_next_start(tmp_path):
    cfg = tiny_config(steps=2)
    Trainer(cfg, tmp_path / "run").run()
    strays = [tmp_path / "run" / "checkpoints" / ".latest.pt.tmp4242",
              tmp_path / "run" / "checkpoints" / ".step_0000003.pt.tmp4242",
              tmp_path / "run" / ".metrics.jsonl.tmp4242"]  # fmt: skip
    for s in strays:
        s.write_bytes(b"partial")
    Trainer(dataclasses.replace(cfg, steps=3), tmp_path / "run", resume=True).run()
    assert not any(s.exists() for s in strays)


def test_a_failing_end_of_run_evaluation_loses_nothing(tmp_path):
    """The evaluation asks for more samples than a small folder holds: a warning and an
    event, and the run keeps its checkpoint, samples and report."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    cfg = tiny_config(steps=2, eval=EvalConfig(every=2, metrics=("fid5k_raw",)))
    cfg = dataclasses.replace(
        cfg, data=dataclasses.replace(cfg.data, spec=str(folder), resolution=28)
    )
    from ganforge.apps.gan import gan_trainer

    with pytest.warns(UserWarning, match="PeriodicEvaluation.on_step_end failed"):
        gan_trainer(cfg, tmp_path / "run").run()
    run = RunFolder(tmp_path / "run")
    assert load_checkpoint(run.path)["step"] == 2 and run.final_samples.is_file()
    assert run.report.is_file()
    failed = [r for r in run.records() if r.get("event") == "callback_failed"]
    assert failed and "5000" in failed[0]["error"]


def test_an_image_folder_with_a_symlink_loop_skips_it(tmp_path):
    from ganforge.core.config import DataConfig
    from ganforge.data import load_data

    for cls in ("cats", "dogs"):
        (tmp_path / "d" / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(tmp_path / "d" / cls / f"{i}.png")
    os.symlink("loop", tmp_path / "d" / "loop")  # a folder-level loop
    os.symlink("self.png", tmp_path / "d" / "cats" / "self.png")  # a file-level loop
    with pytest.warns(UserWarning, match="skipped 2"):
        data = load_data(DataConfig(spec=str(tmp_path / "d"), resolution=16))
    assert len(data) == 6 and data.class_names == ["cats", "dogs"]
    assert sorted(Path(p).name for p, _ in data.skipped) == ["loop", "self.png"]


def test_saved_config_with_resume_still_trains(tmp_path):
    """A config file written by a run trains again as it is (round trip of the checks)."""
    cfg = tiny_config(steps=1)
    save_toml(cfg, tmp_path / "c.toml")
    assert main(["train", str(tmp_path / "c.toml"), "--out", str(tmp_path / "r"),
                 "--no-progress"]) == 0  # fmt: skip


def test_onnx_export_without_onnx_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if it were not installed
    err = _error(["export", "zoo:gan-ring8", "--format", "onnx", "--out", str(tmp_path)], capsys)
    assert "pip install 'ganforge[onnx]'" in err
