"""Evaluation you can trust: FID, KID, IS, precision/recall, density/coverage, mode coverage.

Feature-space metrics take two (N, D) feature sets (arrays or tensors)::

    from ganforge import metrics
    metrics.fid(real_feats, fake_feats)                 # float, float64 internally
    metrics.kid(real_feats, fake_feats)                 # {"kid", "kid_std", ...}
    metrics.precision_recall(real_feats, fake_feats)    # (real, fake) order, k=3
    metrics.density_coverage(real_feats, fake_feats)    # k=5
    metrics.inception_score(logits)                     # {"is", "is_std"}
    metrics.modes2d(points, "ring8")                    # modes_captured, high_quality, reverse_kl

and whole protocols run on generators, run folders, data specs or arrays::

    metrics.evaluate("runs/mnist", metrics=["fid5k_lenet", "classes_mnist"])

See :mod:`ganforge.metrics.evaluate` for the protocol names and ``docs/metrics.md``.
"""

from __future__ import annotations

from ganforge.metrics.classes import class_coverage
from ganforge.metrics.evaluate import Metric, evaluate, resolve_metric
from ganforge.metrics.features import extract, extract_real, get_extractor
from ganforge.metrics.fid import feature_stats, fid, frechet_distance
from ganforge.metrics.iscore import inception_score
from ganforge.metrics.kid import kid
from ganforge.metrics.modes import modes2d
from ganforge.metrics.prdc import density_coverage, precision_recall

__all__ = [
    "fid",
    "kid",
    "precision_recall",
    "density_coverage",
    "inception_score",
    "modes2d",
    "class_coverage",
    "evaluate",
    "resolve_metric",
    "Metric",
    "extract",
    "extract_real",
    "get_extractor",
    "feature_stats",
    "frechet_distance",
]
