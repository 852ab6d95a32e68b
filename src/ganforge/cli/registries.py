"""``ganforge list [KIND]``: what can be named in a config — models, losses, objectives,
optimizers, data sets, built-in tables, presets, metrics — each with one line of help."""

from __future__ import annotations

import argparse
import importlib
import textwrap

# kind -> (module that registers it, registry attribute in that module)
KINDS = {
    "models": ("ganforge.models", "ganforge.core.registry", "MODELS"),
    "losses": ("ganforge.training.losses", "ganforge.core.registry", "LOSSES"),
    "objectives": ("ganforge.apps", "ganforge.training.objective", "OBJECTIVES"),
    "optimizers": ("ganforge.training.optim", "ganforge.core.registry", "OPTIMIZERS"),
    "datasets": ("ganforge.data", "ganforge.core.registry", "DATASETS"),
    "tables": ("ganforge.apps.tabular.datasets", "ganforge.apps.tabular.datasets", "TABLES"),
    "presets": ("ganforge.core.presets", "ganforge.core.presets", "PRESETS"),
    "metrics": ("ganforge.metrics", "ganforge.core.registry", "METRICS"),
}


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser("list", help=help_text, description=__doc__)
    p.add_argument("what", nargs="?", choices=list(KINDS), help="one kind (default: all)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print each registry as ``name  help``, help wrapped rather than cut."""
    for kind in [args.what] if args.what else list(KINDS):
        registers, holder, attr = KINDS[kind]
        importlib.import_module(registers)
        reg = getattr(importlib.import_module(holder), attr)
        print(f"{kind}:")
        width = max((len(n) for n in reg.names()), default=0)
        for name in reg.names():
            lines = textwrap.wrap(reg.help(name), width=max(40, 96 - width)) or [""]
            print(f"  {name.ljust(width)}  {lines[0]}")
            for more in lines[1:]:
                print(f"  {' ' * width}  {more}")
    return 0
