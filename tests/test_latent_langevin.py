"""Discriminator-driven latent sampling: closed-form 1-D chains, errors, trainer and CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.sampling.langevin import LatentLangevinSampler
from tests.test_rejection import AffineD, Identity1D, _ring8_run, real_n11


def test_exact_ratio_moves_g_onto_the_data_distribution():
    # p_g = N(0, 1) through the identity, d(x) = x - 1/2 = log N(x; 1, 1) / N(x; 0, 1):
    # E(z) = z^2/2 - (z - 1/2) is the energy of N(1, 1), so the chain's samples follow it
    # (step 0.05: the unadjusted chain's variance is 1 / (1 - eps/4) = 1.013).
    s = LatentLangevinSampler(
        Identity1D(), AffineD(1.0, -0.5), real_n11(), steps=300, step_size=0.05
    )
    s.fit()
    assert s.stats.platt_a == pytest.approx(1.0, abs=0.05)
    x = s.sample(4000, seed=1)
    assert x.shape == (4000, 1)
    assert float(x.mean()) == pytest.approx(1.0, abs=0.06)
    assert float(x.std()) == pytest.approx(1.0, abs=0.05)
    # The mean log ratio rises as the points move towards the data: -0.5 -> ~0.5.
    assert s.stats.log_ratio_before == pytest.approx(-0.5, abs=0.06)
    assert s.stats.log_ratio_after == pytest.approx(0.5, abs=0.1)


def test_power_weights_the_log_ratio():
    # E(z) = z^2/2 - 2 (z - 1/2): N(2, 1), what rejection sampling at power 2 targets.
    s = LatentLangevinSampler(
        Identity1D(), AffineD(1.0, -0.5), real_n11(), steps=300, step_size=0.05, power=2.0
    ).fit()
    x = s.sample(3000, seed=2)
    assert float(x.mean()) == pytest.approx(2.0, abs=0.08)
    assert float(x.std()) == pytest.approx(1.0, abs=0.06)


def test_calibration_rescales_the_gradient_and_zero_steps_is_g_alone():
    # D 3x too confident: calibrated a = 1/3, so the chain still targets N(1, 1) (and not
    # N(3, 1), where the raw logit's gradient would lead).
    s = LatentLangevinSampler(
        Identity1D(), AffineD(3.0, -1.5), real_n11(), steps=300, step_size=0.05
    ).fit()
    assert s.stats.platt_a == pytest.approx(1 / 3, abs=0.03)
    assert float(s.sample(3000, seed=3).mean()) == pytest.approx(1.0, abs=0.08)
    g_alone = LatentLangevinSampler(Identity1D(), AffineD(1.0, -0.5), real_n11(), steps=0).fit()
    assert torch.equal(g_alone.sample(100, seed=4), Identity1D().make_z(100, seed=4))


def test_uninformative_d_leaves_the_prior_and_the_run_d_is_untouched():
    D = AffineD(0.0, 0.0)
    s = LatentLangevinSampler(Identity1D(), D, real_n11(), steps=200, step_size=0.05).fit()
    x = s.sample(3000, seed=5)
    assert s.stats.calib_loss == pytest.approx(np.log(2), abs=1e-4)  # D tells nothing apart
    assert float(x.mean()) == pytest.approx(0.0, abs=0.08)
    assert float(x.std()) == pytest.approx(1.0, abs=0.06)
    assert float(D.lin.weight.detach()) == 0.0 and D.lin.weight.grad is None
    assert torch.equal(s.sample(50, seed=6), s.sample(50, seed=6))
    assert not torch.equal(s.sample(50, seed=6), s.sample(50, seed=7))


def test_errors_name_the_fix():
    for bad in ({"steps": -1}, {"step_size": 0.0}, {"power": 0.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            LatentLangevinSampler(Identity1D(), AffineD(1, 0), real_n11(), **bad)
    with pytest.raises(ValueError, match="real data"):
        LatentLangevinSampler(Identity1D(), AffineD(1, 0), real_n11(5))
    with pytest.raises(RuntimeError, match="fit"):
        LatentLangevinSampler(Identity1D(), AffineD(1, 0), real_n11()).sample(10)


def test_cli_trains_evaluates_and_samples_with_langevin(tmp_path, capsys):
    run = _ring8_run(
        tmp_path,
        *("--set", "sample.rejection=false", "--set", "sample.langevin=true"),
        *("--set", "sample.langevin_steps=5", "--set", "eval.every=40", "--set", "eval.n=500"),
    )
    logged = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in logged if r.get("event") == "eval"][-1]
    capsys.readouterr()
    # `ganforge eval` follows the run's sampler: the same numbers as the run's own log
    assert main(["eval", str(run), "--metrics", "modes2d", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    keys = [k for k in logged if k.startswith("modes2d_")]
    assert keys and all(evaluated[k] == logged[k] for k in keys)
    for res in (logged, evaluated):
        assert res["protocol"]["sampler"] == {
            "name": "langevin", "power": 2.0, "steps": 5, "step_size": 3e-4
        }  # fmt: skip
    assert main(["eval", str(run), "--metrics", "modes2d", "--json", "--sampler", "g"]) == 0
    assert json.loads(capsys.readouterr().out)["protocol"]["sampler"] == {"name": "g"}
    assert main(["sample", str(run), "-n", "100", "--out", str(tmp_path / "a.npy")]) == 0
    assert "latent Langevin sampling: 5 steps" in capsys.readouterr().out
    assert np.load(tmp_path / "a.npy").shape == (100, 2)
    args = ["sample", str(run), "-n", "100", "--langevin-steps", "0", "--seed", "3"]
    assert main([*args, "--out", str(tmp_path / "b.npy")]) == 0
    assert main(["sample", str(run), "-n", "100", "--no-langevin", "--seed", "3", "--out",
                 str(tmp_path / "c.npy")]) == 0  # fmt: skip
    # Zero Langevin steps draws exactly what G alone draws from the same seed.
    np.testing.assert_allclose(np.load(tmp_path / "b.npy"), np.load(tmp_path / "c.npy"))
    args = ["sample", str(run), "--rejection", "--langevin", "--out", str(tmp_path / "d.npy")]
    assert main(args) != 0
    assert "choose one" in capsys.readouterr().err
    args = ["sample", str(run), "--no-langevin", "--power", "2", "--out", str(tmp_path / "e.npy")]
    assert main(args) != 0
    assert "add --rejection or --langevin" in capsys.readouterr().err


def test_config_refuses_both_samplers_and_codes_it_cannot_move(tmp_path, capsys):
    # A PacGAN D scores packs, not samples: refused before any training.
    args = ["train", "gan-ring8", "--out", str(tmp_path / "p"), "--steps", "2", "--no-progress"]
    assert main([*args, "--set", "tricks.pac=2"]) != 0
    assert "sample.langevin = true (set it to false)" in capsys.readouterr().err
    args = ["train", "gan-ring8", "--out", str(tmp_path / "r"), "--steps", "2", "--no-progress"]
    assert main([*args, "--set", "sample.rejection=true"]) != 0  # the preset has langevin on
    assert "sample.rejection and sample.langevin are both true" in capsys.readouterr().err
    args = ["train", "infogan-mnist", "--out", str(tmp_path / "i"), "--steps", "2"]
    assert main([*args, "--no-progress", "--set", "sample.langevin=true"]) != 0
    assert "categorical codes" in capsys.readouterr().err
