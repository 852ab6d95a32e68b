"""Fault injection: interrupt real runs and check that nothing is lost or corrupted.

Each trial starts ``ganforge train`` on a small 2-D run in a subprocess, delivers SIGKILL,
SIGTERM or SIGINT at a random moment (with ``--ckpt-every 1`` in half the trials, so many
signals land while a checkpoint is being written), resumes the run to its end with
``ganforge train --resume`` and compares the result with an uninterrupted twin: every
tensor of the final checkpoint must be bit-identical, no temporary file or lock may remain,
and every checkpoint file must load. A fuzz pass then feeds the command line random
configuration overrides, damaged exports and folders of junk files: every outcome must be
a success or one ``ganforge: error:`` line (exit 2), never a traceback.

    python benchmarks/fault_injection.py --trials 50          # 50 per signal (BENCHMARKS.md)
    python benchmarks/fault_injection.py --trials 3 --fuzz 20 # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganforge.cli import main
from ganforge.core.checkpoint import CheckpointError, load_checkpoint
from ganforge.core.config import TrainConfig, save_toml
from ganforge.core.presets import load_preset_or_file
from ganforge.hub.zoo import resolve_zoo

STEPS = 1500
RESUME_TIMEOUT = 1200  # seconds; runs with a checkpoint every step crawl on a busy machine
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}


def small_config(ckpt_every: int) -> TrainConfig:
    """gan-ring8's recipe, shortened: a few seconds per run on one thread."""
    import dataclasses

    _, cfg = load_preset_or_file("gan-ring8")
    return dataclasses.replace(
        cfg,
        steps=STEPS,
        batch_size=64,
        log=dataclasses.replace(
            cfg.log, every=10, sample_every=10**6, ckpt_every=ckpt_every, progress=False,
            report=False,
        ),
        eval=dataclasses.replace(cfg.eval, every=0),
        sample=dataclasses.replace(cfg.sample, langevin=False),
    )  # fmt: skip


def train(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ganforge", "train", *args, "--no-progress"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def tensors(state: object) -> list[torch.Tensor]:
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, dict):
        return [t for k in sorted(state, key=str) for t in tensors(state[k])]
    if isinstance(state, (list, tuple)):
        return [t for v in state for t in tensors(v)]
    return []


def same(a: dict, b: dict) -> bool:
    keys = ("G", "D", "G_ema", "opt_g", "opt_d", "batcher", "rng")
    ta = [t for k in keys for t in tensors(a[k])]
    tb = [t for k in keys for t in tensors(b[k])]
    return len(ta) == len(tb) and all(torch.equal(x, y) for x, y in zip(ta, tb, strict=True))


