"""The ``ganforge`` command line. Thin: it parses arguments into configs and calls one
library function per subcommand."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganforge.core.config import ConfigError, apply_override, dumps
from ganforge.core.registry import UnknownNameError


def _unique_run_dir(base: Path) -> Path:
    """``runs/NAME``, or ``runs/NAME-2``, ``-3``... when it already holds a run."""
    if not base.exists() or not any(base.iterdir()):
        return base
    i = 2
    while (base.parent / f"{base.name}-{i}").exists():
        i += 1
    return base.parent / f"{base.name}-{i}"


def cmd_train(args: argparse.Namespace) -> int:
    from ganforge.core.checkpoint import config_of, load_checkpoint
    from ganforge.core.presets import DEFAULT_PRESET, load_preset_or_file

    if args.resume:
        if args.config:
            raise ConfigError("give either a preset/TOML or --resume RUN_DIR, not both")
        out = Path(args.resume)
        cfg = config_of(load_checkpoint(out))
        resume = True
    else:
        name, cfg = load_preset_or_file(args.config or DEFAULT_PRESET)
        out = Path(args.out) if args.out else _unique_run_dir(Path("runs") / name)
        resume = False
        if (out / "checkpoints" / "latest.pt").exists() and not args.dry_run:
            raise ConfigError(
                f"{out} already holds a run; continue it with `ganforge train --resume {out}` "
                "or choose another --out"
            )
    if args.data:
        if resume:
            raise ConfigError("--data cannot change on --resume (the run's data is fixed)")
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, spec=args.data))
    if args.seed is not None:
        if resume:
            raise ConfigError("--seed cannot change on --resume")
        cfg = dataclasses.replace(cfg, seed=args.seed)
    if args.steps is not None:
        cfg = dataclasses.replace(cfg, steps=args.steps)
    if args.device:
        cfg = dataclasses.replace(cfg, device=args.device)
    for assignment in args.set or []:
        cfg = apply_override(cfg, assignment)
    if args.no_progress:
        cfg = dataclasses.replace(cfg, log=dataclasses.replace(cfg.log, progress=False))

    from ganforge.apps.gan import gan_trainer

    trainer = gan_trainer(cfg, out, resume=resume)
    if args.dry_run:
        n_g = sum(p.numel() for p in trainer.G.parameters())
        n_d = sum(p.numel() for p in trainer.D.parameters())
        print(dumps(cfg))
        print(
            f"# data: {trainer.data.name}: {len(trainer.data)} items of shape "
            f"{trainer.data.item_shape}, {len(trainer.data.skipped)} files skipped"
        )
        print(f"# G: {n_g:,} parameters, D: {n_d:,} parameters, device {trainer.device}")
        print(f"# would write to {out}")
        return 0
    if trainer.step >= cfg.steps:
        print(
            f"{out} is already at step {trainer.step} >= {cfg.steps}; "
            "pass --steps N with a larger total to train further"
        )
        return 0
    print(
        f"training {cfg.model.name} on {trainer.data.name} ({len(trainer.data)} items) "
        f"for {cfg.steps} steps -> {out}"
    )
    if trainer.data.skipped:
        print(
            f"note: skipped {len(trainer.data.skipped)} unreadable files (listed in "
            f"{out / 'metrics.jsonl'})"
        )
    try:
        trainer.run()
    except KeyboardInterrupt:
        return 130
    print(f"done: {getattr(trainer, 'final_samples', out / 'samples.png')}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from ganforge.core.imaging import save_samples
    from ganforge.hub.load import load_generator

    G = load_generator(args.run)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    x = _discriminator_samples(G, args)
    if x is None:
        x = _controlled_samples(G, args)
    if out.suffix in getattr(G, "sample_suffixes", ()):  # modality writers: .wav, .txt ...
        G.write_samples(x, out)
    elif out.suffix == ".npz":
        if args.rejection or args.langevin or _has_controls(args):  # x is not G(z) then
            np.savez(out, x=x.numpy())
        else:
            np.savez(out, x=x.numpy(), z=G.make_z(args.n, seed=args.seed).numpy())
    elif out.suffix == ".npy":
        np.save(out, x.numpy())
    elif out.suffix == ".png":
        from ganforge.data.builtin import mixture_centers

        data_cfg = getattr(getattr(G, "config", None), "data", None)
        save_samples(x, out, reference=mixture_centers(data_cfg.spec) if data_cfg else None)
    else:
        extra = "".join(f", {s}" for s in getattr(G, "sample_suffixes", ()) if s != ".png")
        raise ConfigError(f"--out must end in .png, .npz, .npy{extra}; got {out.name}")
    print(f"wrote {args.n} samples to {out}")
    return 0


def _discriminator_samples(G: Any, args: argparse.Namespace) -> Any:
    """Samples drawn with the run's D when asked (``--rejection``, ``--langevin``) or when
    the run's ``[sample]`` config names a D-driven sampler; None for G alone. Sets
    ``args.rejection`` and ``args.langevin`` to what was used."""
    from ganforge.sampling.policy import SamplerRequest, sampler_for

    if args.rejection is None and args.rejection_power is not None:
        args.rejection = True
    if args.langevin is None and args.langevin_steps is not None:
        args.langevin = True
    if args.rejection and args.langevin:
        raise ConfigError("--rejection and --langevin are two ways to use D; choose one")
    controlled = _has_controls(args)
    flag = "--rejection" if args.rejection else "--langevin" if args.langevin else ""
    if flag and controlled:
        raise ConfigError(f"{flag} draws random samples; it does not combine with controls")
    if args.rejection or args.langevin:
        method: str | None = "rejection" if args.rejection else "langevin"
    elif controlled or args.rejection is False or args.langevin is False:
        method = "g"  # controls pick latents themselves; --no-X turns the run's sampler off
    else:
        method = None  # the run's [sample] policy
    power = args.power if args.power is not None else args.rejection_power
    request = SamplerRequest(method, power, None, args.langevin_steps, args.langevin_step_size)
    sampler, note = sampler_for(args.run, request, seed=args.seed)
    if note:
        print(f"note: {args.run}: {note}")
    kind = sampler.describe()["name"]
    args.rejection, args.langevin = kind == "rejection", kind == "langevin"
    if kind == "g":
        return None
    x = sampler.sample(args.n, seed=args.seed)
    st = sampler.stats
    if args.rejection:
        print(f"rejection sampling: kept {st.accepted} of {st.proposed} ({st.acceptance:.1%})")
    else:
        print(
            f"latent Langevin sampling: {sampler.steps} steps, mean log ratio "
            f"{st.log_ratio_before:.2f} -> {st.log_ratio_after:.2f}"
        )
    return x


def _has_controls(args: argparse.Namespace) -> bool:
    """Whether ``ganforge sample`` was asked for specific latents (traversal, class ...)."""
    controls = (args.traverse, args.class_id, args.truncation, args.style_mix, args.interpolate)
    return any(c is not None for c in controls)


def _seed_pair(text: str, flag: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{flag} expects two seeds like 3,7, got {text!r}") from None
    return a, b


def _controlled_samples(G: Any, args: argparse.Namespace) -> Any:
    """Samples for ``ganforge sample`` with its controls (code traversal, class,
    truncation, style mixing, interpolation); plain random samples without them."""
    import torch

    if args.traverse is not None or args.class_id is not None:
        from ganforge.sampling.controls import sample_with_controls

        return sample_with_controls(
            G, args.n, args.seed, traverse=args.traverse, class_id=args.class_id
        )
    style_based = hasattr(G, "mapping") and hasattr(G, "style_mix")
    if args.style_mix:
        if not style_based:
            raise ConfigError("--style-mix needs a style-based generator (model 'stylegan')")
        a, b = _seed_pair(args.style_mix, "--style-mix")
        za, zb = G.make_z(1, seed=a), G.make_z(1, seed=b)
        with torch.no_grad():  # crossover 0 = all of B's styles ... num_ws = all of A's
            xs = [
                G.style_mix(za, zb, k, truncation_psi=args.truncation or 1.0)
                for k in range(G.num_ws + 1)
            ]
        return torch.cat(xs).clamp(-1, 1)
    if args.interpolate:
        a, b = _seed_pair(args.interpolate, "--interpolate")
        za, zb = G.make_z(1, seed=a), G.make_z(1, seed=b)
        t = torch.linspace(0, 1, args.n).view(-1, 1)
        z = (1 - t) * za + t * zb
        with torch.no_grad():
            return G(z.to(G.device)).float().cpu()
    if args.truncation is not None:
        if not style_based:
            raise ConfigError("--truncation needs a style-based generator (model 'stylegan')")
        return G.sample(args.n, seed=args.seed, truncation_psi=args.truncation).clamp(-1, 1)
    return G.sample(args.n, seed=args.seed)


def cmd_list(args: argparse.Namespace) -> int:
    import ganforge.data  # noqa: F401
    import ganforge.metrics  # noqa: F401
    import ganforge.models  # noqa: F401
    import ganforge.training.losses  # noqa: F401
    import ganforge.training.optim  # noqa: F401
    from ganforge.core.presets import PRESETS
    from ganforge.core.registry import DATASETS, LOSSES, METRICS, MODELS, OPTIMIZERS

    tables = {
        "models": MODELS,
        "losses": LOSSES,
        "datasets": DATASETS,
        "presets": PRESETS,
        "optimizers": OPTIMIZERS,
        "metrics": METRICS,
    }
    kinds = [args.what] if args.what else list(tables)
    for kind in kinds:
        reg = tables[kind]
        print(f"{kind}:")
        width = max((len(n) for n in reg.names()), default=0)
        for name in reg.names():
            print(f"  {name.ljust(width)}  {reg.help(name)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ganforge.hub.export import export_onnx, export_safetensors
    from ganforge.hub.load import load_generator

    G = load_generator(args.run)
    out = Path(args.out)
    if args.format == "safetensors":
        export_safetensors(G, out, dtype=args.dtype)
    else:
        export_onnx(G, out)
    print(f"exported {args.format} to {out}")
    return 0


def cmd_zoo(args: argparse.Namespace) -> int:
    from ganforge.hub.zoo import format_table

    print(format_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganforge", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN from a preset or TOML config")
    t.add_argument("config", nargs="?", help="preset name or TOML file (default: dcgan-mnist)")
    t.add_argument("--out", help="run folder (default: runs/PRESET, numbered if taken)")
    t.add_argument("--steps", type=int, help="total steps to train (with --resume: to reach)")
    t.add_argument(
        "--data", help="built-in data name, image or WAV folder, .txt, .npz/.npy, IDX or CIFAR file"
    )
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: auto)")
    t.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.lr_g=1e-4 (repeatable)",
    )
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint")
    t.add_argument("--dry-run", action="store_true", help="print the config and model sizes")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="write samples from a run, checkpoint or zoo:NAME")
    s.add_argument("run", help="run folder, checkpoint file or zoo:NAME")
    s.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument(
        "--out",
        required=True,
        help="FILE.png (grid or scatter), FILE.npz/.npy, or .wav/.txt for audio/text",
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--traverse",
        metavar="CODE",
        help="InfoGAN: vary one latent code along the rows (e.g. cat0, cont1)",
    )
    s.add_argument(
        "--class",
        dest="class_id",
        type=int,
        metavar="K",
        help="class-conditional models: samples of class K",
    )
    s.add_argument(
        "--truncation",
        type=float,
        metavar="PSI",
        help="StyleGAN truncation towards the mean W (1 = off, 0.7 typical)",
    )
    s.add_argument(
        "--style-mix",
        metavar="SEED_A,SEED_B",
        help="StyleGAN: a strip mixing A's and B's styles at every crossover layer",
    )
    s.add_argument(
        "--interpolate",
        metavar="SEED_A,SEED_B",
        help="a strip of -n images interpolating between two seeds' latents",
    )
    s.add_argument(
        "--rejection",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="discriminator rejection sampling with the run's D (default: the run's "
        "sample.rejection; needs a run folder or checkpoint)",
    )
    s.add_argument(
        "--rejection-power",
        type=float,
        metavar="P",
        help="rejection sampling accepts with (ratio / M) ** P (default: the run's "
        "sample.power, 1 = plain DRS); P > 1 trades diversity for quality. Implies --rejection",
    )
    s.add_argument(
        "--langevin",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="discriminator-driven latent sampling: move G's latents along the run's D "
        "(default: the run's sample.langevin; needs a run folder or checkpoint)",
    )
    s.add_argument(
        "--langevin-steps",
        type=int,
        metavar="N",
        help="Langevin steps per sample (default: the run's sample.langevin_steps). "
        "Implies --langevin",
    )
    s.add_argument(
        "--langevin-step-size",
        type=float,
        metavar="EPS",
        help="Langevin step size (default: the run's sample.langevin_step_size)",
    )
    s.add_argument(
        "--power",
        type=float,
        metavar="P",
        help="weight of D's log ratio for --rejection or --langevin (default: the run's "
        "sample.power); P > 1 trades diversity for quality",
    )
    s.set_defaults(func=cmd_sample)

    ls = sub.add_parser("list", help="list registered models, losses, data sets, presets...")
    ls.add_argument(
        "what",
        nargs="?",
        choices=["models", "losses", "datasets", "presets", "optimizers", "metrics"],
    )
    ls.set_defaults(func=cmd_list)

    ex = sub.add_parser("export", help="export a generator (safetensors + config.json, or ONNX)")
    ex.add_argument("run", help="run folder, checkpoint or zoo:NAME")
    ex.add_argument("--format", choices=["safetensors", "onnx"], default="safetensors")
    ex.add_argument(
        "--dtype",
        choices=["fp32", "fp16"],
        default="fp32",
        help="weight precision of the safetensors export",
    )
    ex.add_argument("--out", required=True, help="output folder")
    ex.set_defaults(func=cmd_export)

    zo = sub.add_parser("zoo", help="the model zoo: `ganforge zoo list`")
    zo.add_argument("action", choices=["list"])
    zo.set_defaults(func=cmd_zoo)

    for mod, adder in (
        ("ganforge.cli.eval", "add_eval_parser"),
        ("ganforge.cli.attack", "add_attack_parser"),
        ("ganforge.cli.translate", "add_translate_parser"),
        ("ganforge.sampling.projection", "add_project_parser"),
        ("ganforge.ui.report", "add_report_parser"),
        ("ganforge.ui.serve", "add_serve_parser"),
    ):
        module = __import__(mod, fromlist=[adder])  # each module owns its subcommand
        getattr(module, adder)(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ganforge`` console script; returns the exit status."""
    from ganforge.core.checkpoint import CheckpointError
    from ganforge.hub.zoo import ZooError
    from ganforge.training.guard import TrainingDiverged

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (
        ConfigError,
        UnknownNameError,
        CheckpointError,
        ZooError,
        FileNotFoundError,
        ValueError,
    ) as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"ganforge: training stopped: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
