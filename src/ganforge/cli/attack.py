"""``ganforge attack``: attack a classifier with FGSM, PGD or AdvGAN and report how it fares.

    ganforge attack --model lenet --data mnist5k --method pgd --eps 0.3 --n 1000 --out runs/atk

Writes into ``--out``: ``report.json`` (clean accuracy, adversarial accuracy, success rate,
perturbation norms, timing, and the accuracy-vs-eps sweep when ``--sweep`` asks for one),
``grid.png`` (originals,
amplified perturbations, adversarial images, each with the model's prediction),
``accuracy_vs_eps.png`` (with ``--sweep``) and, for AdvGAN, the trained generator
``advgan.safetensors`` beside its training run folder ``advgan-run/``.

``--model`` is ``lenet`` (the mnist5k LeNet shipped with ganforge) or a weights file:
a ``.safetensors`` or ``.pt`` state dict of a
:class:`~ganforge.apps.adversarial.classifier.SmallCNN`
(for example written by ``save_classifier``) or of the metrics package's LeNet; ``.pt`` files
are read with ``torch.load(weights_only=True)``. Such a model is assumed to take images in
[-1, 1] unless its safetensors metadata says ``input_range=01``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

DEFAULT_SWEEP = "0,0.05,0.1,0.15,0.2,0.25,0.3"


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    """Register ``attack`` on the ``ganforge`` subcommand parser; returns the subparser."""
    a = sub.add_parser(
        "attack",
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("--model", default="lenet", help="'lenet' or a .safetensors/.pt state dict")
    a.add_argument("--data", default="mnist5k", help="built-in name or path (needs labels)")
    a.add_argument("--method", choices=["fgsm", "pgd", "advgan"], default="pgd")
    a.add_argument("--eps", type=float, default=0.3, help="budget in [0, 1] pixel units")
    a.add_argument("--n", type=int, default=500, help="images to attack (default 500)")
    a.add_argument("--out", help="output folder (default runs/attack-METHOD)")
    a.add_argument("--steps", type=int, default=40, help="PGD iterations (default 40)")
    a.add_argument("--alpha", type=float, default=0.01, help="PGD step size (default 0.01)")
    a.add_argument("--norm", choices=["inf", "2"], default="inf", help="PGD/FGSM ball (FGSM: inf)")
    a.add_argument("--no-random-start", action="store_true", help="PGD starts at the input")
    a.add_argument("--target", type=int, help="targeted attack towards this class")
    a.add_argument(
        "--train-steps", type=int, default=1000, help="AdvGAN training steps (default 1000)"
    )
    a.add_argument("--advgan", metavar="FILE", help="use a saved AdvGAN instead of training one")
    a.add_argument(
        "--sweep",
        default="",
        help=f"also attack at these eps values with FGSM and PGD and plot accuracy against eps, "
        f"e.g. --sweep {DEFAULT_SWEEP} (default: only the attack asked for)",
    )
    a.add_argument("--resolution", type=int, default=0, help="resize data to this side")
    a.add_argument("--channels", type=int, default=0, help="convert data to 1 or 3 channels")
    a.add_argument("--batch-size", type=int, default=250)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--device", default="", help="cpu, cuda ... (default: cuda when available)")
    a.add_argument("--no-progress", action="store_true", help="hide progress bars")
    a.set_defaults(func=run)
    return a


def _parse_eps_list(text: str) -> list[float]:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError as e:
        raise ValueError(f"--sweep must be comma-separated numbers, got {text!r}") from e
    return sorted(set(vals))


def _method_attack(args: argparse.Namespace, model: Any, eps: float, method: str, gen_seed: int):
    """(xb, yb) -> adversarial xb for FGSM or PGD with the command's settings."""
    from ganforge.apps.adversarial.attacks import fgsm, pgd

    targeted = args.target is not None
    if method == "fgsm":
        if args.norm != "inf":
            raise ValueError("FGSM is an L-inf attack; use --method pgd for --norm 2")
        return lambda xb, yb: fgsm(model, xb, yb, eps=eps, targeted=targeted)
    gen = torch.Generator(device="cpu").manual_seed(gen_seed)

    def run(xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        start = None
        if not args.no_random_start:
            # Draw the start on the CPU so results do not depend on the device.
            from ganforge.apps.adversarial.attacks import random_start_point

            start = random_start_point(xb.cpu(), eps, args.norm, gen).to(xb.device)
        return pgd(
            model,
            xb,
            yb,
            eps=eps,
            alpha=args.alpha,
            steps=args.steps,
            norm=args.norm,
            targeted=targeted,
            random_start=False,
            start=start,
        )

    return run


def run(args: argparse.Namespace) -> int:
    """Run ``ganforge attack``; returns the exit status."""
    from ganforge.apps.adversarial.attacks import attack_in_batches, attack_report
    from ganforge.apps.adversarial.classifier import load_target
    from ganforge.core.config import DataConfig
    from ganforge.data import load_data

    if args.eps < 0 or args.n < 1:
        raise ValueError(f"--eps must be >= 0 and --n >= 1 (got {args.eps}, {args.n})")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    out = Path(args.out or f"runs/attack-{args.method}")
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress

    model = load_target(args.model).to(device)
    data = load_data(DataConfig(spec=args.data, resolution=args.resolution, channels=args.channels))
    if data.y is None or not data.is_image:
        raise ValueError(f"{args.data}: attacks need labelled images, got {data.item_shape}")
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(args.seed))
    n = min(args.n, len(data))
    x = ((data.x[perm[:n]] + 1) / 2).clamp(0, 1).to(device)  # library [-1, 1] -> [0, 1]
    y_true = data.y[perm[:n]].to(device)
    y_att = torch.full_like(y_true, args.target) if args.target is not None else y_true
    target = y_att if args.target is not None else None

    info: dict[str, Any] = {}
    t0 = time.perf_counter()
    if args.method == "advgan":
        from ganforge.apps.adversarial.advgan import AdvGANAttack, train_advgan

        if args.advgan:
            attack = AdvGANAttack.load(args.advgan, device=device)
            info["advgan"] = args.advgan
        else:
            # Train on the items not attacked, so the report is on unseen inputs.
            rest = perm[n:] if len(perm) > n else perm
            attack = train_advgan(
                model,
                (data.x[rest] + 1) / 2,
                eps=args.eps,
                steps=args.train_steps,
                target_label=args.target,
                seed=args.seed,
                device=device,
                progress=progress,
                out=out / "advgan-run",
            )
            info["train_seconds"] = time.perf_counter() - t0
            info["advgan"] = str(attack.save(out / "advgan.safetensors"))
            info["train_log"] = attack.history[-1:]
        if abs(attack.eps - args.eps) > 1e-9:
            print(f"note: the AdvGAN generator is bounded by eps={attack.eps}, not {args.eps}")
        t1 = time.perf_counter()
        x_adv = attack_in_batches(lambda xb, yb: attack(xb), x, y_att, batch_size=args.batch_size)
    else:
        t1 = time.perf_counter()
        fn = _method_attack(args, model, args.eps, args.method, args.seed)
        x_adv = attack_in_batches(
            fn, x, y_att, batch_size=args.batch_size, progress=progress, desc=args.method
        )
    attack_seconds = time.perf_counter() - t1
    rep = attack_report(model, x, x_adv, y_true, target=target)

    sweep = []
    eps_list = _parse_eps_list(args.sweep)
    for method in ("fgsm", "pgd") if eps_list else ():
        if method == "fgsm" and args.norm != "inf":
            continue
        for eps in eps_list:
            adv = attack_in_batches(
                _method_attack(args, model, eps, method, args.seed),
                x,
                y_att,
                batch_size=args.batch_size,
                progress=progress,
                desc=f"sweep {method} eps={eps:g}",
            )
            r = attack_report(model, x, adv, y_true, target=target)
            sweep.append({"method": method, "eps": eps, **r})

    report = {
        "model": args.model,
        "data": args.data,
        "method": args.method,
        "eps": args.eps,
        "norm": "inf" if args.method != "pgd" else args.norm,
        "target": args.target,
        "steps": args.steps if args.method == "pgd" else None,
        "alpha": args.alpha if args.method == "pgd" else None,
        "random_start": (not args.no_random_start) if args.method == "pgd" else None,
        "seed": args.seed,
        **rep,
        "attack_seconds": attack_seconds,
        "seconds_per_image": attack_seconds / n,
        "device": str(device),
        **info,
        "sweep": sweep,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    save_attack_grid(model, x, x_adv, y_true, out / "grid.png", eps=args.eps, title=_title(args))
    if sweep:
        save_accuracy_plot(sweep, out / "accuracy_vs_eps.png", point=report, title=_title(args))
    _print_table(report)
    print(
        f"wrote {out / 'report.json'}, {out / 'grid.png'}" + (", accuracy_vs_eps.png" * bool(sweep))
    )
    return 0


def _title(args: argparse.Namespace) -> str:
    extra = f" -> class {args.target}" if args.target is not None else ""
    return f"{args.model} on {args.data}: {args.method}{extra}"


def _print_table(r: dict[str, Any]) -> None:
    print(f"{'method':<8} {'eps':>6} {'n':>6} {'clean acc':>10} {'adv acc':>8} {'success':>8}")
    print(
        f"{r['method']:<8} {r['eps']:>6g} {r['n']:>6} {r['clean_acc']:>10.2%} "
        f"{r['adv_acc']:>8.2%} {r['success_rate']:>8.2%}"
    )
    if r["sweep"]:
        print("sweep (accuracy under attack):")
        for s in r["sweep"]:
            print(f"  {s['method']:<6} eps={s['eps']:<5g} adv acc {s['adv_acc']:.2%}")


def save_attack_grid(
    model: Any,
    x: torch.Tensor,
    x_adv: torch.Tensor,
    y: torch.Tensor,
    path: str | Path,
    *,
    eps: float,
    k: int = 10,
    title: str = "",
) -> Path:
    """Three rows of ``k`` images: originals, perturbations, adversarial images.

    Perturbations are drawn centred on grey and amplified so that ``+-eps`` spans black to
    white. Each original and adversarial image is titled with the model's prediction, red
    when it differs from the true label.

    Args:
        model: classifier on [0, 1] inputs.
        x, x_adv: (N, C, H, W) in [0, 1].
        y: (N,) true labels.
        path: PNG file to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganforge.apps.adversarial.attacks import predict

    k = min(k, len(x))
    xs, advs = x[:k].cpu(), x_adv[:k].cpu()
    p_clean, p_adv = predict(model, x[:k]).cpu(), predict(model, x_adv[:k]).cpu()
    scale = 0.5 / eps if eps > 0 else 1.0
    pert = (0.5 + (advs - xs) * scale).clamp(0, 1)
    rows = [
        ("original", xs, p_clean),
        (f"perturbation x{scale:g}", pert, None),
        ("adversarial", advs, p_adv),
    ]
    fig, axes = plt.subplots(3, k, figsize=(1.2 * k + 1.2, 4.2), squeeze=False)
    for r, (name, imgs, preds) in enumerate(rows):
        for i in range(k):
            ax = axes[r][i]
            img = imgs[i].permute(1, 2, 0).numpy()
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if preds is not None:
                ok = int(preds[i]) == int(y[i])
                ax.set_title(f"pred {int(preds[i])}", fontsize=8, color="black" if ok else "red")
            if i == 0:
                ax.set_ylabel(name, fontsize=8)
    if title:
        fig.suptitle(f"{title} (eps={eps:g}; red = wrong)", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_accuracy_plot(
    sweep: list[dict[str, Any]],
    path: str | Path,
    *,
    point: dict[str, Any] | None = None,
    title: str = "",
) -> Path:
    """Accuracy under attack against eps, one line per method, the main run as a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=100)
    for method in dict.fromkeys(s["method"] for s in sweep):
        pts = [(s["eps"], s["adv_acc"]) for s in sweep if s["method"] == method]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=method.upper())
    if point is not None:
        ax.plot(
            [point["eps"]],
            [point["adv_acc"]],
            marker="*",
            ms=14,
            ls="",
            color="tab:red",
            label=f"{point['method']} (this run)",
        )
    ax.set_xlabel(
        "eps (L-inf, [0, 1] pixels)" if (point or {}).get("norm", "inf") == "inf" else "eps (L2)"
    )
    ax.set_ylabel("accuracy under attack")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
