"""Tabular metrics against sdmetrics (the oracle) on the same tables, and the properties
of ML efficacy and DCR privacy on tables with known answers."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from ganforge.apps.tabular import metrics as M  # noqa: E402
from ganforge.apps.tabular.columns import infer_columns  # noqa: E402
from tests.test_tabular_transform import mixed_table  # noqa: E402


@pytest.fixture(scope="module")
def pair():
    real = mixed_table(400, seed=0)
    synth = mixed_table(300, seed=1)
    synth["income"] = synth["income"] * 1.3  # something to measure
    synth.loc[synth.index[:60], "sex"] = "Female"
    return real, synth


def test_column_metrics_match_sdmetrics(pair):
    sd = pytest.importorskip("sdmetrics.single_column")
    real, synth = pair
    for c in ("age", "income", "score", "joined"):
        assert M.ks_complement(real[c], synth[c]) == pytest.approx(
            sd.KSComplement.compute(real[c], synth[c]), abs=1e-9
        ), c
    for c in ("sex", "city", "kids", "member"):
        assert M.tv_complement(real[c], synth[c]) == pytest.approx(
            sd.TVComplement.compute(real[c], synth[c]), abs=1e-5
        ), c


def test_pair_metrics_match_sdmetrics(pair):
    sd = pytest.importorskip("sdmetrics.column_pairs")
    real, synth = pair
    for a, b in (("age", "income"), ("score", "joined")):
        ours = M.correlation_similarity(real[[a, b]], synth[[a, b]])
        assert ours == pytest.approx(
            sd.CorrelationSimilarity.compute(real[[a, b]], synth[[a, b]]), abs=1e-9
        )
    for a, b in (("sex", "city"), ("kids", "member")):
        ours = M.contingency_similarity(real[[a, b]], synth[[a, b]])
        assert ours == pytest.approx(
            sd.ContingencySimilarity.compute(real[[a, b]], synth[[a, b]]), abs=1e-9
        )
    ours = M.contingency_similarity(real[["sex", "age"]], synth[["sex", "age"]], ["age"])
    theirs = sd.ContingencySimilarity.compute(
        real[["sex", "age"]], synth[["sex", "age"]], continuous_column_names=["age"]
    )
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_ml_efficacy_and_dcr_tell_copies_from_noise():
    real = mixed_table(400, seed=0)
    real["label"] = np.where(real["age"] > 50, "old", "young")
    train, test = real.iloc[:300].reset_index(drop=True), real.iloc[300:].reset_index(drop=True)
    cols = infer_columns(train)
    copy = M.evaluate_table(train, train, test=test, target="label", columns=cols)
    assert copy["quality"] == pytest.approx(1.0)
    assert copy["ml_ratio"] == pytest.approx(1.0)
    # every row a copy; nearer a (same-sized, random) third of the training rows than the
    # held-out rows far more often than the 0.5 of no copying
    assert copy["dcr_copies"] == 1.0 and copy["dcr_closer_to_train"] > 0.6
    noise = train.copy()
    noise["label"] = np.random.default_rng(0).permutation(noise["label"].to_numpy())
    res = M.evaluate_table(train, noise, test=test, target="label", columns=cols)
    assert res["ml_synth"] < 0.8 * res["ml_real"]
