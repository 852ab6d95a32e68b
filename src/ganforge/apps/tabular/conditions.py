"""Conditions on sampled rows: ``{"sex": "Male", "age>": 40}`` or ``["sex=Male", "age>40"]``.

Equality on a discrete column is what CTGAN's conditional vector expresses (Xu et al.
2019, section 4.3): G is asked for that category directly. Every other condition
(comparisons, equality on a continuous column, a second discrete column) is met by
rejection: rows are drawn and kept when they match. Before any drawing, a condition the
training data never satisfies fails with the values the column does hold.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganforge.apps.tabular.columns import TableError
from ganforge.apps.tabular.transform import ContinuousColumn, DiscreteColumn, TableTransform

OPS = (">=", "<=", "!=", "==", ">", "<", "=")


@dataclass(frozen=True)
class Condition:
    """``column OP value`` with OP one of ``= != > >= < <=``."""

    column: str
    op: str
    value: Any

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value}"


def _split(text: str) -> tuple[str, str, str]:
    for op in OPS:
        i = text.find(op)
        if i > 0:
            return text[:i].strip(), "=" if op == "==" else op, text[i + len(op) :].strip()
    raise TableError(f"condition {text!r}: write COLUMN=VALUE, COLUMN>VALUE, COLUMN<=VALUE ...")


def parse_conditions(conditions: Mapping[str, Any] | Sequence[str] | None) -> list[Condition]:
    """Conditions from a dict (``"age>": 40``: the operator ends the key; a bare key is
    equality) or strings (``"age>40"``, the command line's ``--condition``)."""
    if not conditions:
        return []
    out = []
    if isinstance(conditions, Mapping):
        for key, value in conditions.items():
            key = str(key).strip()
            op = next((o for o in OPS if key.endswith(o)), "=")
            name = key[: len(key) - len(op)].strip() if key.endswith(op) else key
            out.append(Condition(name, "=" if op == "==" else op, value))
    else:
        for text in conditions:
            name, op, value = _split(str(text))
            out.append(Condition(name, op, value))
    return out


def _is_missing_value(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v in ("nan", "NaN", "NA")


def category_index(col: DiscreteColumn, value: Any) -> int:
    """The index of ``value`` among the column's categories (``"40"`` matches 40); a value
    the training data never held fails, listing the categories and a close match."""
    for i, c in enumerate(col.categories):
        if c is None and _is_missing_value(value):
            return i
        if c is not None and (c == value or str(c) == str(value)):
            return i
        if isinstance(c, (int, float)) and not isinstance(c, bool):
            try:
                if float(value) == float(c):
                    return i
            except (TypeError, ValueError):
                pass
        if isinstance(c, bool) and str(value).lower() in ("true", "false"):
            if c == (str(value).lower() == "true"):
                return i
    names = ["(missing)" if c is None else str(c) for c in col.categories]
    close = difflib.get_close_matches(str(value), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise TableError(
        f"condition {col.column.name}={value}: {value!r} never occurs in column "
        f"{col.column.name!r} of the training data{hint}; its values: {', '.join(names[:20])}"
    )


def _number(col: ContinuousColumn, value: Any, cond: Condition) -> float:
    if col.column.logical == "datetime":
        import pandas as pd

        try:
            return float(pd.Timestamp(value).value)
        except (TypeError, ValueError):
            raise TableError(f"condition {cond}: {value!r} is not a date") from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TableError(f"condition {cond}: column {cond.column!r} is numeric, "
                         f"{value!r} is not a number") from None  # fmt: skip


def _compare(x: np.ndarray, op: str, v: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return {
            "=": x == v, "!=": x != v, ">": x > v, ">=": x >= v, "<": x < v, "<=": x <= v,
        }[op]  # fmt: skip


@dataclass
class Plan:
    """How to meet the conditions: a category for the conditional vector (``fixed``:
    (discrete column index, category index)) and row checks for the rest."""

    fixed: tuple[int, int] | None
    checks: list[Condition]
    transform: TableTransform

    def mask(self, rows: np.ndarray) -> np.ndarray:
        """Which encoded rows (N, D) meet every check."""
        ok = np.ones(len(rows), dtype=bool)
        start = 0
        starts = {}
        for c in self.transform.columns:
            starts[c.column.name] = start
            start += c.width
        for cond in self.checks:
            col = self.transform.column(cond.column)
            block = rows[:, starts[cond.column] : starts[cond.column] + col.width]
            if isinstance(col, DiscreteColumn):
                idx = block.argmax(1)
                if cond.op in ("=", "!="):
                    hit = idx == category_index(col, cond.value)
                    ok &= hit if cond.op == "=" else ~hit
                else:
                    values = np.array([np.nan if c is None else float(c)
                                       for c in col.categories])  # fmt: skip
                    ok &= _compare(values[idx], cond.op, float(cond.value))
            else:
                x = col.decode(block)
                ok &= _compare(x, cond.op, _number(col, cond.value, cond))
        return ok


def plan(transform: TableTransform, conditions: list[Condition]) -> Plan:
    """Check every condition against what the training data holds and choose the rarest
    discrete equality for the conditional vector."""
    disc = {c.column.name: j for j, (_, c) in enumerate(transform.discrete)}
    fixed: tuple[int, int] | None = None
    fixed_freq = 2.0
    for cond in conditions:
        col = transform.column(cond.column)
        if isinstance(col, DiscreteColumn):
            if cond.op in ("=", "!="):
                k = category_index(col, cond.value)
                if cond.op == "=" and col.freqs[k] < fixed_freq:
                    fixed, fixed_freq = (disc[cond.column], k), col.freqs[k]
                if cond.op == "!=" and col.width == 1:
                    raise TableError(f"condition {cond}: the column only ever holds that value")
                continue
            values = [c for c in col.categories if isinstance(c, (int, float))
                      and not isinstance(c, bool)]  # fmt: skip
            if len(values) != sum(c is not None for c in col.categories):
                raise TableError(f"condition {cond}: column {cond.column!r} holds text; "
                                 "compare it with = or != only")  # fmt: skip
            v = float(cond.value) if _numeric(cond.value) else math.nan
            if math.isnan(v) or not _compare(np.array(values, float), cond.op, v).any():
                raise TableError(f"condition {cond} never occurs: column {cond.column!r} "
                                 f"holds {', '.join(map(str, values))}")  # fmt: skip
        else:
            if _is_missing_value(cond.value):
                raise TableError(f"condition {cond}: conditions on missing values are for "
                                 "discrete columns")  # fmt: skip
            v = _number(col, cond.value, cond)
            lo, hi = col.lo, col.hi
            feasible = {
                "=": lo <= v <= hi, "!=": True, ">": hi > v, ">=": hi >= v,
                "<": lo < v, "<=": lo <= v,
            }[cond.op]  # fmt: skip
            if not feasible:
                raise TableError(
                    f"condition {cond} never occurs: column {cond.column!r} lies in "
                    f"[{_show(col, lo)}, {_show(col, hi)}] in the training data"
                )
            if cond.op == "=" and col.column.logical == "int" and v != round(v):
                raise TableError(f"condition {cond}: column {cond.column!r} holds integers")
    # Every condition is checked on the rows drawn, the conditioned one too: G honours its
    # condition almost always, and "almost" is not what a caller asked for.
    return Plan(fixed, list(conditions), transform)


def _numeric(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _show(col: ContinuousColumn, v: float) -> str:
    if col.column.logical == "datetime":
        import pandas as pd

        return str(pd.Timestamp(int(v)))
    return f"{v:g}"
