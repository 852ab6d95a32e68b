"""Discriminator rejection sampling: closed-form 1-D cases, refinement, the CLI and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.cli import main
from ganforge.sampling.rejection import DiscriminatorRejectionSampler


class Identity1D(nn.Module):
    """G: z ~ N(0, 1) (N, 1) -> x = z, i.e. p_g = N(0, 1)."""

    z_dim = 1

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))  # gives the sampler a device

    def make_z(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        return torch.randn(n, 1, generator=torch.Generator().manual_seed(int(seed or 0)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + 0 * self.dummy


class AffineD(nn.Module):
    """D(x) = w * x + c (N,)."""

    def __init__(self, w: float, c: float) -> None:
        super().__init__()
        self.lin = nn.Linear(1, 1)
        with torch.no_grad():
            self.lin.weight.fill_(w)
            self.lin.bias.fill_(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).squeeze(1)


def real_n11(n: int = 20_000) -> torch.Tensor:
    """Samples of p_data = N(1, 1)."""
    return torch.randn(n, 1, generator=torch.Generator().manual_seed(123)) + 1.0


def test_exact_ratio_turns_g_into_the_data_distribution():
    # log N(x; 1, 1) / N(x; 0, 1) = x - 1/2: D(x) = x - 0.5 is the optimal logit, and the
    # calibration must keep it (a ~ 1, b ~ 0); accepted samples then follow N(1, 1).
    s = DiscriminatorRejectionSampler(Identity1D(), AffineD(1.0, -0.5), real_n11(), burn_in=20_000)
    s.fit()
    assert s.stats.platt_a == pytest.approx(1.0, abs=0.05)
    assert s.stats.platt_b == pytest.approx(0.0, abs=0.05)
    x = s.sample(4000, seed=1)
    assert x.shape == (4000, 1)
    assert float(x.mean()) == pytest.approx(1.0, abs=0.08)
    assert float(x.std()) == pytest.approx(1.0, abs=0.08)
    # Acceptance of exact rejection sampling is 1/M; M = exp(max burn-in logit) here.
    assert s.stats.acceptance == pytest.approx(np.exp(-s.stats.log_m), rel=0.25)


def test_power_samples_the_sharpened_density():
    # p_g = N(0, 1), r(x) = exp(x - 1/2): accepting with (r / M)^2 samples
    # p_g * r^2 ~ N(0, 1) * exp(2x) ~ N(2, 1) -- past the data's mean, as a guidance scale
    # of 2 would; M is the burn-in maximum so the tail is (almost) not capped.
    s = DiscriminatorRejectionSampler(
        Identity1D(), AffineD(1.0, -0.5), real_n11(), m_quantile=1.0, power=2.0, burn_in=20_000
    ).fit()
    x = s.sample(2000, seed=3)
    assert float(x.mean()) == pytest.approx(2.0, abs=0.12)
    assert float(x.std()) == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ValueError, match="power"):
        DiscriminatorRejectionSampler(Identity1D(), AffineD(1, 0), real_n11(), power=0)


def test_calibration_rescales_a_mis_scaled_logit():
    # D's logit is 3x too confident and shifted: Platt scaling recovers a = 1/3, b ~ 0.
    s = DiscriminatorRejectionSampler(Identity1D(), AffineD(3.0, -1.5), real_n11()).fit()
    assert s.stats.platt_a == pytest.approx(1 / 3, abs=0.03)
    assert float(s.sample(3000, seed=2).mean()) == pytest.approx(1.0, abs=0.1)


def test_uninformative_d_keeps_g_and_refinement_learns_the_ratio():
    plain = DiscriminatorRejectionSampler(Identity1D(), AffineD(0.0, 0.0), real_n11()).fit()
    assert float(plain.sample(2000).mean()) == pytest.approx(0.0, abs=0.1)
    assert plain.stats.acceptance > 0.95  # nothing to reject on
    refined = DiscriminatorRejectionSampler(
        Identity1D(), AffineD(0.0, 0.0), real_n11(), refine_steps=300, lr=0.05
    ).fit()
    assert float(refined.D.lin.weight) == pytest.approx(1.0, abs=0.25)
    assert float(refined.sample(3000).mean()) == pytest.approx(1.0, abs=0.15)


def test_same_seed_same_samples_and_the_run_d_is_untouched():
    D = AffineD(0.0, 0.0)
    s = DiscriminatorRejectionSampler(Identity1D(), D, real_n11(), refine_steps=20, lr=0.05).fit()
    assert float(D.lin.weight.detach()) == 0.0
    assert torch.equal(s.sample(50, seed=5), s.sample(50, seed=5))
    assert not torch.equal(s.sample(50, seed=5), s.sample(50, seed=6))


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="m_quantile"):
        DiscriminatorRejectionSampler(Identity1D(), AffineD(1, 0), real_n11(), m_quantile=0)
    s = DiscriminatorRejectionSampler(Identity1D(), AffineD(1.0, -0.5), real_n11())
    with pytest.raises(RuntimeError, match="fit"):
        s.sample(10)
    s.fit()
    with pytest.raises(RuntimeError, match="lower m_quantile"):
        s.sample(10_000, max_proposals=500)


def _ring8_run(tmp_path, *extra: str):
    run = tmp_path / "run"
    args = ["train", "gan-ring8", "--out", str(run), "--steps", "40", "--no-progress"]
    args += ["--set", "batch_size=64", "--set", "log.sample_every=40", *extra]
    assert main(args) == 0
    return run


def test_cli_sample_uses_the_runs_rejection_setting(tmp_path, capsys):
    # The run turns rejection sampling on; eval at the end scores DRS samples.
    run = _ring8_run(
        tmp_path,
        *("--set", "sample.rejection=true", "--set", "sample.langevin=false"),
        *("--set", "eval.every=40", "--set", "eval.n=500"),
    )
    assert main(["sample", str(run), "-n", "200", "--out", str(tmp_path / "a.npy")]) == 0
    out = capsys.readouterr().out
    assert "rejection sampling: kept" in out
    assert np.load(tmp_path / "a.npy").shape == (200, 2)
    assert (
        main(["sample", str(run), "-n", "200", "--no-rejection", "--out", str(tmp_path / "b.npy")])
        == 0
    )
    assert "rejection sampling" not in capsys.readouterr().out
    # --rejection-power sharpens: it keeps fewer proposals than plain DRS on the same run
    kept = {}
    for p in ("1", "3"):
        out_file = str(tmp_path / f"p{p}.npy")
        args = ["sample", str(run), "-n", "200", "--rejection-power", p, "--out", out_file]
        assert main(args) == 0
        line = capsys.readouterr().out.split("rejection sampling: kept ")[1]
        kept[p] = int(line.split()[0]) / int(line.split()[2])
    assert kept["3"] < kept["1"]
    assert '"event": "eval"' in (run / "metrics.jsonl").read_text()
    args = ["sample", str(run), "--rejection", "--interpolate", "1,2"]
    assert main([*args, "--out", str(tmp_path / "c.npy")]) != 0
    assert "does not combine with controls" in capsys.readouterr().err


def test_cli_rejection_needs_the_discriminator(tmp_path, capsys):
    args = ["sample", "zoo:gan-ring8", "--rejection", "--out", str(tmp_path / "z.npy")]
    assert main(args) != 0
    assert "needs the run's discriminator" in capsys.readouterr().err
    # The zoo entry's config asks for rejection sampling; without D the default falls back.
    assert main(["sample", "zoo:gan-ring8", "-n", "50", "--out", str(tmp_path / "g.npy")]) == 0
    assert "ships without its discriminator" in capsys.readouterr().out
    assert np.load(tmp_path / "g.npy").shape == (50, 2)


def test_pacgan_runs_refuse_rejection_up_front(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "gan-ring8", "--out", str(run), "--steps", "2", "--no-progress"]
    args += ["--set", "sample.rejection=true", "--set", "sample.langevin=false"]
    assert main([*args, "--set", "tricks.pac=2"]) != 0
    assert "sample.rejection = true (set it to false)" in capsys.readouterr().err
    assert not (run / "checkpoints").exists()


def test_a_minibatch_stddev_d_scores_any_number_of_samples():
    # D with minibatch stddev (groups of 4) scores uneven chunks in eval mode: 1,001 reals,
    # 37 samples.
    from ganforge.core.config import ModelConfig
    from ganforge.models import build_models

    torch.manual_seed(0)
    G, D = build_models(ModelConfig(name="toy2d", z_dim=2, args={"mbstd_group": 4}), (2,))
    real = torch.randn(1001, 2, generator=torch.Generator().manual_seed(1))
    s = DiscriminatorRejectionSampler(G, D, real, burn_in=999).fit()
    assert s.sample(37, seed=1).shape == (37, 2)
    assert D.training  # the run's D is untouched (the sampler scores a copy)


def test_platt_scaling_reaches_the_logistic_regression_optimum():
    """The calibration is the maximum-likelihood logistic fit: it agrees with
    scikit-learn's unpenalised LogisticRegression, and a separable pair of sets gets a
    steep, finite calibration instead of an error."""
    sklearn = pytest.importorskip("sklearn.linear_model")
    from ganforge.sampling.calibration import platt_scale

    g = torch.Generator().manual_seed(0)
    for shift, scale in [(0.5, 1.0), (2.0, 3.0), (0.0, 1.0)]:
        real = torch.randn(2000, generator=g) * scale + shift
        fake = torch.randn(1500, generator=g) * scale - shift
        a, b, loss = platt_scale(real, fake)
        x = torch.cat([real, fake]).double().numpy()[:, None]
        y = np.r_[np.ones(len(real)), np.zeros(len(fake))]
        ref = sklearn.LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x, y)
        assert a == pytest.approx(ref.coef_[0][0], abs=1e-5)
        assert b == pytest.approx(ref.intercept_[0], abs=1e-5)
        assert 0 < loss < np.log(2) + 1e-6
    a, b, loss = platt_scale(torch.full((10,), 3.0), torch.full((10,), -3.0))
    assert a > 5 and np.isfinite(a) and loss < 1e-6
