"""pandas in, pandas out: ``TabularGAN().fit(df).sample(1000, conditions={...})``.

A thin front to the engine: :meth:`TabularGAN.fit` builds the ``tabular`` preset's
configuration with the caller's settings, trains it through
:func:`~ganforge.apps.tabular.run.tabular_trainer` into a run folder (a temporary one
unless ``out`` is given) and keeps the trained model; :meth:`TabularGAN.load` opens any
tabular run folder, including one trained with ``ganforge train tabular``.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganforge.apps.tabular.columns import TableError
from ganforge.apps.tabular.run import TabularModel, load_tabular, tabular_trainer
from ganforge.apps.tabular.tableio import require_pandas
from ganforge.core.config import TrainConfig, apply_override


def tabular_config(**overrides: Any) -> TrainConfig:
    """The ``tabular`` preset with ``key=value`` overrides (``"optim.lr_g": 1e-4``)."""
    from ganforge.core.presets import load_preset_or_file

    _, cfg = load_preset_or_file("tabular")
    for key, value in overrides.items():
        cfg = apply_override(cfg, f"{key}={value!r}" if isinstance(value, str) else
                             f"{key}={_toml(value)}")  # fmt: skip
    return cfg


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, str):
        return repr(v)
    return str(v)


class TabularGAN:
    """CTGAN on a DataFrame (Xu et al., NeurIPS 2019), trained by ganforge's engine.

    Args:
        epochs: passes over the table (steps = epochs x rows / batch_size, at least 1);
            ignored when ``steps`` is given.
        steps: training steps.
        batch_size: rows per step (a multiple of ``pac``; 500 in the paper; None: the
            ``tabular`` preset's 100, or ``settings["batch_size"]`` — more, cheaper steps
            for the same time; BENCHMARKS.md).
        discrete, continuous: columns forced to that kind (else inferred from dtypes).
        seed: the run's seed.
        device: ``cpu``, ``cuda`` ... (``auto``: a GPU when there is one).
        pac: rows the critic judges at once (None: the preset's 10, the paper's, or
            ``settings["tricks.pac"]``).
        **settings: other configuration keys, e.g. ``{"optim.lr_g": 1e-4}`` as
            ``settings={"optim.lr_g": 1e-4}``.
    """

    def __init__(
        self,
        *,
        epochs: int = 300,
        steps: int | None = None,
        batch_size: int | None = None,
        discrete: Sequence[str] = (),
        continuous: Sequence[str] = (),
        seed: int = 0,
        device: str = "cpu",
        pac: int | None = None,
        settings: dict[str, Any] | None = None,
        progress: bool = False,
    ) -> None:
        self.epochs, self.steps, self.batch_size = epochs, steps, batch_size
        self.discrete, self.continuous = list(discrete), list(continuous)
        self.seed, self.device, self.pac = seed, device, pac
        self.settings = dict(settings or {})
        self.progress = progress
        self.model: TabularModel | None = None
        self.run_dir: Path | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    def config(self, n_rows: int) -> TrainConfig:
        cfg = tabular_config(**self.settings)
        batch_size = cfg.batch_size if self.batch_size is None else self.batch_size
        pac = cfg.tricks.pac if self.pac is None else self.pac
        steps = self.steps
        if steps is None:
            steps = max(1, math.ceil(self.epochs * n_rows / batch_size))
        args = dict(cfg.objective.args)
        if self.discrete:
            args["discrete"] = list(self.discrete)
        if self.continuous:
            args["continuous"] = list(self.continuous)
        return dataclasses.replace(
            cfg,
            steps=steps,
            batch_size=batch_size,
            seed=self.seed,
            device=self.device,
            data=dataclasses.replace(cfg.data, spec="DataFrame"),
            objective=dataclasses.replace(cfg.objective, args=args),
            tricks=dataclasses.replace(cfg.tricks, pac=pac),
            log=dataclasses.replace(cfg.log, progress=self.progress),
        )

    def fit(self, df: Any, out: str | Path | None = None) -> TabularGAN:
        """Train on DataFrame ``df`` into run folder ``out`` (a temporary folder, removed
        with this object, when None); returns ``self``."""
        pd = require_pandas()
        if not isinstance(df, pd.DataFrame):
            raise TableError(f"fit expects a pandas DataFrame, got {type(df).__name__}")
        if out is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ganforge-tabular-")
            out = self._tmp.name
        trainer = tabular_trainer(self.config(len(df)), out, frame=df)
        trainer.run()
        self.run_dir = Path(out)
        self.model = load_tabular(out, device="cpu")
        return self

    @classmethod
    def load(cls, run: str | Path) -> TabularGAN:
        """A trained tabular run folder, ready to :meth:`sample`."""
        gan = cls()
        gan.model = load_tabular(run)
        gan.run_dir = Path(run)
        return gan

    def sample(self, n: int, conditions: Any = None, *, seed: int = 0) -> Any:
        """``n`` synthetic rows; with ``conditions`` (``{"sex": "Male", "age>": 40}``)
        exactly ``n`` rows meeting all of them (see :meth:`TabularModel.sample`)."""
        if self.model is None:
            raise TableError("this TabularGAN is not trained: call fit(df) or load(run) first")
        return self.model.sample(n, conditions, seed=seed)
