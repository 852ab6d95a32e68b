"""How good is a synthetic table: column shapes, pair trends, ML efficacy, privacy.

* **Column shape** (SDMetrics' definitions, checked against ``sdmetrics`` in the tests):
  ``KSComplement`` = 1 - the Kolmogorov-Smirnov statistic for continuous columns,
  ``TVComplement`` = 1 - total variation distance of the category frequencies for
  discrete ones (missing values dropped in both).
* **Pair trends**: ``CorrelationSimilarity`` = 1 - |rho_real - rho_synth| / 2 (Pearson)
  for two continuous columns, ``ContingencySimilarity`` = 1 - TV distance of the joint
  frequencies otherwise (continuous columns binned in 10 bins of the real data's range,
  missing values a cell of their own).
* **ML efficacy** (Xu et al. 2019, section 5.1): a gradient-boosted model trained on the
  synthetic rows and tested on held-out real rows, against the same trained on the real
  training rows (macro F1 for classification, R^2 for regression).
* **Privacy**, distance to closest record (DCR; e.g. Zhao et al. 2021): each synthetic
  row's distance to its nearest real training row, against held-out real rows' distance
  to the training rows; ``dcr_closer_to_train`` is the share of synthetic rows nearer a
  training row than a (same-sized) held-out one: 0.5 is no sign of copying, 1 is copying.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ganforge.apps.tabular.columns import Column, TableError, infer_columns


def _numeric(s: Any) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        v = s.astype("int64").to_numpy().astype(np.float64)
        v[s.isna().to_numpy()] = np.nan
        return v
    return pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()


def ks_complement(real: Any, synth: Any) -> float:
    """1 - KS statistic of two continuous columns (Series), missing values dropped."""
    a, b = _numeric(real), _numeric(synth)
    a, b = np.sort(a[~np.isnan(a)]), np.sort(b[~np.isnan(b)])
    if not len(a) or not len(b):
        return math.nan
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(1.0 - np.abs(fa - fb).max())


def _freqs(s: Any) -> dict[Any, float]:
    counts = s.dropna().value_counts()
    total = float(counts.sum())
    return {k: float(v) / total for k, v in counts.items()}


def tv_complement(real: Any, synth: Any) -> float:
    """1 - total variation distance of two discrete columns' frequencies (no missing)."""
    p, q = _freqs(real), _freqs(synth)
    if not p or not q:
        return math.nan
    return float(1.0 - 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q)))


def correlation_similarity(real: Any, synth: Any) -> float:
    """1 - |Pearson(real) - Pearson(synth)| / 2 for two continuous columns (DataFrames of
    two columns; rows with a missing value dropped)."""

    def rho(df: Any) -> float:
        a, b = _numeric(df.iloc[:, 0]), _numeric(df.iloc[:, 1])
        ok = ~(np.isnan(a) | np.isnan(b))
        if ok.sum() < 2 or a[ok].std() == 0 or b[ok].std() == 0:
            return math.nan
        return float(np.corrcoef(a[ok], b[ok])[0, 1])

    r, s = rho(real), rho(synth)
    return 1.0 - abs(r - s) / 2 if not (math.isnan(r) or math.isnan(s)) else math.nan


