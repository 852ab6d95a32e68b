"""The command line on a tiny table: train (dry run, overrides), sample with conditions to
CSV and Parquet, eval, and one-line errors for bad tables."""

from __future__ import annotations

import json

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from ganforge.cli import main  # noqa: E402
from tests.test_tabular_transform import mixed_table  # noqa: E402

TINY = ["--set", "model.args.g_dims=[32, 32]", "--set", "model.args.d_dims=[32, 32]",
        "--set", "model.z_dim=16", "--set", "batch_size=50", "--set", "threads=1",
        "--no-progress"]  # fmt: skip


def test_dry_run_prints_inferred_types_and_overrides(tmp_path, capsys):
    table = tmp_path / "people.csv"
    mixed_table(60).to_csv(table, index=False)
    out = tmp_path / "run"
    assert main(["train", "tabular", "--data", str(table), "--out", str(out), "--dry-run",
                 "--discrete", "age", *TINY]) == 0  # fmt: skip
    text = capsys.readouterr().out
    lines = {ln.split()[0]: ln.split()[1:3] for ln in text.splitlines() if ln.startswith("  ")}
    assert lines["age"] == ["discrete", "int"] and lines["income"] == ["continuous", "float"]
    assert lines["joined"] == ["continuous", "datetime"] and lines["member"][0] == "discrete"
    assert not (out / "checkpoints").exists()


def test_train_sample_with_conditions_and_eval(tmp_path, capsys):
    table = tmp_path / "people.parquet"
    pytest.importorskip("pyarrow")
    df = mixed_table(100)
    df.to_parquet(table, index=False)
    run = tmp_path / "run"
    assert main(["train", "tabular", "--data", str(table), "--out", str(run), "--steps", "6",
                 *TINY]) == 0  # fmt: skip
    synth = tmp_path / "synth.csv"
    assert main(["sample", str(run), "-n", "40", "--out", str(synth), "--condition", "sex=Male",
                 "--condition", "age>=30"]) == 0  # fmt: skip
    rows = pd.read_csv(synth)
    assert len(rows) == 40 and (rows["sex"] == "Male").all() and (rows["age"] >= 30).all()
    assert main(["sample", str(run), "-n", "25", "--out", str(tmp_path / "s.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == 25
    capsys.readouterr()
    test = tmp_path / "test.csv"
    mixed_table(50, seed=1).to_csv(test, index=False)
    assert main(["eval", str(run), "--real", str(test), "--target", "sex", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    for key in ("column_shapes", "pair_trends", "ml_synth", "ml_real", "dcr_closer_to_train"):
        assert 0 <= res[key] <= 1, key
    assert main(["sample", str(run), "-n", "5", "--out", str(synth), "--condition", "sex=X"]) == 2
    assert "'X' never occurs in column 'sex'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, match",
    [
        ("a,b\n", "has no rows"),
        ("a,b\n1,2\n", "has one row"),
        ("a,b\n1,\n2,\n3,\n", "column 'b' has no values"),
        ("", "is empty"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path, capsys, content, match):
    table = tmp_path / "bad.csv"
    table.write_text(content)
    code = main(["train", "tabular", "--data", str(table), "--out", str(tmp_path / "r"),
                 "--dry-run", *TINY])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("ganforge: error:") and match in err


def test_column_flags_are_for_tables_only(capsys):
    assert main(["train", "gan-ring8", "--discrete", "a", "--dry-run"]) == 2
    assert "--discrete and --continuous are for tables" in capsys.readouterr().err


def test_engine_imports_without_pandas_or_sklearn():
    import subprocess
    import sys

    code = "import sys, ganforge.apps; print('pandas' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_sample_the_zoo_table(tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["sample", "zoo:tabular-penguins", "-n", "100", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert len(df) == 100 and "species" in df.columns
    assert main(["sample", "zoo:tabular-penguins", "-n", "20", "--condition", "sex=male",
                 "--out", str(out)]) == 0  # fmt: skip
    assert (pd.read_csv(out)["sex"] == "male").all()


def test_the_condition_vector_steers_g_not_only_rejection(tmp_path, capsys):
    """A discrete condition is met by most drawn rows (Gentoo is 36% of the penguins): G
    reads its condition vector; a batch of one condition would have BatchNorm erase it."""
    out = tmp_path / "g.csv"
    assert main(["sample", "zoo:tabular-penguins", "-n", "50", "--condition", "species=Gentoo",
                 "--out", str(out)]) == 0  # fmt: skip
    share = float(capsys.readouterr().out.split("% of the rows drawn")[0].split("(")[-1])
    assert share > 70.0
    assert (pd.read_csv(out)["species"] == "Gentoo").all()
