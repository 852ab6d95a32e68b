"""Tables: a conditional tabular GAN (CTGAN, Xu et al., NeurIPS 2019) on the shared engine.

    from ganforge.apps.tabular import TabularGAN
    gan = TabularGAN(epochs=300).fit(df)                 # pandas DataFrame
    synth = gan.sample(1000, conditions={"sex": "Male", "age>": 40})

Modules, one job each: :mod:`.columns` (which columns are discrete/continuous),
:mod:`.transform` (mode-specific normalisation, one-hot, back to the source dtypes),
:mod:`.models` (residual G, packed critic), :mod:`.sampler` (conditional vector,
training-by-sampling), :mod:`.objective` (the ``tabular`` objective of the engine),
:mod:`.run` (trainer, loading a run), :mod:`.conditions` (exact conditional sampling),
:mod:`.frame` (:class:`TabularGAN`), :mod:`.metrics` (quality, ML efficacy, privacy),
:mod:`.datasets` (built-in tables), :mod:`.tableio` (CSV/Parquet). Command line:
``ganforge train tabular --data table.csv``, ``ganforge sample RUN --out synth.csv``,
``ganforge eval RUN``.

Importing this package needs neither pandas nor scikit-learn (the engine imports the
objective to resume runs); the names below load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "TabularGAN": "ganforge.apps.tabular.frame",
    "tabular_config": "ganforge.apps.tabular.frame",
    "TabularModel": "ganforge.apps.tabular.run",
    "load_tabular": "ganforge.apps.tabular.run",
    "tabular_trainer": "ganforge.apps.tabular.run",
    "infer_columns": "ganforge.apps.tabular.columns",
    "TableError": "ganforge.apps.tabular.columns",
    "TableTransform": "ganforge.apps.tabular.transform",
    "read_table": "ganforge.apps.tabular.tableio",
    "write_table": "ganforge.apps.tabular.tableio",
    "TABLES": "ganforge.apps.tabular.datasets",
    "table_split": "ganforge.apps.tabular.datasets",
    "evaluate_table": "ganforge.apps.tabular.metrics",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ganforge.apps.tabular' has no attribute {name!r}")


__all__ = sorted(_LAZY)
