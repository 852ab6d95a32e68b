"""Tables to vectors and back: CTGAN's mode-specific normalisation and one-hot columns.

Xu et al., "Modeling Tabular Data using Conditional GAN" (NeurIPS 2019), section 4.2:

* a continuous column is fitted with a variational Gaussian mixture; a value ``x`` is
  represented by a mode ``k`` drawn from its posterior over the modes (one-hot ``beta``)
  and the scalar ``alpha = (x - mu_k) / (4 sigma_k)`` in [-1, 1];
* a discrete column is one-hot.

Beyond the paper, so that columns come back as users mean them:

* a value that holds more than ``spike_frac`` of a column (zeros of "hours of overtime")
  is a mode of its own with no width: it comes back exactly, not as a blur around it;
* missing values are a mode (continuous) or a category (discrete) of their own;
* decoded values never leave the [min, max] seen in the data, integer columns are
  rounded, datetimes and booleans come back as such, and the source dtypes are restored.

The fitted transform is plain JSON (:meth:`TableTransform.to_dict`): a run folder holds it
as ``tabular.json``, never pickled.

Encoded layout: the columns in order; a continuous column is ``[alpha | beta_1..beta_M]``
(M = GMM modes + spikes + 1 if it has missing values), a discrete one ``[onehot_1..C]``.
:attr:`TableTransform.spans` lists ``(start, width, activation)`` with activation ``tanh``
(alpha) or ``softmax`` (one-hot groups).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganforge.apps.tabular.columns import Column, TableError

SPIKE_FRAC = 0.1  # a value with more than this share of a column is a mode of its own
MAX_MODES = 10  # GMM components per continuous column (the paper's m = 10)
WEIGHT_THRESHOLD = 0.005  # modes with less weight are dropped (as in the paper's code)
FIT_ROWS = 5000  # rows the mixture is fitted on (a subsample of larger tables)


def _json_value(v: Any) -> Any:
    """A category as a JSON value (None for missing)."""
    if isinstance(v, np.generic):  # numpy scalars from pandas
        v = v.item()
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


@dataclass
class DiscreteColumn:
    """One-hot of a discrete column: ``categories`` (most frequent first, None = missing)
    and their training frequencies."""

    column: Column
    categories: list[Any]
    freqs: list[float]

    @property
    def width(self) -> int:
        return len(self.categories)

    @classmethod
    def fit(cls, col: Column, series: Any) -> DiscreteColumn:
        counts = series.astype(object).where(series.notna(), None).value_counts(dropna=False)
        cats = [_json_value(v) for v in counts.index]
        n = float(counts.sum())
        return cls(col, cats, [float(c) / n for c in counts.to_numpy()])

    def indices(self, series: Any) -> np.ndarray:
        """Category index of every row (N,); a value not seen in training fails."""
        lookup = {("str", str(c)) if c is not None else ("na", ""): i
                  for i, c in enumerate(self.categories)}  # fmt: skip
        out = np.empty(len(series), dtype=np.int64)
        for i, v in enumerate(series.astype(object).tolist()):
            key = ("na", "") if _json_value(v) is None else ("str", str(_json_value(v)))
            if key not in lookup:
                raise TableError(
                    f"column {self.column.name!r}: value {v!r} was not in the training data "
                    f"(categories: {', '.join(map(str, self.categories[:10]))})"
                )
            out[i] = lookup[key]
        return out

    def encode(self, series: Any, rng: np.random.Generator) -> np.ndarray:
        return np.eye(self.width, dtype=np.float32)[self.indices(series)]

    def decode(self, block: np.ndarray) -> list[Any]:
        return [self.categories[i] for i in block.argmax(1)]

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column.to_dict(), "categories": self.categories, "freqs": self.freqs}


@dataclass
class ContinuousColumn:
    """Mode-specific normalisation of a continuous column.

    Attributes:
        means, stds: the GMM modes kept (in the column's units).
        weights: their mixture weights (renormalised over the modes kept).
        spikes: exact values with more than ``spike_frac`` of the column.
        has_missing: a last mode stands for missing values.
        lo, hi: the smallest and largest value seen (sampling redraws rows outside them;
            decode clips).
    """

    column: Column
    means: list[float]
    stds: list[float]
    weights: list[float]
    spikes: list[float]
    has_missing: bool
    lo: float
    hi: float
    resolution: float = (
        1.0  # datetimes: the coarsest unit (day ... ns) every value is a multiple of
    )

    @property
    def n_modes(self) -> int:
        return len(self.means) + len(self.spikes) + int(self.has_missing)

    @property
    def width(self) -> int:
        return 1 + self.n_modes

    @staticmethod
    def numbers(col: Column, series: Any) -> np.ndarray:
        """The column as float64 (datetimes as nanoseconds), NaN where missing."""
        import pandas as pd

        if col.logical == "datetime":
            s = pd.to_datetime(series)
            values = s.astype("int64").to_numpy().astype(np.float64)
            values[s.isna().to_numpy()] = np.nan
            return values
        return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()

    @classmethod
    def fit(
        cls,
        col: Column,
        series: Any,
        *,
        max_modes: int = MAX_MODES,
        spike_frac: float = SPIKE_FRAC,
        seed: int = 0,
    ) -> ContinuousColumn:
        x = cls.numbers(col, series)
        missing = np.isnan(x)
        v = x[~missing]
        uniq, counts = np.unique(v, return_counts=True)
        spikes = uniq[counts > spike_frac * len(v)]
        rest = v[~np.isin(v, spikes)]
        means: list[float] = []
        stds: list[float] = []
        weights: list[float] = []
        if len(rest):
            means, stds, weights = _fit_mixture(rest, max_modes, seed)
        return cls(col, means, stds, weights, [float(s) for s in spikes], bool(missing.any()),
                   float(v.min()), float(v.max()), _resolution(col, v))  # fmt: skip

    def _mode_of(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The mode index of every value (N,): spikes and missing are exact; other
        values draw a GMM mode from their posterior (the paper's sampling of beta)."""
        n_g, n_s = len(self.means), len(self.spikes)
        mode = np.full(len(x), -1, dtype=np.int64)
        missing = np.isnan(x)
        if self.has_missing:
            mode[missing] = n_g + n_s
        for j, s in enumerate(self.spikes):
            mode[x == s] = n_g + j
        todo = (mode < 0) & ~missing
        if todo.any():
            if not n_g:  # values between spikes with no mixture (rare: refit data)
                nearest = np.abs(x[todo, None] - np.asarray(self.spikes)[None]).argmin(1)
                mode[todo] = n_g + nearest
            else:
                mu, sd = np.asarray(self.means), np.asarray(self.stds)
                z = (x[todo, None] - mu[None]) / sd[None]
                logp = np.log(np.asarray(self.weights))[None] - np.log(sd)[None] - 0.5 * z * z
                p = np.exp(logp - logp.max(1, keepdims=True))
                p /= p.sum(1, keepdims=True)
                u = rng.random((len(p), 1))
                mode[todo] = np.minimum((p.cumsum(1) < u).sum(1), n_g - 1)
        if (mode < 0).any():
            raise TableError(f"column {self.column.name!r}: missing values not seen in training")
        return mode

    def encode(self, series: Any, rng: np.random.Generator) -> np.ndarray:
        x = self.numbers(self.column, series)
        mode = self._mode_of(x, rng)
        out = np.zeros((len(x), self.width), dtype=np.float32)
        out[np.arange(len(x)), 1 + mode] = 1.0
        n_g = len(self.means)
        g = mode < n_g
        if g.any():
            mu, sd = np.asarray(self.means)[mode[g]], np.asarray(self.stds)[mode[g]]
            out[g, 0] = np.clip((x[g] - mu) / (4 * sd), -0.99, 0.99)
        return out

    def decode(self, block: np.ndarray) -> np.ndarray:
        """Values (N,) float64, NaN for missing, clipped to [lo, hi], rounded for integers."""
        x = np.clip(self._unclipped(block), self.lo, self.hi)  # NaN stays NaN
        if self.column.logical in ("int", "datetime"):
            x = np.round(x / self.resolution) * self.resolution
        return x

    def in_range(self, block: np.ndarray) -> np.ndarray:
        """Whether each row's value (N,) lies in the training range [lo, hi] (missing
        counts as inside). Integers and dates get half a unit either side: they round."""
        x = self._unclipped(block)
        slack = self.resolution / 2 if self.column.logical in ("int", "datetime") else 0.0
        return np.isnan(x) | ((x >= self.lo - slack) & (x <= self.hi + slack))

    def _unclipped(self, block: np.ndarray) -> np.ndarray:
        """Values (N,) as G made them: NaN for missing, neither clipped nor rounded."""
        mode = block[:, 1:].argmax(1)
        alpha = np.clip(block[:, 0].astype(np.float64), -1.0, 1.0)
        n_g, n_s = len(self.means), len(self.spikes)
        x = np.full(len(block), np.nan)
        g = mode < n_g
        if g.any():
            x[g] = alpha[g] * 4 * np.asarray(self.stds)[mode[g]] + np.asarray(self.means)[mode[g]]
        s = (mode >= n_g) & (mode < n_g + n_s)
        if s.any():
            x[s] = np.asarray(self.spikes)[mode[s] - n_g]
        return x

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column.to_dict(), "means": self.means, "stds": self.stds,
            "weights": self.weights, "spikes": self.spikes, "has_missing": self.has_missing,
            "lo": self.lo, "hi": self.hi, "resolution": self.resolution,
        }  # fmt: skip


