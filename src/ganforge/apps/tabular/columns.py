"""Which columns of a table are discrete and which continuous, as a user means them.

CTGAN (Xu et al., NeurIPS 2019, section 4) models a table as discrete columns (one-hot)
and continuous ones (mode-specific normalisation); the paper leaves it to the user to say
which is which. Here the kinds are inferred from the pandas dtypes, with the overrides a
user gives (``--discrete a,b`` / ``--continuous c``):

* text, categorical and boolean columns are discrete;
* integer columns with at most ``max_int_categories`` distinct values are discrete (codes,
  ratings, years), other integers continuous and rounded back to integers;
* float columns are continuous (integer-valued ones come back integers);
* datetime columns are continuous (as nanoseconds), and come back datetimes.

Missing values are kept: a category of their own (discrete) or a mode of their own
(continuous). Tables the GAN cannot learn from (empty, one row, an all-missing column, a
column mixing numbers and text) fail here, naming the column and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ganforge.core.config import ConfigError

MAX_INT_CATEGORIES = 15  # integers with this many distinct values or fewer are codes


class TableError(ConfigError):
    """A table, column or condition the tabular GAN cannot use; the message names it and
    says what to do."""


@dataclass(frozen=True)
class Column:
    """One column of a table, as the GAN sees it.

    Attributes:
        name: the column's name.
        kind: ``continuous`` or ``discrete``.
        logical: ``float``, ``int``, ``bool``, ``datetime`` or ``text``.
        dtype: the source pandas dtype (restored on the way out).
        missing: how many values are missing.
        n_unique: distinct non-missing values.
    """

    name: str
    kind: str
    logical: str
    dtype: str
    missing: int
    n_unique: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Column:
        return cls(**d)


def _names(cols: Sequence[str] | str | None) -> list[str]:
    if not cols:
        return []
    if isinstance(cols, str):
        cols = cols.split(",")
    return [c.strip() for c in cols if c.strip()]


def _check_known(names: list[str], columns: list[str], flag: str) -> None:
    for n in names:
        if n not in columns:
            close = difflib.get_close_matches(n, columns, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TableError(
                f"{flag} {n}: the table has no column {n!r}{hint}; its columns: "
                + ", ".join(columns)
            )


def _logical(series: Any) -> str:
    import pandas as pd

    t = pd.api.types
    if t.is_bool_dtype(series.dtype):
        return "bool"
    if t.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    if t.is_integer_dtype(series.dtype):
        return "int"
    if t.is_float_dtype(series.dtype):
        values = series.dropna()
        return "int" if len(values) and bool((values == values.round()).all()) else "float"
    values = series.dropna()
    kinds = {type(v) for v in values}
    if kinds and kinds <= {bool}:
        return "bool"
    numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    text = [v for v in values if isinstance(v, str)]
    if numeric and text:
        raise TableError(
            f"column {series.name!r} mixes numbers and text (e.g. {numeric[0]!r} and "
            f"{text[0]!r}); clean it, or pass --discrete {series.name} to treat every value "
            "as text"
        )
    if text and not numeric:
        # a CSV column of numbers with a stray word is read as text: say so rather than
        # silently learn hundreds of "categories"
        parsed = pd.to_numeric(values, errors="coerce")
        bad = values[parsed.isna()]
        if len(bad) and parsed.notna().mean() >= 0.9:
            raise TableError(
                f"column {series.name!r} holds numbers and {len(bad)} text value(s) such as "
                f"{bad.iloc[0]!r}; fix them or leave them empty (missing), or pass --discrete "
                f"{series.name} to treat every value as text"
            )
    return "text"


def check_table(df: Any, where: str = "the table") -> None:
    """Fail with a clear message on tables nothing can be learned from."""
    if df.shape[1] == 0:
        raise TableError(f"{where} has no columns")
    if df.shape[0] == 0:
        raise TableError(f"{where} has no rows (only the header: {', '.join(map(str, df))})")
    if df.shape[0] < 2:
        raise TableError(f"{where} has one row; a GAN learns a distribution: give it more rows")
    dup = df.columns[df.columns.duplicated()].tolist()
    if dup:
        raise TableError(f"{where} has duplicate column names: {', '.join(map(str, dup))}")
    empty = [str(c) for c in df.columns if df[c].isna().all()]
    if empty:
        raise TableError(
            f"{where}: column {empty[0]!r} has no values (all {len(df)} missing); drop it"
            + (f" (and {', '.join(map(repr, empty[1:]))})" if len(empty) > 1 else "")
        )


def infer_columns(
    df: Any,
    discrete: Sequence[str] | str | None = None,
    continuous: Sequence[str] | str | None = None,
    *,
    max_int_categories: int = MAX_INT_CATEGORIES,
    where: str = "the table",
) -> list[Column]:
    """The kind of every column of DataFrame ``df`` (see the module docstring).

    Args:
        df: the table.
        discrete, continuous: column names (or one comma-separated string) forced to
            that kind.
        max_int_categories: integers with at most this many distinct values are discrete.
        where: the table's name in error messages.
    """
    check_table(df, where)
    cols = [str(c) for c in df.columns]
    disc, cont = _names(discrete), _names(continuous)
    _check_known(disc, cols, "--discrete")
    _check_known(cont, cols, "--continuous")
    both = sorted(set(disc) & set(cont))
    if both:
        raise TableError(f"column {both[0]!r} is given both --discrete and --continuous")
    out = []
    for name in df.columns:
        s = df[name]
        n_unique = int(s.nunique(dropna=True))
        logical = "text" if str(name) in disc and s.dtype == object else _logical(s)
        if str(name) in cont:
            if logical in ("text", "bool"):
                raise TableError(
                    f"--continuous {name}: column {name!r} holds {logical} values, not "
                    "numbers; it can only be discrete"
                )
            kind = "continuous"
        elif str(name) in disc:
            kind = "discrete"
        elif logical in ("text", "bool"):
            kind = "discrete"
        elif logical == "int" and n_unique <= max_int_categories:
            kind = "discrete"
        else:
            kind = "continuous"
        missing = int(s.isna().sum())
        out.append(Column(str(name), kind, logical, str(s.dtype), missing, n_unique))
    return out


def describe_columns(columns: Sequence[Column], n_rows: int) -> str:
    """A printed summary: one line per column with its kind and why."""
    width = max(len(c.name) for c in columns)
    lines = [f"{len(columns)} columns, {n_rows} rows:"]
    for c in columns:
        what = (
            f"{c.n_unique} categories" if c.kind == "discrete" else f"{c.n_unique} distinct values"
        )
        extra = f", {c.missing} missing" if c.missing else ""
        lines.append(f"  {c.name.ljust(width)}  {c.kind:<10}  {c.logical:<8}  {what}{extra}")
    n_d = sum(c.kind == "discrete" for c in columns)
    lines.append(
        f"({n_d} discrete, {len(columns) - n_d} continuous; change with --discrete COL,... "
        "or --continuous COL,...)"
    )
    return "\n".join(lines)
