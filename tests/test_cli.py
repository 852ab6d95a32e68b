"""End-to-end command-line runs of a few steps."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main

TINY = [
    "--set",
    "eval.every=0",
    "--set",
    "model.args.ngf=8",
    "--set",
    "model.args.ndf=8",
    "--set",
    "batch_size=16",
    "--set",
    "model.z_dim=16",
    "--set",
    "log.every=2",
    "--set",
    "log.sample_every=2",
    "--set",
    "log.ckpt_every=2",
    "--no-progress",
]


def test_train_resume_sample(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(["train", "dcgan-mnist", "--out", str(run), "--steps", "2", "--seed", "3", *TINY]) == 0
    )
    assert (run / "samples.png").is_file()
    assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == 0
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4]
    assert main(["sample", str(run), "-n", "9", "--out", str(tmp_path / "s.png")]) == 0
    img = Image.open(tmp_path / "s.png")
    assert img.size[0] > 28 * 3
    assert (
        main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "s.npz"), "--seed", "1"]) == 0
    )
    arr = np.load(tmp_path / "s.npz")
    assert arr["x"].shape == (5, 1, 28, 28) and arr["z"].shape == (5, 16)
    assert arr["x"].min() >= -1 and arr["x"].max() <= 1


def test_train_2d_writes_scatter(tmp_path, capsys):
    run = tmp_path / "ring"
    assert (
        main(
            [
                "train",
                "gan-ring8",
                "--set",
                "eval.every=0",
                "--out",
                str(run),
                "--steps",
                "3",
                "--no-progress",
                "--set",
                "log.sample_every=3",
                "--set",
                "batch_size=32",
            ]
        )
        == 0
    )
    assert "step: hand-written gradients" in capsys.readouterr().out  # the MLPs: no autograd
    assert main(["sample", str(run), "-n", "100", "--out", str(tmp_path / "pts.png")]) == 0
    assert Image.open(tmp_path / "pts.png").size[0] > 100


def test_dry_run_prints_config(tmp_path, capsys):
    assert main(["train", "mlp-mnist", "--dry-run", "--out", str(tmp_path / "x")]) == 0
    out = capsys.readouterr().out
    assert 'name = "mlp"' in out and "parameters" in out
    assert not (tmp_path / "x").exists()


def test_default_train_is_the_scored_infogan_recipe(tmp_path, monkeypatch, capsys):
    """`ganforge train` with no config trains the `mnist` preset: InfoGAN scored at its last
    step, into runs/mnist; its digit code then drives `sample --traverse cat0`."""
    from ganforge.core.presets import DEFAULT_PRESET, load_preset_or_file

    name, cfg = load_preset_or_file(DEFAULT_PRESET)
    assert name == "mnist" and cfg.model.name == "infogan"
    assert cfg.eval.every == cfg.steps and cfg.eval.best == "fid5k_lenet"
    assert set(cfg.eval.metrics) == {"fid5k_lenet", "classes_mnist"}
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--steps", "2", *TINY]) == 0
    run = tmp_path / "runs" / "mnist"
    assert 'name = "infogan"' in (run / "config.toml").read_text()
    out = tmp_path / "t.npy"
    assert main(["sample", str(run), "--traverse", "cat0", "-n", "20", "--out", str(out)]) == 0
    assert np.load(out).shape == (20, 1, 28, 28)


def test_toml_file_and_data_override(tmp_path):
    cfg = tmp_path / "my.toml"
    cfg.write_text(
        'steps = 2\nbatch_size = 8\n[model]\nname = "toy2d"\nz_dim = 2\n'
        '[data]\nspec = "ring8"\n[log]\nprogress = false\nsample_every = 100\n'
    )
    assert main(["train", str(cfg), "--out", str(tmp_path / "r"), "--data", "grid25"]) == 0
    assert 'spec = "grid25"' in (tmp_path / "r" / "config.toml").read_text()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "no-such-preset"], "Valid presets"),
        (["train", "--dry-run", "--set", "optim.lr=1"], "Valid keys"),
        (["train", "--dry-run", "--data", "/does/not/exist"], "exist"),
        (["sample", "/does/not/exist", "--out", "x.png"], "no such run"),
        (["train", "--dry-run", "--set", "loss.name=wasserstein"], "Valid losses"),
    ],
)
def test_errors_are_clear(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganforge: error:") and message in err


def test_list(capsys):
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert "dcgan" in out and "mlp" in out and "toy2d" in out
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "presets:" in out and "dcgan-mnist" in out and "mnist5k" in out


def test_console_script_runs():
    res = subprocess.run(
        [sys.executable, "-m", "ganforge", "list", "presets"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0 and "gan-grid25" in res.stdout


@pytest.mark.parametrize(
    "preset, extra",
    [
        ("mnist", []),
        ("stylegan-mnist", ["--set", "precision=fp32", "--set", "channels_last=false"]),
        ("gan-ring8", ["--set", "eval.every=2"]),  # + the final evaluation's calibration
    ],
)
def test_training_never_imports_torch_dynamo(tmp_path, preset, extra):
    """torch.optim optimizers, LBFGS and arithmetic on meta tensors import torch._dynamo:
    1.5 s of every run's start-up (and of a 2-D run's final evaluation) for nothing."""
    argv = ["train", preset, "--out", str(tmp_path / "run"), "--steps", "2", "--set",
            "log.ckpt_every=2", "--no-progress", *extra]  # fmt: skip
    script = (
        "import sys\n"
        "from ganforge.cli import main\n"
        f"main({argv!r})\n"
        "sys.exit(3 if 'torch._dynamo' in sys.modules else 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]


def test_sample_controls_stylegan(tmp_path):
    run = tmp_path / "sg"
    assert (
        main(
            [
                "train",
                "stylegan-mnist",
                "--out",
                str(run),
                "--steps",
                "2",
                "--no-progress",
                "--set",
                "batch_size=4",
                "--set",
                "model.args.channel_max=8",
                "--set",
                "model.args.channel_base=64",
                "--set",
                "log.sample_every=2",
            ]
        )
        == 0
    )
    G = __import__("ganforge").load(run)
    for extra in (["--truncation", "0.5"], ["--style-mix", "1,2"], ["--interpolate", "1,2"]):
        out = tmp_path / f"{extra[0][2:]}.npy"
        assert main(["sample", str(run), "-n", "5", "--out", str(out), *extra]) == 0
        arr = np.load(out)
        n = G.num_ws + 1 if extra[0] == "--style-mix" else 5
        assert arr.shape == (n, 1, 32, 32), extra
    # the same images from Python as from the command line
    from ganforge.sampling.controls import interpolate, style_mix, truncated

    for extra, x in (
        ("style-mix", style_mix(G, 1, 2)),
        ("interpolate", interpolate(G, 1, 2, 5)),
        ("truncation", truncated(G, 5, 0.5)),
    ):
        np.testing.assert_array_equal(np.load(tmp_path / f"{extra}.npy"), x.numpy())
    # psi = 0 collapses every seed onto the tracked mean W: all images identical
    assert (
        main(
            ["sample", str(run), "-n", "3", "--out", str(tmp_path / "t0.npy"), "--truncation", "0"]
        )
        == 0
    )
    t0 = np.load(tmp_path / "t0.npy")
    assert np.allclose(t0[0], t0[1], atol=1e-5)


def test_truncation_needs_stylegan(tmp_path, capsys):
    run = tmp_path / "r"
    assert (
        main(
            [
                "train",
                "gan-ring8",
                "--set",
                "eval.every=0",
                "--out",
                str(run),
                "--steps",
                "2",
                "--no-progress",
                "--set",
                "batch_size=8",
                "--set",
                "log.sample_every=100",
            ]
        )
        == 0
    )
    assert main(["sample", str(run), "--out", str(tmp_path / "x.png"), "--truncation", "0.5"]) == 2
    assert "style-based" in capsys.readouterr().err


def test_train_refuses_to_overwrite_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "gan-ring8",
                "--out",
                str(run),
                "--steps",
                "2",
                *TINY[:2],
                "--no-progress",
                "--set",
                "batch_size=8",
            ]
        )
        == 0
    )
    assert main(["train", "gan-ring8", "--out", str(run), "--steps", "2"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_traversal_and_class_from_python_equal_the_command_line(tmp_path):
    import ganforge
    from ganforge.sampling.controls import sample_class, traverse

    assert main(["sample", "zoo:infogan-mnist", "--traverse", "cat0", "-n", "20",
                 "--out", str(tmp_path / "t.npy")]) == 0  # fmt: skip
    G = ganforge.load("zoo:infogan-mnist")
    np.testing.assert_array_equal(
        np.load(tmp_path / "t.npy"), traverse(G, "cat0", n_rows=2).numpy()
    )
    assert main(["sample", "zoo:cgan-mnist", "--class", "7", "-n", "6",
                 "--out", str(tmp_path / "c.npy")]) == 0  # fmt: skip
    G = ganforge.load("zoo:cgan-mnist")
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), sample_class(G, 6, 7).numpy())
