"""Closed-form checks of the metrics (FID, KID, IS, PR/DC, mode and class coverage)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganforge import metrics
from ganforge.core.registry import METRICS, UnknownNameError
from ganforge.data.builtin import GRID25_STD, RING8_STD, grid25_centers, ring8_centers
from ganforge.metrics.fid import feature_stats, frechet_distance, frechet_distance_sqrtm


def _gauss(n: int, mean: torch.Tensor, cov: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, len(mean), generator=g, dtype=torch.float64)
    return mean + z @ torch.linalg.cholesky(cov).T


# --- FID ------------------------------------------------------------------------------


def test_fid_identical_sets_is_zero():
    x = torch.randn(500, 32, generator=torch.Generator().manual_seed(0))
    assert metrics.fid(x, x) == pytest.approx(0.0, abs=1e-9)


def test_fid_matches_analytic_gaussian_formula():
    # For exact statistics, FID has a closed form when both covariances are diagonal:
    # |mu1-mu2|^2 + sum (s1 + s2 - 2 sqrt(s1 s2)) = |dmu|^2 + sum (sqrt(s1) - sqrt(s2))^2.
    d = 16
    mu1, mu2 = torch.zeros(d, dtype=torch.float64), torch.full((d,), 0.5, dtype=torch.float64)
    s1 = torch.linspace(0.5, 2.0, d, dtype=torch.float64)
    s2 = torch.linspace(3.0, 0.2, d, dtype=torch.float64)
    expected = float(((mu1 - mu2) ** 2).sum() + ((s1.sqrt() - s2.sqrt()) ** 2).sum())
    assert frechet_distance(mu1, torch.diag(s1), mu2, torch.diag(s2)) == pytest.approx(
        expected, rel=1e-12
    )
    # Rotating both covariances by the same orthogonal matrix changes nothing.
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(1)).double())
    r1, r2 = q @ torch.diag(s1) @ q.T, q @ torch.diag(s2) @ q.T
    assert frechet_distance(q @ mu1, r1, q @ mu2, r2) == pytest.approx(expected, rel=1e-10)
    # And samples of those Gaussians converge to it (sampling error ~ d / sqrt(n)).
    a, b = _gauss(20000, mu1, r1, 2), _gauss(20000, q @ mu2, r2, 3)
    assert metrics.fid(a, b) == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("n", [300, 40])  # full rank, and singular covariance (n < d)
def test_fid_agrees_with_scipy_sqrtm_formulation(n):
    g = torch.Generator().manual_seed(n)
    a = torch.randn(n, 64, generator=g) @ torch.randn(64, 64, generator=g)
    b = torch.randn(300, 64, generator=g) * 1.3 + 0.2
    m1, s1 = feature_stats(a)
    m2, s2 = feature_stats(b)
    ours = frechet_distance(m1, s1, m2, s2)
    ref = frechet_distance_sqrtm(m1.numpy(), s1.numpy(), m2.numpy(), s2.numpy())
    assert ours == pytest.approx(ref, rel=1e-6)


def test_fid_is_stable_under_a_huge_offset():
    # A one-pass covariance (E[xx^T] - mu mu^T) collapses here; ours is two-pass.
    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 24, generator=g, dtype=torch.float64)
    b = torch.randn(400, 24, generator=g, dtype=torch.float64) * 1.2 + 0.3
    assert metrics.fid(a + 1e7, a + 1e7) == pytest.approx(0.0, abs=1e-6)
    assert metrics.fid(a + 1e7, b + 1e7) == pytest.approx(metrics.fid(a, b), rel=1e-6)


def test_fid_accepts_numpy_and_rejects_mismatched_dims():
    x = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    assert metrics.fid(x, x + 1) == pytest.approx(8.0, rel=1e-6)  # |dmu|^2 = 8
    with pytest.raises(ValueError, match="statistics do not match"):
        metrics.fid(x, x[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        metrics.fid(np.full((5, 2), np.nan), x[:, :2])


# --- KID ------------------------------------------------------------------------------


def test_kid_is_unbiased_for_samples_of_one_distribution():
    # Over independent draws from the same distribution, the unbiased MMD^2 averages to 0,
    # while a biased (V-statistic) estimate would be clearly positive.
    g = torch.Generator().manual_seed(0)
    vals = []
    for _ in range(30):
        a, b = torch.randn(100, 8, generator=g), torch.randn(100, 8, generator=g)
        vals.append(metrics.kid(a, b, subsets=1, subset_size=100)["kid"])
    v = torch.tensor(vals, dtype=torch.float64)
    assert abs(float(v.mean())) < 3 * float(v.std()) / math.sqrt(len(v))
    shifted = metrics.kid(a, b + 0.5, subsets=10, subset_size=100)["kid"]
    assert shifted > 10 * float(v.std())


def test_kid_matches_direct_formula():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(20, 5, generator=g).double(), torch.randn(20, 5, generator=g).double()

    def k(a, b):
        return float((a @ b / 5 + 1) ** 3)

    m = 20
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    assert metrics.kid(x, y, subsets=3, subset_size=20)["kid"] == pytest.approx(
        xx + yy - 2 * xy, rel=1e-10
    )


# --- Inception Score ------------------------------------------------------------------


def test_inception_score_extremes_and_no_nan_on_underflow():
    k = 10
    confident = torch.full((1000, k), -1e4)  # float32 softmax underflows to exact 0
    confident[torch.arange(1000), torch.arange(1000) % k] = 1e4
    r = metrics.inception_score(confident, splits=10, seed=None)  # balanced splits
    assert math.isfinite(r["is"]) and r["is"] == pytest.approx(k, rel=1e-9)
    assert metrics.inception_score(torch.zeros(100, k), splits=2)["is"] == pytest.approx(1.0)
    one_class = torch.zeros(100, k)
    one_class[:, 3] = 50.0
    assert metrics.inception_score(one_class, splits=5)["is"] == pytest.approx(1.0, abs=1e-9)


def test_inception_score_shuffles_sorted_data():
    # Logits sorted by class (like mnist5k) must still score ~K, not ~1 per split.
    logits = torch.full((1000, 10), -20.0)
    logits[torch.arange(1000), torch.arange(1000) // 100] = 20.0
    assert metrics.inception_score(logits, splits=10)["is"] > 8.5


# --- Precision / recall, density / coverage --------------------------------------------


def test_pr_dc_identical_sets():
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(0))
    pr = metrics.precision_recall(x, x)
    assert pr == {"precision": 1.0, "recall": 1.0}
    assert metrics.density_coverage(x, x)["coverage"] == 1.0


def test_pr_identical_sets_with_duplicates_is_one():
    # More than k coincident points give a zero radius: `<=` keeps them inside.
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0)).repeat(5, 1)
    assert metrics.precision_recall(x, x, k=3) == {"precision": 1.0, "recall": 1.0}


def test_pr_dc_on_constructed_clouds():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(400, 2, generator=g)
    # Fake covers only half the real cloud (x > 0) and adds far-away junk.
    half = real[real[:, 0] > 0.3]
    junk = torch.randn(len(half), 2, generator=g) * 0.1 + 50
    fake = torch.cat([half, junk])
    pr = metrics.precision_recall(real, fake)
    assert pr["precision"] == pytest.approx(0.5, abs=0.02)  # junk is outside
    assert 0.3 < pr["recall"] < 0.55  # only the x > 0 part is reached
    dc = metrics.density_coverage(real, fake)
    assert dc["coverage"] < 0.55
    # The argument order matters: swapping real and fake swaps precision and recall.
    swapped = metrics.precision_recall(fake, real)
    assert swapped["precision"] == pytest.approx(pr["recall"], abs=0.05)


def test_density_counts_balls():
    # Real points on a line 1 apart, k=1 -> radius 1; a fake point at a real point's
    # position lies in its own ball and its two neighbours' balls (distance exactly 1).
    real = torch.arange(10, dtype=torch.float64)[:, None]
    fake = torch.tensor([[4.0]], dtype=torch.float64)
    assert metrics.density_coverage(real, fake, k=1)["density"] == pytest.approx(3.0)
    assert metrics.density_coverage(real, fake, k=1)["coverage"] == pytest.approx(0.3)


# --- 2-D mode coverage ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "centers", "std"),
    [("ring8", ring8_centers(), RING8_STD), ("grid25", grid25_centers(), GRID25_STD)],
)
def test_modes2d_exact_modes_and_collapse(name, centers, std):
    k = len(centers)
    pts = centers.repeat(100, 1)
    r = metrics.modes2d(pts, name)
    assert r["modes_captured"] == k and r["high_quality"] == 1.0
    assert r["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    collapsed = metrics.modes2d(centers[:1].repeat(50, 1), name)
    assert collapsed["modes_captured"] == 1
    assert collapsed["reverse_kl"] == pytest.approx(math.log(k))
    # 2.9 std away is high quality, 3.1 std is not (strict < 3).
    off = centers[:2] + torch.tensor([[2.9 * std, 0.0], [3.1 * std, 0.0]])
    r = metrics.modes2d(off, name)
    assert r["high_quality"] == 0.5 and r["modes_captured"] == 1


def test_modes2d_no_high_quality_points():
    r = metrics.modes2d(torch.full((10, 2), 100.0), "ring8")
    assert r["modes_captured"] == 0 and r["high_quality"] == 0 and r["reverse_kl"] == math.inf
    with pytest.raises(ValueError, match="ring8"):
        metrics.modes2d(torch.zeros(4, 2), "moons")


# --- class coverage -------------------------------------------------------------------


def test_class_coverage():
    r = metrics.class_coverage(torch.arange(1000) % 10, 10)
    assert r["modes_captured"] == 10 and r["kl"] == pytest.approx(0.0, abs=1e-12)
    r = metrics.class_coverage(torch.zeros(7, dtype=torch.long), 1000)
    assert r["modes_captured"] == 1 and r["kl"] == pytest.approx(math.log(1000))


def test_stacked_labels_classifies_channels_separately():
    from ganforge.metrics.classes import stacked_labels

    imgs = torch.zeros(2, 3, 28, 28)
    imgs[0, :, 0, 0] = torch.tensor([1.0, 2.0, 3.0])
    imgs[1, :, 0, 0] = torch.tensor([9.0, 0.0, 5.0])
    labels = stacked_labels(lambda x: x[:, 0, 0, 0].long(), imgs)
    assert labels.tolist() == [123, 905]


# --- registry -------------------------------------------------------------------------


def test_metric_names_and_aliases():
    from ganforge.metrics.evaluate import format_n, resolve_metric

    assert "fid5k_lenet" in METRICS and "modes2d" in METRICS and "classes_stacked" in METRICS
    assert resolve_metric("fid2.5k_inception").n == 2500
    assert resolve_metric("fid", n=1000, item_shape=(1, 28, 28)).name == "fid1k_lenet"
    assert resolve_metric("kid", n=5000, item_shape=(3, 32, 32)).name == "kid5k_inception"
    assert resolve_metric("classes", item_shape=(3, 28, 28)).name == "classes_stacked"
    assert [format_n(v) for v in (500, 1000, 2500, 50000, 1234)] == [
        "500", "1k", "2.5k", "50k", "1234",
    ]  # fmt: skip
    with pytest.raises(UnknownNameError, match="fid5k_lenet"):
        resolve_metric("fdi5k_lenet")
