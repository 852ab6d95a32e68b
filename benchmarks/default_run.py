"""The default training run as a user meets it: ``ganforge train PRESET --seed S`` in a
fresh process, wall time from start to exit (imports, data, training, samples, checkpoints,
the final evaluation, the report), and the run's own end-of-run evaluation read back from
its ``metrics.jsonl``.

    python benchmarks/default_run.py                          # the default preset, seeds 0-2
    python benchmarks/default_run.py --presets dcgan-mnist,mnist --seeds 0,1,2

Prints one row per run and a summary per preset (median time, worst metric over seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ganforge.core.presets import DEFAULT_PRESET


def run_once(preset: str, seed: int, extra: list[str]) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory(prefix="ganforge-default-") as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "ganforge", "train", preset, "--seed", str(seed),
               "--out", str(out), "--no-progress", *extra]  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())
        seconds = time.perf_counter() - t0
        evals = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
                 if r.get("event") == "eval"]  # fmt: skip
    return seconds, (evals[-1] if evals else {})


def _fid(ev: dict) -> float:
    return float(ev.get("fid5k_lenet", float("nan")))


def _find(ev: dict, suffix: str) -> float:
    """The class-coverage number whose key ends with ``suffix`` (nan if none)."""
    return next((float(v) for k, v in ev.items() if k.endswith(suffix)), float("nan"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default=DEFAULT_PRESET)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    extra = [a for s in args.set for a in ("--set", s)]
    print("| preset | seed | wall s | fid5k_lenet | digits | KL to uniform |")
    print("|---|---|---|---|---|---|")
    for preset in args.presets.split(","):
        rows = []
        for seed in map(int, args.seeds.split(",")):
            s, ev = run_once(preset, seed, extra)
            rows.append((s, ev))
            print(f"| {preset} | {seed} | {s:.0f} | {_fid(ev):.2f} | {_find(ev, 'modes_captured')}"
                  f" | {_find(ev, '_kl'):.4f} |", flush=True)  # fmt: skip
        fids = [_fid(ev) for _, ev in rows]
        kls = [_find(ev, "_kl") for _, ev in rows]
        print(f"| **{preset}: median time / worst** | | {statistics.median(s for s, _ in rows):.0f}"
              f" | {max(fids):.2f} | | {max(kls):.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
