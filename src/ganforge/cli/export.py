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

    G = load_generator(args.run)
    out = Path(args.out)
    if args.format == "safetensors":
        export_safetensors(G, out, dtype=args.dtype)
    else:
        export_onnx(G, out)
    print(f"exported {args.format} to {out}")
    return 0