def trial(work: Path, name: str, sig: int, ckpt_every: int, twin: dict, rng: random.Random) -> dict:
    run = work / name
    cfg_path = work / f"cfg{ckpt_every}.toml"
    proc = train([str(cfg_path), "--out", str(run)])
    early = rng.random() < 0.1  # one in ten lands during start-up, before any step
    deadline = time.time() + 60
    while not early and not run.joinpath("metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 0.5 if early else 4.0))
    started = run.joinpath("metrics.jsonl").exists()
    proc.send_signal(sig)
    proc.wait(timeout=120)
    if (run / "checkpoints" / "latest.pt").exists():
        res = train(["--resume", str(run)])
    else:  # killed before the first checkpoint: nothing to resume, start again
        shutil.rmtree(run, ignore_errors=True)
        res = train([str(cfg_path), "--out", str(run)])
    try:
        _, err = res.communicate(timeout=RESUME_TIMEOUT)
    except subprocess.TimeoutExpired:  # a loaded machine, not a failure of the run
        res.kill()
        _, err = res.communicate()
        err = f"timed out after {RESUME_TIMEOUT} s".encode()
    resumed_ok = res.returncode == 0
    strays = [p.name for p in run.rglob(".*") if p.is_file()]
    corrupt = 0
    for ckpt in (run / "checkpoints").glob("*.pt"):
        try:
            load_checkpoint(ckpt)
        except CheckpointError:
            corrupt += 1
    final = load_checkpoint(run) if resumed_ok else None
    return {
        "signal": signal.Signals(sig).name,
        "ckpt_every": ckpt_every,
        "interrupted_training": started,
        "resumed": resumed_ok,
        "identical": bool(final is not None and final["step"] == STEPS and same(final, twin)),
        "strays": strays,
        "corrupt": corrupt,
        "error": "" if resumed_ok else err.decode(errors="replace")[-500:],
    }


# --------------------------------------------------------------------------- fuzzing
FUZZ_KEYS = {
    "batch_size": ["0", "-1", "1", "3", "1e9", "x", "[1]"],
    "steps": ["-5", "0", "2", "1.5", "true"],
    "log.every": ["0", "-1", "2"],
    "log.ckpt_every": ["0", "1"],
    "optim.lr_g": ["0", "-1", "nan", "inf", "1e-3", '"fast"'],
    "optim.beta1": ["1", "-0.1", "0.5"],
    "optim.name": ["adam", "nope", '""'],
    "loss.name": ["hinge", "wgan-gp", "nope"],
    "model.z_dim": ["-1", "0", "1000000000", "2"],
    "model.args.g_hidden": ["[1000000000]", "[-5]", "[0]", "[8]", '"x"'],
    "model.args.nonsense": ["1"],
    "tricks.pac": ["0", "3", "100"],
    "data.spec": ["nope", "/dev/null", "grid25"],
    "precision": ["fp8", "bf16"],
    "threads": ["-2", "1"],
    "max_params": ["0", "10"],
}


def cli_outcome(argv: list[str]) -> str:
    """ok, error (one ganforge: error: line) or crash (anything else)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's own usage errors
            code = int(e.code or 0)
        except Exception as e:  # noqa: BLE001 - what the fuzz pass looks for
            return f"crash: {type(e).__name__}: {e}"
    text = err.getvalue().strip()
    if code == 0:
        return "ok"
    if code == 2 and (text.startswith("ganforge: error:") or text.startswith("usage:")):
        return "error"
    return f"crash: exit {code}: {text[-300:]}"


def fuzz(work: Path, n: int, rng: random.Random) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    crashes: list[str] = []

    def count(kind: str, outcome: str, what: str) -> None:
        key = "crash" if outcome.startswith("crash") else outcome
        out.setdefault(kind, {"ok": 0, "error": 0, "crash": 0})[key] += 1
        if key == "crash":
            crashes.append(f"{kind} {what}: {outcome}")

    base = work / "cfg10.toml"
    for i in range(n):
        sets = [f"{k}={rng.choice(v)}" for k, v in rng.sample(sorted(FUZZ_KEYS.items()), 2)]
        argv = ["train", str(base), "--out", str(work / f"fz{i}"), "--steps", "2"]
        for s in sets:
            argv += ["--set", s]
        count("config", cli_outcome(argv), " ".join(sets))
    src = resolve_zoo("gan-ring8")
    for i in range(n):
        exp = work / f"exp{i}"
        shutil.copytree(src, exp)
        victim = exp / rng.choice(["config.json", "generator.safetensors"])
        data = bytearray(victim.read_bytes())
        for _ in range(rng.randint(1, 8)):
            op = rng.choice(["flip", "cut", "junk"])
            if op == "flip" and data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            elif op == "cut":
                data = data[: rng.randrange(len(data) + 1)]
            else:
                data[rng.randrange(len(data) + 1) : 0] = os.urandom(rng.randint(1, 64))
        victim.write_bytes(bytes(data))
        argv = ["sample", str(exp), "-n", "8", "--out", str(work / f"exp{i}.npy")]
        count("export", cli_outcome(argv), victim.name)
    for i in range(n):
        folder = work / f"data{i}"
        folder.mkdir()
        for j in range(rng.randint(0, 6)):
            name = f"f{j}" + rng.choice([".png", ".jpg", ".gif", ".txt", ".npz", ""])
            (folder / name).write_bytes(os.urandom(rng.randint(0, 4096)))
        if rng.random() < 0.3:
            os.symlink("loop", folder / "loop.png")
        argv = ["train", "dcgan-mnist", "--data", str(folder), "--out", str(work / f"dr{i}"),
                "--dry-run"]  # fmt: skip
        count("data folder", cli_outcome(argv), str(sorted(p.name for p in folder.iterdir())))
    for c in crashes[:20]:
        print("CRASH", c)
    return out


def main_() -> None:
    global STEPS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=50, help="trials per signal")
    ap.add_argument("--fuzz", type=int, default=100, help="fuzz cases per kind (0 = none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--steps", type=int, default=STEPS,
        help="steps per run (with --ckpt-every 1 each step writes a checkpoint file: "
        "1,500 steps write 2 GB)",
    )  # fmt: skip
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    STEPS = args.steps
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="ganforge-faults-") as tmp:
        work = Path(tmp)
        twins = {}
        for every in (1, 10):
            save_toml(small_config(every), work / f"cfg{every}.toml")
            twin = train([str(work / f"cfg{every}.toml"), "--out", str(work / f"twin{every}")])
            assert twin.wait() == 0, twin.stderr.read().decode() if twin.stderr else ""
            twins[every] = load_checkpoint(work / f"twin{every}")
        assert same(twins[1], twins[10]), "checkpoint frequency changed the weights"
        rows = []
        for k in range(args.trials):
            for name, sig in SIGNALS.items():
                every = 1 if k % 2 == 0 else 10
                rows.append(trial(work, f"{name}-{k}", sig, every, twins[every], rng))
                shutil.rmtree(work / f"{name}-{k}", ignore_errors=True)
                r = rows[-1]
                print(json.dumps(r), flush=True)
        print("\n| signal | trials | hit training | resumed | bit-identical | strays | corrupt |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name in SIGNALS:
            rs = [r for r in rows if r["signal"] == name]
            print(
                f"| {name} | {len(rs)} | {sum(r['interrupted_training'] for r in rs)} | "
                f"{sum(r['resumed'] for r in rs)} | {sum(r['identical'] for r in rs)} | "
                f"{sum(len(r['strays']) for r in rs)} | {sum(r['corrupt'] for r in rs)} |"
            )
        fz = fuzz(work, args.fuzz, rng) if args.fuzz else {}
        if fz:
            print("\n| fuzzed input | cases | ran | clear error | traceback |")
            print("|---|---:|---:|---:|---:|")
            for kind, c in fz.items():
                print(f"| {kind} | {sum(c.values())} | {c['ok']} | {c['error']} | {c['crash']} |")
        if args.json:
            Path(args.json).write_text(json.dumps({"trials": rows, "fuzz": fz}, indent=1))


if __name__ == "__main__":
    main_()
