"""The tabular GAN end to end on a tiny table: training through the engine, ranges and
integers, exact conditional sampling, clear errors, exact resume, CSV/Parquet round trips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from ganforge.apps.tabular import TableError, TabularGAN, read_table, write_table  # noqa: E402
from ganforge.apps.tabular.frame import tabular_config  # noqa: E402
from ganforge.apps.tabular.run import load_tabular, tabular_trainer  # noqa: E402
from ganforge.core.checkpoint import load_checkpoint  # noqa: E402
from tests.test_tabular_transform import mixed_table  # noqa: E402

TINY = {"model.args.g_dims": [32, 32], "model.args.d_dims": [32, 32], "model.z_dim": 16,
        "log.ckpt_every": 10, "log.sample_every": 1000, "threads": 1}  # fmt: skip


def tiny_gan(steps: int = 30, **kw) -> TabularGAN:
    return TabularGAN(steps=steps, batch_size=50, settings=TINY, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    df = mixed_table(200)
    gan = tiny_gan().fit(df, out=tmp_path_factory.mktemp("tab") / "run")
    return df, gan


def test_samples_stay_in_range_and_integers_stay_integers(trained):
    df, gan = trained
    s = gan.sample(2000, seed=1)
    assert len(s) == 2000 and list(s.columns) == list(df.columns)
    assert list(s.dtypes) == list(df.dtypes)
    for c in ("age", "income", "score", "joined", "kids"):
        v = s[c].dropna()
        assert v.min() >= df[c].min() and v.max() <= df[c].max(), c
    assert (s["age"] == s["age"].round()).all()
    assert set(s["sex"]) <= {"Male", "Female"} and set(s["kids"]) <= set(df["kids"])
    assert (s["income"] == 0).mean() > 0.05  # the zero spike comes back as exact zeros
    pd.testing.assert_frame_equal(gan.sample(50, seed=3), gan.sample(50, seed=3))


def test_out_of_range_rows_are_drawn_again_not_piled_on_the_bounds(trained):
    df, gan = trained
    tr = gan.model.transform
    s = gan.sample(2000, seed=2)
    for c in ("income", "score"):
        v = s[c].dropna()
        v = v[v != 0] if c == "income" else v  # income's minimum is its zero spike
        at_bounds = ((v == df[c][df[c] != 0].min()) | (v == df[c].max())).mean()
        assert at_bounds < 0.01, (c, at_bounds)
    # the untrained-ish G does make out-of-range rows: the test would see a pile-up
    from ganforge.apps.tabular.objective import generate_rows

    raw = generate_rows(gan.model.G, tr, gan.model.cond, 2000, torch.Generator().manual_seed(2))
    assert tr.in_range(raw).mean() < 0.99


def test_exact_conditional_counts_single_and_multi_column(trained):
    _, gan = trained
    s = gan.sample(120, conditions={"sex": "Female"}, seed=0)
    assert len(s) == 120 and (s["sex"] == "Female").all()
    s = gan.sample(75, conditions={"sex": "Male", "kids": 2, "age>": 40}, seed=0)
    assert len(s) == 75 and (s["sex"] == "Male").all() and (s["kids"] == 2).all()
    assert (s["age"] > 40).all()
    s = gan.sample(30, conditions=["city=b", "income<=50000"], seed=0)
    assert len(s) == 30 and (s["city"] == "b").all() and (s["income"] <= 50000).all()
    # booleans, datetimes, missing values and != on integer codes
    s = gan.sample(20, conditions={"member": True, "joined>": "2021-06-01", "city": None})
    assert len(s) == 20 and s["member"].all() and s["city"].isna().all()
    assert (s["joined"] > pd.Timestamp("2021-06-01")).all()
    s = gan.sample(10, conditions=["member=false", "kids!=0", "kids<=2"], seed=0)
    assert len(s) == 10 and (~s["member"]).all() and set(s["kids"]) <= {1, 2}


@pytest.mark.parametrize(
    "conditions, match",
    [
        ({"sex": "Mle"}, r"'Mle' never occurs in column 'sex'.*did you mean 'Male'"),
        ({"age>": 200}, r"age>200 never occurs: column 'age' lies in \[18, 89\]"),
        ({"nope": 1}, "no column 'nope'"),
        (["age~3"], "write COLUMN=VALUE"),
        ({"joined>": "someday"}, "'someday' is not a date"),
        ({"sex>": 3}, "holds text; compare it with = or != only"),
    ],
)
def test_impossible_conditions_fail_before_drawing(trained, conditions, match):
    with pytest.raises(TableError, match=match):
        trained[1].sample(10, conditions=conditions)


def test_too_rare_condition_fails_after_bounded_rounds(trained):
    with pytest.raises(TableError, match=r"only \d+ of 100000 rows meet .* after drawing"):
        trained[1].model.sample(100_000, {"age=": 18, "income>": 1e5}, max_rounds=2, batch=500)


def test_run_folder_holds_json_transform_and_resume_is_exact(tmp_path):
    df = mixed_table(120)
    cfg = dataclasses.replace(tiny_gan().config(len(df)), steps=20)
    straight = tabular_trainer(cfg, tmp_path / "a", frame=df)
    straight.run(progress=False)
    half = tabular_trainer(dataclasses.replace(cfg, steps=10), tmp_path / "b", frame=df)
    half.run(progress=False)
    assert (tmp_path / "b" / "tabular.json").read_text().startswith("{")
    resumed = tabular_trainer(cfg, tmp_path / "b", resume=True)
    resumed.run(progress=False)
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    assert a["step"] == b["step"] == 20
    for k in a["G"]:
        torch.testing.assert_close(a["G"][k], b["G"][k], rtol=0, atol=0)
    model = load_tabular(tmp_path / "b")
    assert model.step == 20 and len(model.sample(5)) == 5


def test_batch_must_be_a_multiple_of_pac(tmp_path):
    cfg = dataclasses.replace(tabular_config(), batch_size=55)
    with pytest.raises(TableError, match="multiple of tricks.pac = 10"):
        tabular_trainer(cfg, tmp_path, frame=mixed_table(50))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_files_round_trip(tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    df = mixed_table(40)
    back = read_table(write_table(df, tmp_path / f"t{suffix}"))
    assert list(back.columns) == list(df.columns)
    assert str(back["joined"].dtype).startswith("datetime64")  # ISO dates parsed in CSVs
    pd.testing.assert_series_equal(back["age"], df["age"])
    assert np.allclose(back["income"], df["income"])


def test_unreadable_tables_fail_clearly(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TableError, match="is empty"):
        read_table(tmp_path / "empty.csv")
    with pytest.raises(TableError, match="tables are read from"):
        read_table(tmp_path / "t.xlsx")
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "missing.csv")


def test_the_facade_trains_a_tabular_preset(tmp_path):
    import ganforge
    from ganforge.core.config import apply_override

    cfg = tabular_config(**TINY)
    cfg = dataclasses.replace(cfg, steps=2, batch_size=50)
    with pytest.raises(TableError, match="no table given"):
        ganforge.train(cfg, tmp_path / "none")
    pytest.importorskip("palmerpenguins")
    cfg = apply_override(cfg, "data.spec=penguins")
    ganforge.train(cfg, tmp_path / "run")
    assert len(load_tabular(tmp_path / "run").sample(3)) == 3


def test_export_samples_like_the_run_without_its_rows(trained, tmp_path, capsys):
    """``ganforge export`` of a tabular run: weights, config and transform (no training
    rows); the folder samples the same rows as the run, from Python and the CLI, and
    ``ganforge.load`` (noise -> image) points at the right call."""
    import ganforge
    from ganforge.cli import main
    from ganforge.core.checkpoint import CheckpointError

    df, gan = trained
    out = tmp_path / "export"
    assert main(["export", str(gan.run_dir), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "generator.safetensors", "tabular.json"]  # fmt: skip
    pd.testing.assert_frame_equal(load_tabular(out).sample(60, seed=3), gan.sample(60, seed=3))
    assert main(["sample", str(out), "-n", "7", "--out", str(tmp_path / "x.csv")]) == 0
    assert len(read_table(tmp_path / "x.csv")) == 7
    with pytest.raises(CheckpointError, match="is a tabular model"):
        ganforge.load(out)
    assert main(["export", str(gan.run_dir), "--format", "onnx", "--out", str(out)]) != 0
    assert "safetensors in fp32 only" in capsys.readouterr().err


@pytest.mark.parametrize("reuse", [False, True])
def test_reuse_fake_runs_the_generator_once_per_step(tmp_path, reuse):
    """objective.args.reuse_fake: G's update scores the D step's own fake rows (one G
    forward per step, not two) and still trains."""
    df = mixed_table(120)
    gan = TabularGAN(steps=4, batch_size=50, settings={**TINY, "objective.args.reuse_fake": reuse})
    t = tabular_trainer(gan.config(len(df)), tmp_path / "run", frame=df)
    calls = []
    t.nets["G"].register_forward_hook(lambda *a: calls.append(1))
    logs = [t.train_step() for _ in range(3)]
    assert len(calls) == (3 if reuse else 6)
    assert all(torch.isfinite(v).all() for rec in logs for v in rec.values())


def test_batch_and_pac_come_from_the_preset_or_settings_unless_given():
    assert TabularGAN().config(1000).batch_size == tabular_config().batch_size
    cfg = TabularGAN(epochs=2, settings={"batch_size": 40, "tricks.pac": 4}).config(1000)
    assert (cfg.batch_size, cfg.tricks.pac, cfg.steps) == (40, 4, 50)
    cfg = TabularGAN(batch_size=50, pac=5, settings={"batch_size": 40}).config(10)
    assert (cfg.batch_size, cfg.tricks.pac) == (50, 5)
