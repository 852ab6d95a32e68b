"""InfoGAN's unsupervised digit classification on mnist5k, over several seeds.

Protocol (Chen et al. 2016, section 7.1 — the paper reports ~5% error on full MNIST):
train the ``infogan-mnist`` preset; for each value of the 10-way categorical code
``cat0`` generate ``--n-per-value`` digits from G_ema with the rest of the latent random;
label them with a classifier; map code values to digits one-to-one by the Hungarian
method (``scipy.optimize.linear_sum_assignment`` on the confusion counts); the accuracy
is the share of generated digits the classifier puts in their value's digit.

Classifier: the shipped LeNet (``ganforge.metrics.lenet``) when its weights are
installed; otherwise a SmallCNN trained here on mnist5k with 1,000 held-out digits (its
held-out accuracy is printed, it bounds the measurable accuracy).

Writes traversal grids of the first seed to ``docs/img/infogan_{cat0,cont0,cont1}.png``
(rows: one draw of noise and other codes; columns: the code's values) and prints a
Markdown table for BENCHMARKS.md.

    python benchmarks/infogan_accuracy.py --seeds 0 1 2            # ~minutes per seed
    python benchmarks/infogan_accuracy.py --seeds 0 --steps 500 --threads 1

On a machine shared by several jobs, ``--threads 1`` is often much faster than 2
(PyTorch's OpenMP threads spin while waiting for a busy core).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

import ganforge.models.infogan  # noqa: F401  (registers the infogan model)
from ganforge.core.imaging import save_grid
from ganforge.core.presets import load_preset_or_file
from ganforge.data import load_data
from ganforge.metrics.codes import categorical_code_accuracy
from ganforge.sampling.controls import traversal_columns, traverse

ROOT = Path(__file__).resolve().parent.parent


def get_classifier(seed: int = 0) -> tuple[torch.nn.Module, str]:
    """The shipped LeNet, or a SmallCNN trained on mnist5k (1,000 digits held out)."""
    try:
        from ganforge.metrics.lenet import lenet_metadata, load_lenet

        model = load_lenet()
        meta = lenet_metadata()
        acc = meta.get("holdout_accuracy", "?")
        return model, f"shipped LeNet (held-out accuracy {acc})"
    except (ImportError, FileNotFoundError, ValueError):
        pass
    from ganforge.apps.adversarial.classifier import SmallCNN, train_classifier
    from ganforge.core.config import DataConfig

    data = load_data(DataConfig(spec="mnist5k"))
    torch.manual_seed(seed)
    model = SmallCNN(1, 10, width=16, img_size=28, hidden=64)
    res = train_classifier(model, data, epochs=6, seed=seed, val_fraction=0.2)
    return model.eval().requires_grad_(False), (
        f"SmallCNN trained here on {res['n_train']} mnist5k digits, "
        f"held-out accuracy {res['val_acc']:.4f} on {res['n_val']}"
    )


def run_seed(
    cfg_name: str,
    seed: int,
    steps: int | None,
    classifier: torch.nn.Module,
    trace: int = 0,
    n_per_value: int = 1000,
) -> dict:
    """Train one seed; return the matching accuracy (see module docstring) and G_ema."""
    from ganforge.apps.gan import gan_trainer

    _, cfg = load_preset_or_file(cfg_name)
    cfg = dataclasses.replace(cfg, seed=seed, device="cpu")
    if steps is not None:
        cfg = dataclasses.replace(cfg, steps=steps)
    total = cfg.steps
    log = dataclasses.replace(cfg.log, progress=False, sample_every=10**9, ckpt_every=10**9)
    cfg = dataclasses.replace(cfg, log=log)
    history = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        milestones = list(range(trace, total, trace)) + [total] if trace else [total]
        trainer = gan_trainer(dataclasses.replace(cfg, steps=milestones[0]), Path(tmp) / "run")
        for m in milestones:
            trainer.cfg = dataclasses.replace(cfg, steps=m)
            trainer.run(progress=False)
            if m != total:
                r = categorical_code_accuracy(trainer.G_ema, classifier, n_per_value=200)
                history.append((m, round(r["acc"], 4)))
                print(f"  seed {seed} step {m}: acc {r['acc']:.4f}", flush=True)
        seconds = time.perf_counter() - t0
        G = trainer.G_ema.eval()
    res = categorical_code_accuracy(G, classifier, n_per_value=n_per_value, seed=seed)
    res.update(seed=seed, steps=total, seconds=seconds, history=history)
    return res | {"G": G}


def write_traversals(G: torch.nn.Module, out_dir: Path) -> list[Path]:
    paths = []
    for spec in G.code_layout:
        x = traverse(G, spec.name, n_rows=10, seed=0)
        p = save_grid(x, out_dir / f"infogan_{spec.name}.png", nrow=traversal_columns(G, spec.name))
        paths.append(p)
    return paths


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="infogan-mnist", help="preset or TOML file")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, help="override the preset's steps")
    ap.add_argument("--n-per-value", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--trace", type=int, default=0, help="print the accuracy every N steps")
    ap.add_argument("--img-dir", default=str(ROOT / "docs" / "img"))
    ap.add_argument("--no-images", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    classifier, clf_desc = get_classifier()
    print(f"classifier: {clf_desc}", flush=True)
    rows = []
    for i, seed in enumerate(args.seeds):
        r = run_seed(args.config, seed, args.steps, classifier, args.trace, args.n_per_value)
        G = r.pop("G")
        print(
            f"seed {seed}: acc {r['acc']:.4f}  mapping {r['mapping']}  "
            f"{r['seconds']:.0f} s for {r['steps']} steps",
            flush=True,
        )
        # Per code value: its digit's share and the runner-up (where the errors go).
        purity = []
        for v, row in enumerate(r["confusion"]):
            total = max(sum(row), 1)
            order = sorted(range(len(row)), key=lambda d: -row[d])
            second = order[1] if order[0] == r["mapping"][v] else order[0]
            purity.append(
                f"{v}->{r['mapping'][v]} {row[r['mapping'][v]] / total:.2f} "
                f"(then {second}: {row[second] / total:.2f})"
            )
        print("  " + "; ".join(purity), flush=True)
        if i == 0 and not args.no_images:
            for p in write_traversals(G, Path(args.img_dir)):
                print(f"  wrote {p}")
        rows.append(r)
    accs = [r["acc"] for r in rows]
    print()
    print(
        f"InfoGAN cat0 -> digit accuracy ({args.config}, {rows[0]['steps']} steps, "
        f"{args.n_per_value} digits per code value; classifier: {clf_desc})"
    )
    print()
    print("| seeds | mean | min | max | s/seed |")
    print("|---|---|---|---|---|")
    print(
        f"| {', '.join(str(s) for s in args.seeds)} | {sum(accs) / len(accs):.4f} | "
        f"{min(accs):.4f} | {max(accs):.4f} | "
        f"{sum(r['seconds'] for r in rows) / len(rows):.0f} |"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"classifier": clf_desc, "runs": rows}, indent=1))
