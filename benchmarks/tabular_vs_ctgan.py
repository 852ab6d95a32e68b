"""ganforge's tabular GAN against the ``ctgan`` package, on the built-in mixed tables.

    PYTHONPATH=src nice -n 5 python benchmarks/tabular_vs_ctgan.py \\
        --ctgan-python /work/venv-ctgan/bin/python --seeds 0,1,2,3,4 --steps 300 \\
        --ganforge-steps 500

``ctgan`` trains with the paper's settings (batch 500, pac 10, Adam 2e-4 / betas 0.5, 0.9,
weight decay 1e-6, G and D 256x256) for ``--steps`` optimizer steps on each table's fixed
training split: it runs ``max(rows // 500, 1)`` steps per epoch, so it gets
``ceil(steps / steps_per_epoch)`` epochs. ganforge trains at its ``tabular`` preset (batch
100, G_ema, one CPU thread) for ``--ganforge-steps`` steps (default: ctgan's step count),
and optionally also for ``--also-steps``. ``ctgan`` runs at its defaults (torch's
thread pool) and, for a like-for-like time, with one thread too, in its
own interpreter (``--ctgan-python``, a venv with ``ctgan==0.12.1``) through a subprocess;
its fit time is measured inside that process (runs cached in ``--cache``).
Both are told the same discrete columns (ganforge's inference) and get the rows without
missing values (``ctgan`` refuses missing values in continuous columns). Each fitted model
samples as many rows as the training split; both are scored by
:func:`ganforge.apps.tabular.metrics.evaluate_table` against the held-out split. The
table printed holds medians over the seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CTGAN_SCRIPT = r"""
import json, sys, time
import pandas as pd
import torch
from ctgan import CTGAN
args = json.loads(sys.argv[1])
torch.manual_seed(args["seed"])
if args["threads"]:
    torch.set_num_threads(args["threads"])
df = pd.read_parquet(args["train"])
t = time.perf_counter()
model = CTGAN(epochs=args["epochs"], batch_size=500, pac=10, verbose=False, enable_gpu=False)
model.set_random_state(args["seed"])
model.fit(df, discrete_columns=args["discrete"])
fit_s = time.perf_counter() - t
model.sample(args["n"]).to_parquet(args["out"], index=False)
print(json.dumps({"fit_s": fit_s, "epochs": args["epochs"]}))
"""


# ganforge at its preset (one thread); ctgan at its defaults (torch's threads: one per
# core) and with one thread like ganforge's preset.
SYSTEMS = ("ganforge", "ctgan", "ctgan (1 thread)")


def run_ctgan(
    python: str, train, discrete, epochs: int, seed: int, tmp: Path, threads: int, cache: Path
) -> tuple:
    """ctgan's synthetic rows and fit seconds (cached by table size, epochs, seed, threads:
    they do not depend on ganforge's code)."""
    import pandas as pd

    key = cache / f"ctgan-{len(train)}x{train.shape[1]}-e{epochs}-s{seed}-t{threads}"
    if (key.with_suffix(".parquet")).is_file():
        info = json.loads(key.with_suffix(".json").read_text())
        return pd.read_parquet(key.with_suffix(".parquet")), info["fit_s"]

    src, out = tmp / "train.parquet", tmp / "ctgan.parquet"
    train.to_parquet(src, index=False)
    args = {"train": str(src), "out": str(out), "discrete": discrete, "epochs": epochs,
            "seed": seed, "n": len(train), "threads": threads}  # fmt: skip
    res = subprocess.run([python, "-c", CTGAN_SCRIPT, json.dumps(args)], capture_output=True,
                         text=True, check=False)  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(f"ctgan failed:\n{res.stderr[-2000:]}")
    info = json.loads(res.stdout.strip().splitlines()[-1])
    cache.mkdir(parents=True, exist_ok=True)
    key.with_suffix(".json").write_text(json.dumps(info))
    synth = pd.read_parquet(out)
    synth.to_parquet(key.with_suffix(".parquet"), index=False)
    return synth, info["fit_s"]


def run_ganforge(train, steps: int, seed: int, tmp: Path, settings: dict | None = None) -> tuple:
    import sklearn.mixture  # noqa: F401  (imported before the clock, as ctgan's script does)

    from ganforge.apps.tabular import TabularGAN

    t = time.perf_counter()
    gan = TabularGAN(steps=steps, seed=seed, settings=settings)
    gan.fit(train, out=tmp / "ganforge")
    fit_s = time.perf_counter() - t
    return gan.sample(len(train), seed=seed), fit_s


