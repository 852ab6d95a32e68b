"""Accuracy of the mnist5k LeNet under FGSM, PGD and AdvGAN, and attack time per image.

Protocol (Madry et al. 2018's MNIST challenge settings, on [0, 1] pixels, L-inf):
FGSM at eps 0.1 / 0.2 / 0.3; PGD with 40 steps of 0.01 from a uniform random start in
the eps-cube; AdvGAN (Xiao et al. 2018) trained against the same model for
``--advgan-steps`` steps on the images not evaluated, then applied in one forward pass.
``n`` images (n/10 per class) come from the LeNet's held-out 1,000 mnist5k digits. When
torchattacks is installed its PGD runs on the same inputs as a speed and agreement reference.

    python benchmarks/attacks.py                       # lenet, n=1000
    python benchmarks/attacks.py --n 500 --advgan-steps 500 --json out.json
    python benchmarks/attacks.py --model my_cnn.safetensors

If the shipped LeNet is not available, ``--model lenet`` falls back to a SmallCNN trained
here (5 epochs on the items not evaluated) and says so in the output.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from ganforge.apps.adversarial.advgan import train_advgan
from ganforge.apps.adversarial.attacks import attack_in_batches, attack_report, fgsm, pgd
from ganforge.apps.adversarial.classifier import (
    Range01,
    SmallCNN,
    load_target,
    train_classifier,
)
from ganforge.core.config import DataConfig
from ganforge.data import load_data
from ganforge.data.base import TensorData


def get_model(name: str, data: TensorData, train_idx: torch.Tensor) -> tuple[torch.nn.Module, str]:
    try:
        return load_target(name), name
    except ValueError as e:
        if name != "lenet":
            raise
        print(f"note: {e}; training a SmallCNN on the {len(train_idx)} other images instead")
    torch.manual_seed(0)
    cnn = SmallCNN()
    sub = TensorData(data.x[train_idx], data.y[train_idx], data.name, data.num_classes)
    r = train_classifier(cnn, sub, epochs=5, lr=1e-3, batch_size=64, seed=0, val_fraction=0)
    print(f"SmallCNN trained in {r['seconds']:.0f}s, train acc {r['train_acc']:.2%}")
    return Range01(cnn).eval(), "smallcnn (fallback)"


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lenet")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--eps", default="0.1,0.2,0.3")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--advgan-eps", default="0.3", help="'' skips AdvGAN")
    ap.add_argument("--advgan-steps", type=int, default=1000)
    ap.add_argument("--advgan-precision", default="auto", help="auto, fp32, bf16")
    ap.add_argument("--batch-size", type=int, default=250)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    data = load_data(DataConfig(spec="mnist5k"))
    # The shipped LeNet holds out the first 100 digits of each class (mnist5k order; see
    # lenet_metadata()["holdout"]): evaluate on the first n/10 per class of those, and train
    # AdvGAN (and the fallback CNN) on the others.
    per = max(1, min(100, args.n // 10))
    is_ev = torch.zeros(len(data), dtype=torch.bool)
    for c in range(10):
        is_ev[(data.y == c).nonzero().flatten()[:per]] = True
    ev, rest = is_ev.nonzero().flatten(), (~is_ev).nonzero().flatten()
    model, model_name = get_model(args.model, data, rest)
    x, y = (data.x[ev] + 1) / 2, data.y[ev]
    rows: list[dict] = []

    def add(method: str, eps: float, adv: torch.Tensor, seconds: float, **extra) -> None:
        r = attack_report(model, x, adv, y)
        rows.append({"method": method, "eps": eps, **r, "ms_per_image": 1e3 * seconds / len(x)})
        rows[-1].update(extra)
        # A running line per attack: the whole table only prints at the end.
        print(f"  {method} eps={eps:g}: accuracy {r['adv_acc']:.1%} ({seconds:.0f}s)", flush=True)

    add("clean", 0.0, x, 0.0)
    bs = args.batch_size
    for eps in [float(e) for e in args.eps.split(",") if e]:
        adv, s = timed(
            attack_in_batches, lambda xb, yb, e=eps: fgsm(model, xb, yb, eps=e), x, y, batch_size=bs
        )
        add("FGSM", eps, adv, s)
        torch.manual_seed(args.seed)
        adv, s = timed(
            attack_in_batches,
            lambda xb, yb, e=eps: pgd(model, xb, yb, eps=e, alpha=args.alpha, steps=args.steps),
            x,
            y,
            batch_size=bs,
        )
        add(f"PGD-{args.steps}", eps, adv, s)
        try:
            import torchattacks
        except ImportError:
            continue
        atk = torchattacks.PGD(model, eps=eps, alpha=args.alpha, steps=args.steps)
        torch.manual_seed(args.seed)
        ref, s_ref = timed(attack_in_batches, atk, x, y, batch_size=bs)
        rows[-1]["torchattacks_ms_per_image"] = 1e3 * s_ref / len(x)
        rows[-1]["max_diff_vs_torchattacks"] = (ref - adv).abs().max().item()
    for eps in [float(e) for e in args.advgan_eps.split(",") if e]:
        atk, s_train = timed(
            train_advgan,
            model,
            data.x[rest].add(1).div(2),
            eps=eps,
            steps=args.advgan_steps,
            seed=args.seed,
            precision=args.advgan_precision,
        )
        adv, s = timed(attack_in_batches, lambda xb, yb, a=atk: a(xb), x, y, batch_size=bs)
        add("AdvGAN", eps, adv, s, train_seconds=s_train, train_steps=args.advgan_steps)

    print(f"model: {model_name}; {len(x)} held-out mnist5k digits; L-inf, [0, 1] pixels")
    head = f"{'attack':<8} {'eps':>5} {'accuracy':>9} {'success':>8} {'ms/image':>9}  notes"
    print(head)
    print("-" * len(head))
    for r in rows:
        notes = ""
        if "torchattacks_ms_per_image" in r:
            notes = (
                f"torchattacks {r['torchattacks_ms_per_image']:.2f} ms/img, "
                f"max diff {r['max_diff_vs_torchattacks']:.1e}"
            )
        if "train_seconds" in r:
            notes = f"+ {r['train_seconds']:.0f}s training ({r['train_steps']} steps)"
        succ = "" if r["method"] == "clean" else f"{r['success_rate']:.1%}"
        print(
            f"{r['method']:<8} {r['eps']:>5g} {r['adv_acc']:>9.1%} {succ:>8} "
            f"{r['ms_per_image']:>9.3f}  {notes}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": model_name, "args": vars(args), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
