"""``ganforge zoo list``: the generators shipped with ganforge and their measured numbers;
``ganforge sample zoo:NAME`` and ``ganforge.load("zoo:NAME")`` use them."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    zo = sub.add_parser("zoo", help=help_text, description=__doc__)
    zo.add_argument("action", choices=["list"])
    zo.set_defaults(func=run)
    return zo


def run(args: argparse.Namespace) -> int:
    from ganforge.hub.zoo import format_table

    print(format_table())
    return 0
