"""Draw a tabular run's synthetic table against the real one (docs/tabular.md):
per-column histograms (real vs synthetic) and correlation matrices side by side.

    ganforge train tabular --data penguins --out runs/tabular-penguins
    python scripts/draw_tabular.py runs/tabular-penguins --out docs/img/tabular-penguins

writes ``OUT-columns.png`` and ``OUT-correlations.png``. Continuous columns are
histograms on the real column's range; discrete ones are bars of category shares
(missing values a category of their own). The correlation matrices are Pearson's on the
continuous columns with each discrete column's categories as indicator columns.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ganforge.apps.tabular.run import load_tabular, training_table  # noqa: E402


def _numbers(s: Any) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.astype("int64").where(s.notna()).astype(float).to_numpy()
    return pd.to_numeric(s, errors="coerce").astype(float).to_numpy()


def draw_columns(real: Any, synth: Any, columns: list, out: Path) -> None:
    n = len(columns)
    ncol = min(4, n)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.4 * nrow), squeeze=False)
    for ax, col in zip(axes.flat, columns, strict=False):
        name = col.name
        if col.kind == "continuous":
            r, s = _numbers(real[name]), _numbers(synth[name])
            r, s = r[~np.isnan(r)], s[~np.isnan(s)]
            bins = np.histogram_bin_edges(r, bins=30)
            ax.hist(r, bins=bins, density=True, alpha=0.5, label="real", color="C0")
            ax.hist(s, bins=bins, density=True, alpha=0.5, label="synthetic", color="C1")
        else:
            rf = real[name].astype(str).value_counts(normalize=True)
            sf = synth[name].astype(str).value_counts(normalize=True).reindex(rf.index).fillna(0)
            x = np.arange(len(rf))
            ax.bar(x - 0.2, rf.to_numpy(), 0.4, label="real", color="C0")
            ax.bar(x + 0.2, sf.to_numpy(), 0.4, label="synthetic", color="C1")
            ax.set_xticks(x, [str(v)[:10] for v in rf.index], rotation=45, ha="right", fontsize=7)
        ax.set_title(f"{name} ({col.kind})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def _matrix(df: Any, columns: list) -> Any:
    import pandas as pd

    parts = {}
    for col in columns:
        if col.kind == "continuous":
            parts[col.name] = _numbers(df[col.name])
        else:
            for v in df[col.name].astype(str).unique()[:6]:
                parts[f"{col.name}={v}"[:18]] = (df[col.name].astype(str) == v).astype(float)
    return pd.DataFrame(parts)


def draw_correlations(real: Any, synth: Any, columns: list, out: Path) -> None:
    mr = _matrix(real, columns)
    ms = _matrix(synth, columns).reindex(columns=mr.columns).fillna(0)
    cr, cs = mr.corr().fillna(0), ms.corr().fillna(0)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6), gridspec_kw={"wspace": 0.5})
    for ax, c, title in ((axes[0], cr, "real"), (axes[1], cs, "synthetic")):
        im = ax.imshow(c.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(c)), c.columns, rotation=90, fontsize=6)
        ax.set_yticks(range(len(c)), c.columns, fontsize=6)
        ax.set_title(f"{title}: Pearson correlations", fontsize=10)
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("run", help="a tabular run folder")
    ap.add_argument("--out", required=True, help="file prefix: OUT-columns.png, ...")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    model = load_tabular(args.run)
    real, _, _, _ = training_table(model)
    synth = model.sample(len(real), seed=args.seed)
    columns = [c.column for c in model.transform.columns]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_columns(real, synth, columns, Path(f"{out}-columns.png"))
    draw_correlations(real, synth, columns, Path(f"{out}-correlations.png"))
    print(f"wrote {out}-columns.png and {out}-correlations.png")


if __name__ == "__main__":
    main()