def _resolution(col: Column, v: np.ndarray) -> float:
    """Dates stored at midnight come back at midnight: the coarsest of day, hour, minute,
    second, ms, us that divides every value (ns otherwise; 1 for numbers)."""
    if col.logical != "datetime":
        return 1.0
    ns = v.astype(np.int64)
    for unit in (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3):
        if (ns % unit == 0).all():
            return float(unit)
    return 1.0


def _fit_mixture(v: np.ndarray, max_modes: int, seed: int) -> tuple[list, list, list]:
    """Variational (Dirichlet-process) Gaussian mixture on the values ``v`` (Xu et al.
    2019, section 4.2): modes with weight above :data:`WEIGHT_THRESHOLD`, in the values'
    units. Fitted on standardised values (datetimes in nanoseconds would break EM) and
    on at most :data:`FIT_ROWS` of them."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    rng = np.random.default_rng(seed)
    if len(v) > FIT_ROWS:
        v = rng.choice(v, FIT_ROWS, replace=False)
    center, scale = float(v.mean()), float(v.std())
    if scale == 0 or len(np.unique(v)) < 2:
        return [center], [max(abs(center) * 1e-6, 1e-6)], [1.0]
    z = ((v - center) / scale)[:, None]
    k = int(min(max_modes, len(np.unique(v))))
    gmm = BayesianGaussianMixture(
        n_components=k,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001,
        max_iter=100,
        n_init=1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm.fit(z)
    keep = gmm.weights_ > WEIGHT_THRESHOLD
    if not keep.any():
        keep = gmm.weights_ == gmm.weights_.max()
    w = gmm.weights_[keep]
    means = gmm.means_[keep, 0] * scale + center
    # a floor on the widths: a mode of near-equal values must not divide by ~0
    stds = np.maximum(np.sqrt(gmm.covariances_[keep].reshape(-1)) * scale, 1e-3 * scale)
    return [float(m) for m in means], [float(s) for s in stds], [float(x) for x in w / w.sum()]


@dataclass
class TableTransform:
    """The fitted transform of a whole table (see the module docstring)."""

    columns: list[DiscreteColumn | ContinuousColumn]

    @classmethod
    def fit(
        cls,
        df: Any,
        columns: list[Column],
        *,
        max_modes: int = MAX_MODES,
        spike_frac: float = SPIKE_FRAC,
        seed: int = 0,
    ) -> TableTransform:
        """Fit every column of DataFrame ``df`` as ``columns`` (from
        :func:`~ganforge.apps.tabular.columns.infer_columns`) say."""
        out: list[DiscreteColumn | ContinuousColumn] = []
        for i, col in enumerate(columns):
            s = df[col.name]
            if col.kind == "discrete":
                out.append(DiscreteColumn.fit(col, s))
            else:
                out.append(ContinuousColumn.fit(col, s, max_modes=max_modes,
                                                spike_frac=spike_frac, seed=seed + i))  # fmt: skip
        return cls(out)

    @property
    def width(self) -> int:
        return sum(c.width for c in self.columns)

    @property
    def names(self) -> list[str]:
        return [c.column.name for c in self.columns]

    @property
    def spans(self) -> list[tuple[int, int, str]]:
        """``(start, width, activation)`` of every output head, in order."""
        out, start = [], 0
        for c in self.columns:
            if isinstance(c, ContinuousColumn):
                out += [(start, 1, "tanh"), (start + 1, c.n_modes, "softmax")]
            else:
                out.append((start, c.width, "softmax"))
            start += c.width
        return out

    @property
    def discrete(self) -> list[tuple[int, DiscreteColumn]]:
        """``(start in the encoded row, column)`` of the discrete columns: the columns the
        conditional vector ranges over, in order."""
        out, start = [], 0
        for c in self.columns:
            if isinstance(c, DiscreteColumn):
                out.append((start, c))
            start += c.width
        return out

    def column(self, name: str) -> DiscreteColumn | ContinuousColumn:
        for c in self.columns:
            if c.column.name == name:
                return c
        import difflib

        close = difflib.get_close_matches(name, self.names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TableError(f"no column {name!r}{hint}; columns: {', '.join(self.names)}")

    def encode(self, df: Any, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(rows (N, width) float32, discrete category indices (N, n_discrete) int64)``.
        The mode of a continuous value is drawn from its posterior with ``seed``."""
        rng = np.random.default_rng(seed)
        missing = [n for n in self.names if n not in df.columns]
        if missing:
            raise TableError(f"the table lacks the columns {', '.join(missing)}")
        blocks = [c.encode(df[c.column.name], rng) for c in self.columns]
        idx = [c.indices(df[c.column.name]) for _, c in self.discrete]
        cats = np.stack(idx, 1) if idx else np.zeros((len(df), 0), dtype=np.int64)
        return np.concatenate(blocks, 1).astype(np.float32), cats

    def decode(self, rows: np.ndarray) -> Any:
        """A DataFrame with the source columns, dtypes and ranges from rows (N, width)."""
        import pandas as pd

        data, start = {}, 0
        for c in self.columns:
            block = rows[:, start : start + c.width]
            start += c.width
            values = c.decode(block)
            data[c.column.name] = _restore(c.column, values)
        return pd.DataFrame(data)

    def in_range(self, rows: np.ndarray) -> np.ndarray:
        """Rows (N, width) whose every continuous value lies in its training range (N,)."""
        ok, start = np.ones(len(rows), dtype=bool), 0
        for c in self.columns:
            if isinstance(c, ContinuousColumn):
                ok &= c.in_range(rows[:, start : start + c.width])
            start += c.width
        return ok

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableTransform:
        out: list[DiscreteColumn | ContinuousColumn] = []
        for c in d["columns"]:
            col = Column.from_dict(c["column"])
            if col.kind == "discrete":
                out.append(DiscreteColumn(col, list(c["categories"]), list(c["freqs"])))
            else:
                out.append(ContinuousColumn(
                    col, list(c["means"]), list(c["stds"]), list(c["weights"]),
                    list(c["spikes"]), bool(c["has_missing"]), float(c["lo"]), float(c["hi"]),
                    float(c.get("resolution", 1.0)),
                ))  # fmt: skip
        return cls(out)


def _restore(col: Column, values: Any) -> Any:
    """A pandas Series of ``values`` (decoded) in the column's source dtype; integer and
    boolean columns with missing values become pandas' nullable ``Int64``/``boolean``."""
    import pandas as pd

    if col.logical == "datetime":
        arr = np.asarray(values, dtype=np.float64)
        out = pd.Series(pd.to_datetime(np.where(np.isnan(arr), np.nan, arr), unit="ns"))
        try:
            return out.astype(col.dtype)
        except (TypeError, ValueError):
            return out
    if isinstance(values, np.ndarray):
        s = pd.Series(values)
    else:
        s = pd.Series(values, dtype=object)
    has_na = bool(s.isna().any())
    try:
        if col.dtype.startswith(("int", "uint")) and has_na:
            return s.astype("Int64")
        if col.dtype == "bool" and has_na:
            return s.astype("boolean")
        if col.logical == "int" and col.dtype.startswith("float"):
            return s.astype("float64")
        return s.astype(col.dtype)
    except (TypeError, ValueError):
        return s
