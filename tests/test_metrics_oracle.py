"""Oracle checks: same features in, same numbers out as established implementations.

torchmetrics' FID, KID and Inception Score accept a custom feature extractor, so an
identity module feeds them exactly our features. ``prdc`` (Naeem et al.'s package)
checks precision/recall and density/coverage; it uses ``<`` where we use ``<=``, which
differs only on exact ties (none in continuous random features).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganforge import metrics

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class _Identity(nn.Module):
    """Passes features through; torchmetrics reads ``num_features`` instead of probing."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _feats(seed: int, n: int = 400, d: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g) / d**0.5
    real = torch.relu(torch.randn(n, d, generator=g) @ mix)
    fake = torch.relu(torch.randn(n, d, generator=g) @ mix * 1.1 + 0.05)
    return real.double(), fake.double()


def test_fid_equals_torchmetrics():
    pytest.importorskip("torchmetrics")
    from torchmetrics.image.fid import FrechetInceptionDistance

    real, fake = _feats(0)
    tm = FrechetInceptionDistance(feature=_Identity(real.shape[1]))
    tm.update(real, real=True)
    tm.update(fake, real=False)
    assert metrics.fid(real, fake) == pytest.approx(float(tm.compute()), rel=1e-6)


def test_kid_equals_torchmetrics():
    pytest.importorskip("torchmetrics")
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = _feats(1, n=300)
    # Subsets as large as the sets make the random subset draw a permutation, which the
    # estimate does not depend on: both libraries must agree exactly.
    tm = KernelInceptionDistance(feature=_Identity(real.shape[1]), subsets=2, subset_size=300)
    tm.update(real, real=True)
    tm.update(fake, real=False)
    tm_mean, _ = tm.compute()
    ours = metrics.kid(real, fake, subsets=2, subset_size=300)["kid"]
    assert ours == pytest.approx(float(tm_mean), rel=1e-6)


def test_inception_score_equals_torchmetrics():
    pytest.importorskip("torchmetrics")
    from torchmetrics.image.inception import InceptionScore

    g = torch.Generator().manual_seed(2)
    logits = (torch.randn(500, 10, generator=g) * 3).double()
    tm = InceptionScore(feature=_Identity(10), splits=1)
    tm.update(logits)
    tm_mean, _ = tm.compute()
    assert metrics.inception_score(logits, splits=1)["is"] == pytest.approx(
        float(tm_mean), rel=1e-6
    )


def test_precision_recall_density_coverage_equal_prdc():
    prdc = pytest.importorskip("prdc")
    real, fake = _feats(3, n=300, d=8)
    ref = prdc.compute_prdc(real_features=real.numpy(), fake_features=fake.numpy(), nearest_k=3)
    pr = metrics.precision_recall(real, fake, k=3)
    assert pr["precision"] == pytest.approx(ref["precision"], abs=1e-12)
    assert pr["recall"] == pytest.approx(ref["recall"], abs=1e-12)
    ref5 = prdc.compute_prdc(real_features=real.numpy(), fake_features=fake.numpy(), nearest_k=5)
    dc = metrics.density_coverage(real, fake, k=5)
    assert dc["density"] == pytest.approx(ref5["density"], rel=1e-12)
    assert dc["coverage"] == pytest.approx(ref5["coverage"], abs=1e-12)
    assert 0.0 < pr["precision"] < 1.0 and 0.0 < dc["coverage"] < 1.0  # non-trivial case


def test_fid_equals_scipy_reference_on_random_features():
    real, fake = _feats(4, n=600, d=48)
    from ganforge.metrics.fid import feature_stats, frechet_distance_sqrtm

    ref = frechet_distance_sqrtm(*feature_stats(real), *feature_stats(fake))
    assert metrics.fid(real, fake) == pytest.approx(ref, rel=1e-6)
    assert np.isfinite(ref)
