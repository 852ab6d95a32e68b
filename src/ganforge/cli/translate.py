"""``ganforge translate``: train pix2pix/CycleGAN and apply a trained run to images.

    ganforge translate train pix2pix --data mnist-edges --out runs/p2p-edges --steps 1000
    ganforge translate train cyclegan --data photos/ --out runs/cyc   # photos/trainA, trainB
    ganforge translate train pix2pix --out runs/p2p-edges --steps 2000 --resume
    ganforge translate apply runs/p2p-edges digit.png --out edges.png
    ganforge translate apply runs/cyc folder/ --out translated/ --direction BtoA
    ganforge translate eval runs/p2p-edges
    ganforge translate apply zoo:pix2pix-edges digit.png --out edges.png   # a shipped model
    ganforge translate eval zoo:pix2pix-edges

Data SPEC: ``mnist-edges`` or ``mnist-color`` (synthetic, with a known true mapping), a
folder with ``A/`` and ``B/`` (paired by file name), a folder of side-by-side A|B images
(optionally in ``train/`` and ``val/``), or a folder with ``trainA/`` and ``trainB/``
(unpaired, CycleGAN only).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

# Options whose value defines the run: they cannot change on --resume.
_FIXED_ON_RESUME = (
    "data", "batch_size", "resolution", "channels", "direction", "ngf", "ndf", "n_blocks",
    "d_layers", "lr", "seed", "lambda_l1", "lambda_cycle", "lambda_identity", "pool_size",
)  # fmt: skip


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    """Register ``translate`` (with ``train``, ``apply``, ``eval``) on the ``ganforge``
    subcommand parser; returns the ``translate`` parser."""
    p = sub.add_parser(
        "translate",
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="translate_command", required=True)

    t = sub.add_parser("train", help="train pix2pix or CycleGAN (or --resume a run)")
    t.add_argument("method", choices=["pix2pix", "cyclegan"])
    t.add_argument("--data", help="mnist-edges, mnist-color, or a folder (see above)")
    t.add_argument("--out", required=True, help="run folder")
    t.add_argument("--steps", type=int, help="total steps (default 1000; with --resume: to reach)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--batch-size", type=int, help="default 16")
    t.add_argument("--resolution", type=int, help="image side (default 28 mnist tasks, 64 folders)")
    t.add_argument("--channels", type=int, choices=[1, 3], help="force 1 or 3 channels (folders)")
    t.add_argument("--direction", choices=["AtoB", "BtoA"], help="swap the data's A and B")
    t.add_argument("--ngf", type=int, help="generator width (default 32 pix2pix, 16 CycleGAN)")
    t.add_argument("--ndf", type=int, help="discriminator width (default 32)")
    t.add_argument("--n-blocks", type=int, help="CycleGAN residual blocks (default 3)")
    t.add_argument("--d-layers", type=int, help="PatchGAN stride-2 layers (3: 70x70; default 2)")
    t.add_argument("--lr", type=float, help="Adam learning rate (default 2e-4)")
    t.add_argument("--lambda-l1", type=float, help="pix2pix L1 weight (default 100)")
    t.add_argument("--lambda-cycle", type=float, help="CycleGAN cycle weight (default 10)")
    t.add_argument("--lambda-identity", type=float, help="identity weight x cycle (default 0.5)")
    t.add_argument("--pool-size", type=int, help="CycleGAN history pool (default 50, 0 = off)")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="cpu, cuda, cuda:1 ... (default cpu)")
    t.add_argument("--sample-every", type=int)
    t.add_argument("--ckpt-every", type=int)
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    t.set_defaults(func=cmd_translate_train)

    a = sub.add_parser("apply", help="translate one image or a folder of images")
    a.add_argument("run", help="translation run folder, checkpoint, exported folder or zoo:NAME")
    a.add_argument("input", help="image file or folder of images")
    a.add_argument("--out", required=True, help="output .png (for one file) or folder")
    a.add_argument(
        "--direction",
        choices=["AtoB", "BtoA"],
        default="AtoB",
        help="AtoB (default); BtoA for CycleGAN runs",
    )
    a.set_defaults(func=cmd_translate_apply)

    e = sub.add_parser("eval", help="held-out L1/PSNR against the true translation")
    e.add_argument("run", help="translation run folder, checkpoint, exported folder or zoo:NAME")
    e.add_argument("--data", help="data SPEC with aligned test pairs (default: the run's)")
    e.add_argument("--n", type=int, default=500, help="held-out images (default 500)")
    e.set_defaults(func=cmd_translate_eval)
    return p


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    from ganforge.apps.translation.train import TranslationConfig

    names = [f.name for f in dataclasses.fields(TranslationConfig)]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def cmd_translate_train(args: argparse.Namespace) -> int:
    from ganforge.apps.translation.train import TranslationConfig, translation_trainer
    from ganforge.core.checkpoint import config_of, load_checkpoint
    from ganforge.core.config import ConfigError

    over = _overrides(args)
    over["method"] = args.method
    over.pop("progress", None)
    if args.no_progress:
        over["progress"] = False
    if args.resume:
        fixed = sorted(k for k in over if k in _FIXED_ON_RESUME)
        if fixed:
            raise ConfigError(
                f"--{fixed[0].replace('_', '-')} cannot change on --resume (the run's "
                "config is fixed); only --steps, --device and --no-progress can"
            )
        ckpt = load_checkpoint(args.out)
        saved = config_of(ckpt) if "config" in ckpt else None
        method = saved.objective.name if saved else ckpt.get("translation", {}).get("method")
        if method != args.method:
            raise ConfigError(f"{args.out} is a {method} run, not {args.method}")
        # Without --steps, a resumed run continues to the total it was started with.
        over.setdefault("steps", saved.steps if saved else 0)
        trainer = translation_trainer(TranslationConfig(**over), args.out, resume=True)
    else:
        if not args.data:
            raise ConfigError("--data is required (mnist-edges, mnist-color or a folder)")
        trainer = translation_trainer(TranslationConfig(**over), args.out)
    cfg = trainer.cfg
    if trainer.step >= cfg.steps:
        print(
            f"{args.out} is already at step {trainer.step} >= {cfg.steps}; "
            "pass --steps N with a larger total to train further"
        )
        return 0
    pairs = trainer.objective.pairs
    print(
        f"training {cfg.objective.name} on {pairs.name}: {len(pairs.a)} A "
        f"{tuple(pairs.a.shape[1:])} -> {len(pairs.b)} B {tuple(pairs.b.shape[1:])}, "
        f"steps {trainer.step} -> {cfg.steps}, into {args.out}"
    )
    if pairs.skipped:
        print(
            f"note: skipped {len(pairs.skipped)} files (listed in "
            f"{Path(args.out) / 'metrics.jsonl'})"
        )
    from ganforge.training.stopping import TrainingStopped

    try:
        trainer.run()
    except TrainingStopped as e:
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    final = [r for r in trainer.run_folder.records() if r.get("event") == "eval" and r.get("final")]
    if final:
        ev = final[-1]
        print(f"held-out error vs true mapping: L1 {ev['l1']:.4f}, PSNR {ev['psnr']:.2f} dB")
    print(f"done: {Path(args.out) / 'samples.png'}")
    return 0


def cmd_translate_apply(args: argparse.Namespace) -> int:
    from ganforge.apps.translation.train import apply_translation

    written = apply_translation(args.run, args.input, args.out, direction=args.direction)
    where = written[0] if len(written) == 1 else Path(args.out)
    print(f"wrote {len(written)} image(s) to {where}")
    return 0


def cmd_translate_eval(args: argparse.Namespace) -> int:
    from ganforge.apps.translation.data import load_translation_data
    from ganforge.apps.translation.train import evaluate_translation, load_translator

    tr = load_translator(args.run)
    cfg = tr.config
    data = load_translation_data(
        args.data or cfg.data, paired=False, resolution=tr.resolution, channels=cfg.channels
    )
    a, b = (data.b_test, data.a_test) if cfg.direction == "BtoA" else (data.a_test, data.b_test)
    if a is None or b is None or not data.test_paired:
        raise ValueError(
            f"{data.name} has no aligned held-out pairs to measure against (synthetic tasks "
            "and side-by-side folders with val/ or test/ have them)"
        )
    rows = {"AtoB": evaluate_translation(tr, a[: args.n], b[: args.n])}
    if tr.method == "cyclegan":
        rows["BtoA"] = evaluate_translation(lambda x: tr(x, "BtoA"), b[: args.n], a[: args.n])
    print(json.dumps({"run": str(args.run), "step": tr.step, **rows}, indent=2))
    return 0
