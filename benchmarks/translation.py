"""Translation quality on the synthetic mnist5k tasks, against the true mapping.

    python benchmarks/translation.py                       # all four runs, CPU
    python benchmarks/translation.py --method pix2pix --task mnist-edges --steps 1500

Trains pix2pix (paired) and CycleGAN (unpaired: B shuffled independently of A) on
``mnist-edges`` and ``mnist-color`` and measures, on the 500 held-out digits (last 50 of
each class), the mean absolute error in [0, 1] pixel units and the mean per-image PSNR
against the known true translation. Trivial baselines give the scale:

* identity: the input itself (grey replicated to RGB for mnist-color);
* blank: an all-black image (mnist-edges; most pixels are background);
* shape, mean colour (mnist-color): the true shape painted in the mean of the ten class
  colours — what a model gets if it copies the digit perfectly but cannot tell digits apart.

Prints a Markdown table (docs/translation.md holds its output) and, with ``--json``, writes
the numbers.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ganforge.apps.translation.data import DIGIT_COLORS, synthetic_task
from ganforge.apps.translation.train import (
    TranslationConfig,
    evaluate_translation,
    train_translation,
)


def baselines(task: str) -> dict[str, dict[str, float]]:
    data = synthetic_task(task)
    a, b = data.a_test, data.b_test
    assert a is not None and b is not None
    c_b = b.shape[1]
    rows = {
        "identity (input as output)": evaluate_translation(
            lambda x: x.expand(-1, c_b, -1, -1), a, b
        )
    }
    if task == "mnist-edges":
        rows["blank (all black)"] = evaluate_translation(lambda x: torch.full_like(x, -1.0), a, b)
    else:
        mean_c = DIGIT_COLORS.mean(0)[None, :, None, None]
        rows["true shape, mean colour"] = evaluate_translation(
            lambda x: ((x + 1) / 2 * mean_c) * 2 - 1, a, b
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--method", choices=["pix2pix", "cyclegan"], action="append")
    p.add_argument("--task", choices=["mnist-edges", "mnist-color"], action="append")
    p.add_argument("--steps", type=int, help="steps per run (default 1000 pix2pix, 600 CycleGAN)")
    p.add_argument("--batch-size", type=int, help="default 16 pix2pix, 8 CycleGAN")
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a busy box)"
    )
    p.add_argument("--out", default="runs/bench-translation")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--no-baselines", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    methods = args.method or ["pix2pix", "cyclegan"]
    tasks = args.task or ["mnist-edges", "mnist-color"]
    results = []
    for task in tasks:
        if not args.no_baselines:
            for name, ev in baselines(task).items():
                results.append({"task": task, "method": name, "steps": 0, **ev})
        for method in methods:
            steps = args.steps or (1000 if method == "pix2pix" else 600)
            bs = args.batch_size or (16 if method == "pix2pix" else 8)
            cfg = TranslationConfig(
                method=method, data=task, steps=steps, batch_size=bs,
                progress=False, sample_every=max(1, steps // 4), ckpt_every=steps,
            )  # fmt: skip
            out = Path(args.out) / f"{method}-{task}"
            if out.exists():  # a fresh run each time
                import shutil

                shutil.rmtree(out)
            t0, c0 = time.perf_counter(), time.process_time()
            rec = train_translation(cfg, out)
            secs = time.perf_counter() - t0
            results.append(
                {
                    "task": task,
                    "method": method,
                    "steps": steps,
                    "batch": bs,
                    "seconds": round(secs, 1),
                    "cpu_seconds": round(time.process_time() - c0, 1),
                    **rec["eval"],
                }
            )
            print(f"# {method} {task}: {rec['eval']} in {secs:.0f} s", flush=True)
    print("\n| task | method | steps | L1 [0,1] | PSNR dB | batch | wall s | CPU s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['task']} | {r['method']} | {r['steps'] or '-'} | {r['l1']:.4f} | "
            f"{r['psnr']:.2f} | {r.get('batch', '-')} | {r.get('seconds', '-')} | "
            f"{r.get('cpu_seconds', '-')} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
