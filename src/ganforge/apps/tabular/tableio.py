"""Reading and writing tables: CSV (``.csv``, ``.tsv``, ``.csv.gz``) and Parquet.

pandas (and pyarrow for Parquet) are the ``tabular`` extra: ``pip install
ganforge[tabular]``; without them the error says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ganforge.apps.tabular.columns import TableError

SUFFIXES = (".csv", ".tsv", ".csv.gz", ".parquet", ".pq")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


def require_pandas() -> Any:
    """The pandas module, or a clear error naming the extra that installs it."""
    try:
        import pandas as pd
    except ImportError:
        raise TableError(
            "tables need pandas: install the tabular extra, `pip install 'ganforge[tabular]'` "
            "(pandas, pyarrow, scikit-learn)"
        ) from None
    return pd


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".csv.gz" if name.endswith(".csv.gz") else path.suffix.lower()


def _parse_dates(df: Any) -> Any:
    """Text columns whose every value is an ISO date or date-time become datetimes (a CSV
    has no types; these are what users mean)."""
    pd = require_pandas()
    for name in df.columns:
        s = df[name]
        if s.dtype != object and not pd.api.types.is_string_dtype(s.dtype):
            continue
        values = s.dropna()
        if len(values) and all(isinstance(v, str) and _ISO_DATE.match(v) for v in values):
            try:
                df[name] = pd.to_datetime(s, format="ISO8601")
            except (ValueError, TypeError):
                pass
    return df


def read_table(path: str | Path) -> Any:
    """A DataFrame from a ``.csv``/``.tsv``/``.csv.gz`` or ``.parquet`` file."""
    pd = require_pandas()
    p = Path(path).expanduser()
    suffix = _suffix(p)
    if suffix not in SUFFIXES:
        raise TableError(f"{p}: tables are read from {', '.join(SUFFIXES)} files, not {suffix!r}")
    if not p.is_file():
        raise FileNotFoundError(f"no such table file: {p}")
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(p)
        except ImportError:
            raise TableError(
                f"{p}: reading Parquet needs pyarrow: `pip install 'ganforge[tabular]'`"
            ) from None
        except Exception as e:  # noqa: BLE001 - pyarrow raises its own error types
            raise TableError(f"{p}: not a readable Parquet file ({e})") from None
    try:
        df = pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",")
    except pd.errors.EmptyDataError:
        raise TableError(f"{p} is empty: no header, no rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise TableError(f"{p}: not a readable CSV file ({str(e).strip()[:200]})") from None
    return _parse_dates(df)


def write_table(df: Any, path: str | Path) -> Path:
    """Write DataFrame ``df`` as CSV or Parquet by the suffix of ``path``."""
    p = Path(path).expanduser()
    suffix = _suffix(p)
    if suffix not in SUFFIXES:
        raise TableError(f"--out {p.name}: write tables as .csv, .tsv or .parquet")
    p.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".parquet", ".pq"):
        df.to_parquet(p, index=False)
    else:
        df.to_csv(p, index=False, sep="\t" if suffix == ".tsv" else ",")
    return p
