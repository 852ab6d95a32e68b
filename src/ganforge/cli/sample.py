"""``ganforge sample``: write samples of a run, checkpoint, exported folder or zoo entry.

    ganforge sample runs/mnist -n 64 --out grid.png
    ganforge sample runs/mnist -n 1000 --out samples.npz      raw arrays in [-1, 1]
    ganforge sample runs/stylegan-mnist --style-mix 1,2 --out mix.png
    ganforge sample runs/gan-ring8 --no-langevin --out g_alone.png

    ganforge sample runs/tabular-adult -n 1000 --out synth.csv      a tabular run: rows
    ganforge sample runs/tabular-adult -n 500 --out men40.parquet --condition sex=Male \
        --condition "age>40"                                         exactly 500 such rows

Samples follow the run's ``[sample]`` policy (G alone, rejection or latent Langevin
sampling; :mod:`ganforge.sampling.policy`) unless a flag says otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ganforge.core.config import ConfigError


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    s = sub.add_parser(
        "sample",
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("run", help="run folder, checkpoint file or zoo:NAME")
    s.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument(
        "--out",
        required=True,
        help="FILE.png (grid or scatter), FILE.npz/.npy, .wav/.txt for audio/text, "
        ".csv/.parquet for tables",
    )
    s.add_argument(
        "--condition",
        action="append",
        metavar="COLUMN=VALUE",
        help="tables: only rows meeting it (COLUMN=VALUE, COLUMN>V, COLUMN<=V, COLUMN!=V; "
        "repeatable: all must hold)",
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
        metavar="K|NAME",
        help="class-conditional models: samples of class K, or of the class named NAME (an "
        "image folder's sub-folder the run was trained on)",
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
    s.set_defaults(func=run)
    return s


def run(args: argparse.Namespace) -> int:
    """Run ``ganforge sample``."""
    import numpy as np

    from ganforge.core.imaging import save_samples
    from ganforge.hub.load import load_generator
    from ganforge.models.base import SampleWriter

    if _is_tabular(args.run):
        return _sample_table(args)
    if args.condition:
        raise ConfigError("--condition is for tabular runs (ganforge train tabular)")
    G = load_generator(args.run)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    x = _discriminator_samples(G, args)
    if x is None:
        x = _controlled_samples(G, args)
    writer = G if isinstance(G, SampleWriter) else None
    if writer is not None and out.suffix in writer.sample_suffixes:  # .wav, .txt ...
        writer.write_samples(x, out)
    elif out.suffix == ".npz":
        if args.rejection or args.langevin or _has_controls(args):  # x is not G(z) then
            np.savez(out, x=x.numpy())
        else:
            np.savez(out, x=x.numpy(), z=G.make_z(args.n, seed=args.seed).numpy())
    elif out.suffix == ".npy":
        np.save(out, x.numpy())
    elif out.suffix == ".png":
        from ganforge.data.builtin import mixture_centers

        centers = mixture_centers(G.config.data.spec) if G.config is not None else None
        save_samples(x, out, reference=centers)
    else:
        suffixes = writer.sample_suffixes if writer is not None else ()
        extra = "".join(f", {s}" for s in suffixes if s != ".png")
        raise ConfigError(f"--out must end in .png, .npz, .npy{extra}; got {out.name}")
    print(f"wrote {args.n} samples to {out}")
    return 0


def _is_tabular(run: str) -> bool:
    from ganforge.apps.tabular.objective import is_tabular_run

    if run.startswith("zoo:"):
        from ganforge.hub.zoo import ZOO, resolve_zoo

        return run[4:] in ZOO.names() and is_tabular_run(resolve_zoo(run[4:]))
    return is_tabular_run(run)


def _sample_table(args: argparse.Namespace) -> int:
    """``ganforge sample`` of a tabular run: rows to CSV/Parquet, with conditions."""
    from ganforge.apps.tabular.run import load_tabular
    from ganforge.apps.tabular.tableio import write_table

    out = Path(args.out)
    if not out.name.lower().endswith((".csv", ".tsv", ".csv.gz", ".parquet", ".pq")):
        raise ConfigError(f"--out must end in .csv or .parquet for a tabular run; got {out.name}")
    model = load_tabular(args.run)
    df = model.sample(args.n, args.condition or None, seed=args.seed)
    write_table(df, out)
    extra = f" meeting {', '.join(args.condition)}" if args.condition else ""
    print(f"wrote {len(df)} rows{extra} to {out}")
    if args.condition and model.last_acceptance < 1:
        print(f"({model.last_acceptance:.1%} of the rows drawn met the conditions)")
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
    from ganforge.sampling.controls import class_index, sample_with_controls

    mix = _seed_pair(args.style_mix, "--style-mix") if args.style_mix else None
    line = _seed_pair(args.interpolate, "--interpolate") if args.interpolate else None
    try:
        return sample_with_controls(
            G,
            args.n,
            args.seed,
            traverse=args.traverse,
            class_id=class_index(G, args.class_id) if args.class_id is not None else None,
            truncation=args.truncation,
            style_mix_seeds=mix,
            interpolate_seeds=line,
        )
    except ValueError as e:
        raise ConfigError(str(e)) from None
