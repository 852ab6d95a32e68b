"""Multi-process training with torchrun and the gloo backend on CPU (2 processes)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

from ganforge.core.checkpoint import load_checkpoint
from ganforge.training.trainer import Trainer
from tests.conftest import tiny_config

SCRIPT = textwrap.dedent("""
    import dataclasses, os, sys, torch
    from ganforge.core.config import from_dict, TrainConfig
    from ganforge.training.trainer import Trainer
    import json
    cfg = from_dict(TrainConfig, json.loads(sys.argv[1]))
    out = sys.argv[2]
    t = Trainer(cfg, out, resume=len(sys.argv) > 3)
    t.run()
    torch.save({"G": t.G.state_dict(), "D": t.D.state_dict()},
               os.path.join(out, f"rank{t.dist.rank}.pt"))
""")


def _cfg(steps: int):
    import dataclasses

    cfg = tiny_config(steps=steps)
    # The MLP GAN has no BatchNorm, so 2 processes x 8 must equal 1 process x 16.
    return dataclasses.replace(
        cfg,
        model=dataclasses.replace(
            cfg.model, name="mlp", args={"g_hidden": [32], "d_channels": [4, 8, 8, 8]}
        ),
    )


def _torchrun(tmp_path, cfg, out, resume=False, nproc=2):
    import json

    from ganforge.core.config import to_dict

    script = tmp_path / "run_dist.py"
    script.write_text(SCRIPT)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(script),
        json.dumps(to_dict(cfg)),
        str(out),
    ]
    if resume:
        cmd.append("resume")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_processes_match_one_and_resume_with_other_count(tmp_path):
    cfg = _cfg(4)
    single = Trainer(cfg, tmp_path / "single")
    single.run()

    _torchrun(tmp_path, cfg, tmp_path / "multi")
    r0 = torch.load(tmp_path / "multi" / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "multi" / "rank1.pt", weights_only=True)
    for net in ("G", "D"):
        for k in r0[net]:
            assert torch.equal(r0[net][k], r1[net][k]), f"ranks differ in {net}.{k}"
            assert torch.allclose(r0[net][k], single.state_dict()[net][k], atol=1e-5, rtol=1e-4), k
    # Only rank 0 wrote the run folder; the checkpoint resumes in a single process.
    assert load_checkpoint(tmp_path / "multi")["step"] == 4
    shutil.copytree(tmp_path / "multi", tmp_path / "multi_then_single")
    Trainer(_cfg(6), tmp_path / "multi_then_single", resume=True).run()
    assert load_checkpoint(tmp_path / "multi_then_single")["step"] == 6


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_sigterm_to_torchrun_leaves_a_checkpoint_that_resumes(tmp_path):
    """What a scheduler does before a kill: SIGTERM to the launcher. torchrun passes it to
    the workers, they agree on one step, rank 0 saves; the run then resumes to its end."""
    import dataclasses
    import json
    import signal
    import time

    from ganforge.core.config import save_toml

    cfg = _cfg(100_000)
    cfg = dataclasses.replace(cfg, log=dataclasses.replace(cfg.log, every=1, ckpt_every=10**6))
    save_toml(cfg, tmp_path / "cfg.toml")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "ganforge", "train", str(tmp_path / "cfg.toml"), "--out", str(out)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = out / "metrics.jsonl"
    deadline = time.time() + 90
    while time.time() < deadline and not (log.exists() and log.stat().st_size > 200):
        time.sleep(0.2)
    assert log.exists(), "training never started"
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=90)[0].decode(errors="replace")
    step = load_checkpoint(out)["step"]
    assert 0 < step < cfg.steps, output[-2000:]
    events = [json.loads(x) for x in log.read_text().splitlines()]
    assert {"step": step, "event": "stopped", "signal": "SIGTERM"} in events, output[-2000:]
    res = subprocess.run(
        [sys.executable, "-m", "ganforge", "train", "--resume", str(out), "--steps",
         str(step + 3), "--no-progress"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert load_checkpoint(out)["step"] == step + 3
