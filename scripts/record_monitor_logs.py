"""Train presets end to end and keep what the training monitor reads from their logs
(d_acc_real, d_acc_fake, ada_rt and the monitor's sample variety) as the replay fixtures
of tests/test_monitor.py: the healthy presets must never trip the monitor, the tutorial MLP
GAN must.

    python scripts/record_monitor_logs.py --presets dcgan-mnist gan-ring8 mlp-mnist-tutorial
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

KEEP = ("step", "event", "d_acc_real", "d_acc_fake", "ada_rt", "sample_diversity", "kind")
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "monitor"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for preset in args.presets:
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / preset
            cmd = [sys.executable, "-m", "ganforge", "train", preset, "--out", str(run),
                   "--no-progress", "--set", f"threads={args.threads}",
                   "--set", "eval.every=0", "--set", "log.report=false"]  # fmt: skip
            subprocess.run(cmd, check=True)
            rows = []
            for line in (run / "metrics.jsonl").read_text().splitlines():
                rec = json.loads(line)
                if rec.get("event") not in (None, "monitor", "warning"):
                    continue
                rows.append({k: rec[k] for k in KEEP if k in rec})
        (OUT / f"{preset}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        warned = [r["kind"] for r in rows if r.get("event") == "warning"]
        print(f"{preset}: {len(rows)} records, warnings: {warned or 'none'}", flush=True)


if __name__ == "__main__":
    main()
