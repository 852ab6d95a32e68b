"""Columns as users mean them: kinds inferred from dtypes, exact spikes, missing values,
integers, datetimes and booleans back as such, bad tables refused with clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from ganforge.apps.tabular.columns import TableError, describe_columns, infer_columns  # noqa: E402
from ganforge.apps.tabular.transform import TableTransform  # noqa: E402


def mixed_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(10, 0.5, n))  # 40% zeros
    age = rng.integers(18, 90, n)
    score = rng.normal(0, 1, n)
    score[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({
        "sex": rng.choice(["Male", "Female"], n),
        "city": rng.choice(["a", "b", "c", None], n, p=[0.5, 0.3, 0.15, 0.05]),
        "age": age,
        "income": income,
        "score": score,
        "kids": rng.integers(0, 4, n),
        "member": rng.random(n) < 0.3,
        "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D"),
    })  # fmt: skip


def test_kinds_are_inferred_from_dtypes_and_overrides():
    df = mixed_table()
    kinds = {c.name: (c.kind, c.logical) for c in infer_columns(df)}
    assert kinds == {
        "sex": ("discrete", "text"), "city": ("discrete", "text"),
        "age": ("continuous", "int"), "income": ("continuous", "float"),
        "score": ("continuous", "float"), "kids": ("discrete", "int"),
        "member": ("discrete", "bool"), "joined": ("continuous", "datetime"),
    }  # fmt: skip
    over = {c.name: c.kind for c in infer_columns(df, discrete="age", continuous=["kids"])}
    assert over["age"] == "discrete" and over["kids"] == "continuous"
    text = describe_columns(infer_columns(df), len(df))
    assert "income" in text and "continuous" in text and "--discrete" in text


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: pd.DataFrame(), "no columns"),
        (lambda: pd.DataFrame({"a": []}), "no rows"),
        (lambda: pd.DataFrame({"a": [1.0]}), "one row"),
        (lambda: pd.DataFrame({"a": [1.0, 2.0], "b": [None, None]}), "'b' has no values"),
        (lambda: pd.DataFrame({"a": [1, "x", 2.5]}), "'a' mixes numbers and text"),
        (lambda: pd.DataFrame({"a": [str(i) for i in range(12)] + ["n/a?"]}), "1 text value"),
    ],
)
def test_bad_tables_fail_clearly(make, match):
    with pytest.raises(TableError, match=match):
        infer_columns(make())


def test_overrides_name_unknown_columns_and_impossible_kinds():
    df = mixed_table(20)
    with pytest.raises(TableError, match="no column 'sx'.*did you mean 'sex'"):
        infer_columns(df, discrete="sx")
    with pytest.raises(TableError, match="only be discrete"):
        infer_columns(df, continuous="sex")
    mixed = pd.DataFrame({"a": [1, "x", 2.5, "y"]})
    assert infer_columns(mixed, discrete="a")[0].kind == "discrete"  # the documented fix


def test_round_trip_keeps_values_dtypes_spikes_and_missing():
    df = mixed_table()
    tr = TableTransform.fit(df, infer_columns(df), seed=0)
    x, cats = tr.encode(df, seed=0)
    assert x.shape == (len(df), tr.width) and cats.shape == (len(df), 4)
    back = tr.decode(x)
    assert list(back.dtypes) == list(df.dtypes)
    for c in ("sex", "city", "kids", "member", "age", "joined"):
        pd.testing.assert_series_equal(back[c], df[c], check_names=False)
    # the zero spike is its own mode: zeros come back exactly zero, and only zeros
    assert ((back["income"] == 0) == (df["income"] == 0)).all()
    assert np.allclose(back["income"], df["income"], rtol=1e-3)
    assert (back["score"].isna() == df["score"].isna()).all()
    # JSON round trip of the fitted transform gives the same decoding
    tr2 = TableTransform.from_dict(json.loads(json.dumps(tr.to_dict())))
    pd.testing.assert_frame_equal(tr2.decode(x), back)


def test_decoded_values_stay_in_range_and_integral_for_any_output():
    df = mixed_table()
    tr = TableTransform.fit(df, infer_columns(df), seed=0)
    rows = np.random.default_rng(1).normal(0, 3, (2000, tr.width)).astype(np.float32)
    out = tr.decode(rows)
    for c in ("age", "income", "score"):
        v = out[c].dropna()
        assert v.min() >= df[c].min() and v.max() <= df[c].max()
    assert (out["age"] == out["age"].round()).all() and out["age"].dtype == df["age"].dtype
    assert out["joined"].min() >= df["joined"].min() and out["joined"].max() <= df["joined"].max()


def test_in_range_flags_exactly_the_rows_decode_would_clip():
    df = mixed_table()
    tr = TableTransform.fit(df, infer_columns(df), seed=0)
    rows = np.random.default_rng(2).normal(0, 1, (2000, tr.width)).astype(np.float32)
    ok = tr.in_range(rows)
    assert 0.05 < ok.mean() < 0.95  # wide outputs: both kinds present
    wide = tr.decode(rows)
    start, clipped = 0, np.zeros(len(rows), dtype=bool)
    for c in tr.columns:
        block = rows[:, start : start + c.width]
        start += c.width
        if c.column.kind == "continuous":
            raw = c._unclipped(block)
            slack = c.resolution / 2 if c.column.logical in ("int", "datetime") else 0.0
            clipped |= (raw < c.lo - slack) | (raw > c.hi + slack)
    np.testing.assert_array_equal(ok, ~clipped)
    # rows inside the range decode to the same values with or without the clip
    inside = tr.decode(rows[ok])
    for c in ("income", "score"):
        np.testing.assert_allclose(inside[c].to_numpy(float), wide[c].to_numpy(float)[ok])


def test_output_heads_match_a_per_head_gumbel_softmax():
    import torch

    from ganforge.apps.tabular.models import OutputHeads
    from ganforge.apps.tabular.objective import condition_heads, conditional_loss

    df = mixed_table()
    tr = TableTransform.fit(df, infer_columns(df), seed=0)
    heads = OutputHeads(tr.spans)
    raw = torch.randn(64, tr.width, requires_grad=True)
    soft_spans = [(s, w) for s, w, act in tr.spans if act == "softmax"]
    widest = max(w for _, w in soft_spans)
    u = torch.rand((64, len(soft_spans), widest), generator=torch.Generator().manual_seed(5))
    u = u.clamp(1e-10, 1.0 - 1e-7)
    out = heads(raw, 0.2, torch.Generator().manual_seed(5))
    hard = heads(raw, 0.2, torch.Generator().manual_seed(5), hard=True)
    h = 0
    for s, w, act in tr.spans:
        got, one_hot = out[:, s : s + w], hard[:, s : s + w]
        if act == "tanh":
            torch.testing.assert_close(got, torch.tanh(raw[:, s : s + w]))
            continue
        g = -torch.log(-torch.log(u[:, h, :w]))
        want = torch.softmax((raw[:, s : s + w] + g) / 0.2, dim=1)
        torch.testing.assert_close(got, want)
        assert (one_hot.sum(1) == 1).all() and (one_hot.argmax(1) == want.argmax(1)).all()
        h += 1
    out.sum().backward()  # gradients reach every column
    assert (raw.grad != 0).any(0).all()
    # the conditional loss: each row's cross-entropy on its own conditioned column
    col = torch.randint(0, len(tr.discrete), (64,))
    cat = torch.tensor([int(torch.randint(0, tr.discrete[j][1].width, ())) for j in col])
    want = torch.stack([
        torch.nn.functional.cross_entropy(
            raw[i : i + 1, tr.discrete[j][0] : tr.discrete[j][0] + tr.discrete[j][1].width],
            cat[i : i + 1],
        )
        for i, j in enumerate(col.tolist())
    ]).mean()  # fmt: skip
    got = conditional_loss(raw, heads, condition_heads(tr), col, cat)
    torch.testing.assert_close(got, want)
