"""``ganforge eval``: score a run, checkpoint, folder or array under named protocols.

    ganforge eval runs/mnist --metrics fid,kid,pr,dc --json
    ganforge eval runs/gan-ring8 --metrics modes2d
    ganforge eval runs/tabular-penguins                 tables: shapes, pairs, ML efficacy, DCR
    ganforge eval runs/tabular-mine --real test.csv --target income
    ganforge eval --real data/faces --fake samples/ --metrics fid --n 2000
    ganforge eval --real data/faces --fake samples/ --metrics fid2k_inception_pytorchfid

Inception metrics fetch pytorch-fid's FID Inception weights once into the user cache
($GANFORGE_CACHE, default ~/.cache/ganforge; sha256-checked); offline
(GANFORGE_OFFLINE=1), pass --inception-weights pt_inception-2015-12-05-6726825d.pth.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    e = sub.add_parser(
        "eval",
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument(
        "source",
        nargs="?",
        help="run folder, checkpoint file, zoo:NAME, folder of images, array file or data name",
    )
    e.add_argument("--fake", help="generated data (folder/array/data name) instead of SOURCE")
    e.add_argument(
        "--real",
        help="reference data spec (default: the run's data); built-in name, folder, array",
    )
    e.add_argument(
        "--metrics",
        help="comma-separated protocols or aliases: fid,kid,is,pr,dc,classes,modes2d or "
        "fid5k_lenet, kid10k_inception ... (default: chosen for the data)",
    )
    e.add_argument("--n", type=int, help="generated samples for the aliases (default 5000)")
    e.add_argument(
        "--target",
        metavar="COLUMN",
        help="tables: the column ML efficacy predicts (default: a built-in table's own)",
    )
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument(
        "--inception-weights",
        metavar="PATH",
        help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth (default: "
        "$GANFORGE_INCEPTION_WEIGHTS, else the cache, else fetched once into the cache)",
    )
    e.add_argument("--seed", type=int, default=0, help="latents / subset seed (default 0)")
    e.add_argument("--batch-size", type=int, default=250)
    e.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (default cpu)")
    e.add_argument("--no-cache", action="store_true", help="do not read/write cached real features")
    e.add_argument("--no-progress", action="store_true", help="hide progress bars")
    e.add_argument(
        "--sampler",
        choices=["run", "g"],
        default="run",
        help="run: the run's [sample] policy (rejection/Langevin where it names one, as "
        "its metrics.jsonl was measured); g: the generator alone (default run)",
    )
    e.set_defaults(func=run)
    return e


def _fmt(v: float) -> str:
    if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
        return str(v)
    if isinstance(v, float) and v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.4e}"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _print_values(res: dict, *, as_json: bool) -> bool:
    """Print the scores (all of ``res`` as JSON with ``as_json``); True when done."""
    if as_json:
        print(json.dumps(res))
        return True
    values = {k: v for k, v in res.items() if k != "protocol"}
    width = max(len(k) for k in values)
    for k, v in values.items():
        print(f"{k.ljust(width)}  {_fmt(v)}")
    return False


def _is_tabular(source: str) -> bool:
    from ganforge.apps.tabular.objective import is_tabular_run

    return not source.startswith("zoo:") and is_tabular_run(source)


def _eval_table(args: argparse.Namespace) -> int:
    """``ganforge eval`` of a tabular run: quality, ML efficacy and privacy
    (:mod:`ganforge.apps.tabular.metrics`); ``--real`` is a held-out table file."""
    from ganforge.apps.tabular.run import evaluate_run
    from ganforge.apps.tabular.tableio import read_table

    test = read_table(args.real) if args.real else None
    res = evaluate_run(args.source, test=test, target=args.target, n=args.n, seed=args.seed)
    if _print_values(res, as_json=args.json):
        return 0
    proto = res["protocol"]
    print("\n" + ", ".join(f"{k}: {v}" for k, v in proto.items()))
    if not proto["n_test"]:
        print("note: no held-out rows: pass --real TEST.csv for ML efficacy and DCR privacy")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``ganforge eval``; prints a table (or JSON with ``--json``); returns 0."""
    from ganforge.metrics.evaluate import evaluate

    if args.source and _is_tabular(args.source):
        return _eval_table(args)
    if args.source and args.fake:
        raise ValueError("give SOURCE or --fake, not both")
    source = args.source or args.fake
    if not source:
        raise ValueError(
            "nothing to evaluate: give a run folder/checkpoint, or --fake PATH --real PATH"
        )
    is_path = len(Path(source).parts) > 1  # a bare name may be a built-in data set
    if is_path and not source.startswith("zoo:") and not Path(source).exists():
        raise ValueError(
            f"{source}: no such run folder, checkpoint or file. Train it first (a run folder "
            "is what `ganforge train` writes, e.g. runs/mnist) or check the path"
        )
    res = evaluate(
        source,
        metrics=args.metrics,
        n=args.n,
        real=args.real,
        inception_weights=args.inception_weights,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.no_progress and not args.json,
        use_cache=not args.no_cache,
        sampler=args.sampler,
    )
    if _print_values(res, as_json=args.json):
        return 0
    proto = res["protocol"]
    real = proto["real"]
    real_s = real["spec"] if isinstance(real, dict) else real
    sampler = proto.get("sampler") or {}
    drawn = ", ".join(f"{k}={v}" for k, v in sampler.items() if k != "note") or "data"
    print(f"\nsource: {proto['source']}   sampler: {drawn}   real: {real_s}")
    print(f"seed: {proto['seed']}")
    if sampler.get("note"):
        print(f"note: {sampler['note']}")
    for name, info in proto["metrics"].items():
        parts = [f"{k}={v}" for k, v in info.items() if k not in ("kind",)]
        print(f"  {name}: " + ", ".join(parts))
    return 0