def _setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as ``--set`` reads it (TOML, else a bare string)."""
    from ganforge.core.config import parse_cli_value

    key, _, value = text.partition("=")
    return key, parse_cli_value(value)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tables", default="penguins,anes96,fair")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--steps", type=int, default=150, help="optimizer steps per table")
    p.add_argument("--ctgan-python", default="/work/venv-ctgan/bin/python")
    p.add_argument(
        "--ganforge-steps", type=int, help="ganforge's steps per table (default: --steps)"
    )
    p.add_argument("--also-steps", type=int, help="also run ganforge at this many steps")
    p.add_argument(
        "--one-thread-only",
        action="store_true",
        help="skip ctgan at its default threads (slow on a busy box); with a fresh --cache "
        "it re-times ctgan's one-thread runs beside ganforge's, under the same load",
    )
    p.add_argument(
        "--ganforge-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of ganforge's tabular config for its runs (repeatable), e.g. "
        "precision=bf16 or threads=0",
    )
    p.add_argument("--json", help="also write every run's numbers here")
    p.add_argument("--cache", default="/tmp/ganforge-tabular-vs-ctgan", help="ctgan runs kept here")
    a = p.parse_args()

    from ganforge.apps.tabular.columns import infer_columns
    from ganforge.apps.tabular.datasets import table_split
    from ganforge.apps.tabular.metrics import evaluate_table

    keys = ["column_shapes", "pair_trends", "ml_synth", "ml_real", "dcr_closer_to_train",
            "fit_s"]  # fmt: skip
    systems = [s for s in SYSTEMS if not (a.one_thread_only and s == "ctgan")]
    if a.also_steps:
        systems.insert(1, f"ganforge ({a.also_steps} steps)")
    settings = dict(_setting(kv) for kv in a.ganforge_set)
    runs = []
    for name in a.tables.split(","):
        train, test, ts = table_split(name)
        # ctgan refuses missing values in continuous columns: both get complete rows
        train, test = train.dropna().reset_index(drop=True), test.dropna().reset_index(drop=True)
        cols = infer_columns(train)
        discrete = [c.name for c in cols if c.kind == "discrete"]
        per_epoch = max(len(train) // 500, 1)
        epochs = math.ceil(a.steps / per_epoch)
        steps = epochs * per_epoch
        g_steps = a.ganforge_steps or steps
        for seed in (int(s) for s in a.seeds.split(",")):
            for system in systems:
                with tempfile.TemporaryDirectory() as d:
                    if system.startswith("ctgan"):
                        threads = 1 if "1 thread" in system else 0
                        synth, fit_s = run_ctgan(a.ctgan_python, train, discrete, epochs, seed,
                                                 Path(d), threads, Path(a.cache))  # fmt: skip
                    elif system == "ganforge":
                        synth, fit_s = run_ganforge(train, g_steps, seed, Path(d), settings)
                    else:
                        synth, fit_s = run_ganforge(train, a.also_steps, seed, Path(d), settings)
                res = evaluate_table(train, synth, test=test, target=ts.target, task=ts.task,
                                     columns=cols, seed=0)  # fmt: skip
                n_steps = (a.also_steps if system.startswith("ganforge (")
                           else g_steps if system == "ganforge" else steps)  # fmt: skip
                rec = {"table": name, "system": system, "seed": seed, "steps": n_steps,
                       "fit_s": fit_s, **{k: res[k] for k in keys if k in res}}  # fmt: skip
                runs.append(rec)
                print(json.dumps(rec), file=sys.stderr, flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(runs, indent=1))
    print(f"\nmedians over seeds {a.seeds}; ctgan: {a.steps} optimizer steps per table "
          "(batch 500); ganforge: its preset's batch\n")  # fmt: skip
    print("| table | system | column shapes | pair trends | ML efficacy (synth / real) | "
          "DCR closer to train | fit time (s) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name in a.tables.split(","):
        for system in systems:
            rs = [r for r in runs if r["table"] == name and r["system"] == system]

            def med(k: str, rs: list = rs) -> float:
                return statistics.median(r[k] for r in rs)

            label = system if "steps" in system else f"{system} ({rs[0]['steps']} steps)"
            print(f"| {name} | {label} | {med('column_shapes'):.3f} | "
                  f"{med('pair_trends'):.3f} | {med('ml_synth'):.3f} / {med('ml_real'):.3f} | "
                  f"{med('dcr_closer_to_train'):.3f} | {med('fit_s'):.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
