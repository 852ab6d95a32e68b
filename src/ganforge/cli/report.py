"""``ganforge report RUN``: (re)build ``RUN/report.html`` — configuration, sample grids over
time, training curves and guard events in one self-contained page (open it from disk)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser("report", help=help_text, description=__doc__)
    p.add_argument("run", help="run folder")
    p.add_argument(
        "--max-images",
        type=int,
        default=40,
        help="most sample grids to embed, evenly spaced (default 40)",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ganforge.ui.report import write_report

    print(write_report(args.run, max_images=args.max_images))
    return 0
