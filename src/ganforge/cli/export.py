"""``ganforge export``: a generator for use without its run folder — ``generator.safetensors``
+ ``config.json`` (``ganforge.load`` reads it) or ``generator.onnx`` (latents ``z`` in,
samples out; needs the ``onnx`` package: ``pip install "ganforge[onnx]"``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    ex = sub.add_parser("export", help=help_text, description=__doc__)
    ex.add_argument("run", help="run folder, checkpoint or zoo:NAME")
    ex.add_argument("--format", choices=["safetensors", "onnx"], default="safetensors")
    ex.add_argument(
        "--dtype",
        choices=["fp32", "fp16"],
        default="fp32",
        help="weight precision of the safetensors export",
    )
    ex.add_argument("--out", required=True, help="output folder")
    ex.set_defaults(func=run)
    return ex


def run(args: argparse.Namespace) -> int:
    from ganforge.hub.export import export_onnx, export_safetensors
    from ganforge.hub.load import load_generator

    out = Path(args.out)
    if _is_tabular(args.run):
        from ganforge.apps.tabular.run import export_tabular
        from ganforge.core.config import ConfigError

        if args.format != "safetensors" or args.dtype != "fp32":
            raise ConfigError("a tabular run exports as safetensors in fp32 only")
        export_tabular(args.run, out)
        print(f"exported the tabular model to {out} (ganforge sample {out} -n 100 --out x.csv)")
        return 0
    G = load_generator(args.run)
    if args.format == "safetensors":
        export_safetensors(G, out, dtype=args.dtype)
    else:
        export_onnx(G, out)
    print(f"exported {args.format} to {out}")
    return 0


def _is_tabular(run: str) -> bool:
    from ganforge.cli.sample import _is_tabular as is_tab

    return is_tab(run)
