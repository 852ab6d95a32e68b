"""Built-in mixed tables that ship inside installed packages (no download), each with a
fixed train/test split and a prediction target for machine-learning efficacy.

=========  =====  ==============================================================
name       rows   source, what makes it a test
=========  =====  ==============================================================
penguins   344    ``palmerpenguins``: text categories, missing values in five
                  columns, integer measures; target ``species``
fair       6366   ``statsmodels`` (Fair 1978, affairs survey): integer codes and
                  a continuous column that is 0 in 68% of rows; target
                  ``rate_marriage``
anes96     944    ``statsmodels`` (1996 US election study): ordinal codes, a
                  skewed population column with a spike at 0; target ``vote``
=========  =====  ==============================================================

The split is 75% / 25% by a seeded permutation (seed 0), the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganforge.apps.tabular.columns import TableError
from ganforge.core.registry import Registry

TEST_FRACTION = 0.25


@dataclass(frozen=True)
class TableSet:
    """A built-in table: ``load()`` returns the whole DataFrame; ``target`` is the column
    ML efficacy predicts and ``task`` is ``classification`` or ``regression``."""

    load: Callable[[], Any]
    target: str
    task: str
    package: str


TABLES: Registry[TableSet] = Registry("built-in table")


def _penguins() -> Any:
    from palmerpenguins import load_penguins

    return load_penguins()


def _fair() -> Any:
    import statsmodels.api as sm

    df = sm.datasets.fair.load_pandas().data.copy()
    for c in ("rate_marriage", "religious", "educ", "occupation", "occupation_husb", "age",
              "yrs_married"):  # fmt: skip
        if (df[c] == df[c].round()).all():
            df[c] = df[c].astype("int64")
    return df


def _anes96() -> Any:
    import statsmodels.api as sm

    df = sm.datasets.anes96.load_pandas().data.copy()
    df = df.drop(columns=["logpopul"])  # a function of popul: no information of its own
    for c in df.columns:
        if (df[c] == df[c].round()).all():
            df[c] = df[c].astype("int64")
    return df


TABLES.add("penguins", TableSet(_penguins, "species", "classification", "palmerpenguins"),
           help="Palmer penguins: 344 rows, text + numbers + missing (palmerpenguins)")  # fmt: skip
TABLES.add("fair", TableSet(_fair, "rate_marriage", "classification", "statsmodels"),
           help="affairs survey: 6366 rows, integer codes, 68% zeros (statsmodels)")  # fmt: skip
TABLES.add("anes96", TableSet(_anes96, "vote", "classification", "statsmodels"),
           help="1996 US election study: 944 rows, ordinal codes (statsmodels)")  # fmt: skip


def table_split(name: str) -> tuple[Any, Any, TableSet]:
    """``(train, test, TableSet)`` of built-in table ``name`` (fixed seeded split)."""
    import numpy as np

    ts = TABLES.get(name)
    try:
        df = ts.load()
    except ImportError:
        raise TableError(
            f"the built-in table {name!r} ships with the {ts.package!r} package: "
            f"pip install {ts.package}"
        ) from None
    perm = np.random.default_rng(0).permutation(len(df))
    n_test = int(round(len(df) * TEST_FRACTION))
    test = df.iloc[np.sort(perm[:n_test])].reset_index(drop=True)
    train = df.iloc[np.sort(perm[n_test:])].reset_index(drop=True)
    return train, test, ts


def load_table(spec: str) -> tuple[Any, str]:
    """``(DataFrame, name)`` for ``data.spec``: a built-in table's training split, or a
    CSV/Parquet file."""
    from ganforge.apps.tabular.tableio import read_table

    if spec in TABLES:
        return table_split(spec)[0], spec
    if not spec:
        raise TableError(
            "no table given (data.spec is empty): pass --data TABLE.csv|.parquet or a built-in "
            "table: " + ", ".join(TABLES.names())
        )
    p = Path(spec).expanduser()
    if not p.suffix and not p.exists():
        raise TableError(
            f"--data {spec}: no such table file and no built-in table of that name; built-in: "
            + ", ".join(TABLES.names())
        )
    return read_table(p), str(p)