def _bin(real: Any, synth: Any, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Both columns binned on the real column's range (ends open; missing: a bin of its own)."""
    a, b = _numeric(real), _numeric(synth)
    edges = np.histogram_bin_edges(a[~np.isnan(a)], bins=bins)
    edges[0], edges[-1] = -np.inf, np.inf
    return np.digitize(a, edges), np.digitize(b, edges)


def contingency_similarity(real: Any, synth: Any, continuous: Sequence[str] = ()) -> float:
    """1 - TV distance of the joint frequencies of two columns (DataFrames of two columns);
    the columns named in ``continuous`` are binned first (10 bins)."""
    import pandas as pd

    real, synth = real.iloc[:, :2].copy(), synth.iloc[:, :2].copy()
    for c in real.columns:
        if c in continuous:
            real[c], synth[c] = _bin(real[c], synth[c])
    cols = list(real.columns)
    p = real.groupby(cols, dropna=False).size() / len(real)
    q = synth.groupby(cols, dropna=False).size() / len(synth)
    idx = p.index.union(q.index, sort=False)
    diff = (p.reindex(idx, fill_value=0) - q.reindex(idx, fill_value=0)).abs()
    return float(1.0 - pd.Series(diff).fillna(0).sum() / 2)


def quality(real: Any, synth: Any, columns: Sequence[Column] | None = None) -> dict[str, Any]:
    """Column shapes and pair trends, each averaged, and their mean (``quality``), with
    the per-column scores (``shape_COLUMN``)."""
    columns = list(columns) if columns is not None else infer_columns(real)
    cont = [c.name for c in columns if c.kind == "continuous"]
    out: dict[str, Any] = {}
    shapes = []
    for c in columns:
        f = ks_complement if c.kind == "continuous" else tv_complement
        v = f(real[c.name], synth[c.name])
        out[f"shape_{c.name}"] = v
        shapes.append(v)
    pairs = []
    for a, b in itertools.combinations([c.name for c in columns], 2):
        if a in cont and b in cont:
            v = correlation_similarity(real[[a, b]], synth[[a, b]])
        else:
            v = contingency_similarity(real[[a, b]], synth[[a, b]], cont)
        pairs.append(v)
    out["column_shapes"] = float(np.nanmean(shapes)) if shapes else math.nan
    out["pair_trends"] = float(np.nanmean(pairs)) if pairs else math.nan
    out["quality"] = float(np.nanmean([out["column_shapes"], out["pair_trends"]]))
    return out


def _features(df: Any, columns: Sequence[Column], ref: Any) -> np.ndarray:
    """Numbers as they are (NaN kept: the booster handles it), categories one-hot over
    the reference table's categories."""
    parts = []
    for c in columns:
        if c.kind == "continuous":
            parts.append(_numeric(df[c.name])[:, None])
        else:
            cats = ref[c.name].astype(str).unique()
            values = df[c.name].astype(str).to_numpy()
            parts.append((values[:, None] == cats[None]).astype(np.float64))
    return np.concatenate(parts, 1) if parts else np.zeros((len(df), 0))


def ml_efficacy(
    train: Any, synth: Any, test: Any, target: str, task: str = "classification",
    columns: Sequence[Column] | None = None, seed: int = 0,
) -> dict[str, float]:  # fmt: skip
    """Scores on held-out ``test`` of a model trained on ``synth`` and of one trained on
    ``train`` (macro F1 or R^2), and their ratio."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import f1_score, r2_score

    if target not in train.columns:
        raise TableError(f"ML efficacy: no target column {target!r}")
    columns = list(columns) if columns is not None else infer_columns(train)
    feats = [c for c in columns if c.name != target]

    def score(source: Any) -> float:
        x, x_test = _features(source, feats, train), _features(test, feats, train)
        if task == "classification":
            y, y_test = source[target].astype(str).to_numpy(), test[target].astype(str).to_numpy()
            if len(set(y)) < 2:
                return 0.0
            model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
            model.fit(x, y)
            return float(f1_score(y_test, model.predict(x_test), average="macro"))
        y, y_test = _numeric(source[target]), _numeric(test[target])
        ok = ~np.isnan(y)
        model = HistGradientBoostingRegressor(max_iter=100, random_state=seed)
        model.fit(x[ok], y[ok])
        keep = ~np.isnan(y_test)
        return float(r2_score(y_test[keep], model.predict(x_test[keep])))

    real_score, synth_score = score(train), score(synth)
    ratio = synth_score / real_score if real_score > 0 else math.nan
    return {"ml_real": real_score, "ml_synth": synth_score, "ml_ratio": ratio}


def _dcr_encode(df: Any, columns: Sequence[Column], ref: Any) -> np.ndarray:
    """Rows for distances: numbers scaled to [0, 1] by the reference range (missing: -1),
    categories one-hot (a differing category is distance sqrt(2))."""
    parts = []
    for c in columns:
        if c.kind == "continuous":
            r = _numeric(ref[c.name])
            lo, hi = np.nanmin(r), np.nanmax(r)
            v = (_numeric(df[c.name]) - lo) / (hi - lo if hi > lo else 1.0)
            parts.append(np.where(np.isnan(v), -1.0, v)[:, None])
        else:
            cats = ref[c.name].astype(str).unique()
            parts.append((df[c.name].astype(str).to_numpy()[:, None] == cats[None]).astype(float))
    return np.concatenate(parts, 1).astype(np.float32)


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import torch

    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    # no matmul shortcut: copies must come out at distance exactly 0
    mode = "donot_use_mm_for_euclid_dist"
    return torch.cat([torch.cdist(ta[i : i + 2048], tb, compute_mode=mode).min(1).values
                      for i in range(0, len(ta), 2048)]).numpy()  # fmt: skip


def dcr(
    train: Any, synth: Any, test: Any, columns: Sequence[Column] | None = None, seed: int = 0
) -> dict[str, float]:
    """Distance to closest record (see the module docstring)."""
    columns = list(columns) if columns is not None else infer_columns(train)
    rng = np.random.default_rng(seed)
    n = min(len(train), len(test), len(synth))
    tr = _dcr_encode(train, columns, train)
    sy = _dcr_encode(synth, columns, train)
    te = _dcr_encode(test, columns, train)
    # equal-sized train and holdout halves of the comparison (else the larger set is nearer)
    train_part = tr[rng.permutation(len(tr))[:n]]
    test_part = te[rng.permutation(len(te))[:n]]
    d_train, d_test = _nearest(sy, train_part), _nearest(sy, test_part)
    return {
        "dcr_synth": float(np.median(_nearest(sy, tr))),
        "dcr_holdout": float(np.median(_nearest(te, tr))),
        "dcr_closer_to_train": float(np.mean(d_train < d_test) + 0.5 * np.mean(d_train == d_test)),
        "dcr_copies": float(np.mean(_nearest(sy, tr) == 0)),
    }


def evaluate_table(
    real: Any,
    synth: Any,
    *,
    test: Any = None,
    target: str | None = None,
    task: str = "classification",
    columns: Sequence[Column] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Quality of ``synth`` against the real training table ``real`` and, with a held-out
    ``test`` table, ML efficacy (when ``target`` is given) and DCR privacy."""
    columns = list(columns) if columns is not None else infer_columns(real)
    out = quality(real, synth, columns)
    if test is not None:
        if target is not None:
            out.update(ml_efficacy(real, synth, test, target, task, columns, seed))
        out.update(dcr(real, synth, test, columns, seed))
    return out
