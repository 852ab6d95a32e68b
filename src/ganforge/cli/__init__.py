"""``ganforge``: train generative adversarial networks on your own data, sample and evaluate
them honestly, export and serve them.

    ganforge train                         the default run (InfoGAN on 5,000 MNIST digits)
    ganforge train --data my_images/       your own folder of images
    ganforge sample runs/mnist --out grid.png
    ganforge eval runs/mnist

``ganforge COMMAND --help`` tells more about each command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# command -> (module with add_parser(subparsers, help) and run(args), one-line help). A
# command's module is imported only when that command runs: `ganforge --help` imports
# neither torch nor any model family.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("ganforge.cli.train", "train a GAN from a preset, a TOML config or your own data"),
    "sample": ("ganforge.cli.sample", "write samples from a run, checkpoint or zoo:NAME"),
    "eval": ("ganforge.cli.eval", "evaluate a run/checkpoint/folder: FID, KID, PR, DC, modes"),
    "list": ("ganforge.cli.registries", "list models, losses, objectives, data sets, presets..."),
    "export": ("ganforge.cli.export", "export a generator (safetensors + config.json, or ONNX)"),
    "zoo": ("ganforge.cli.zoo", "the model zoo: `ganforge zoo list`"),
    "report": ("ganforge.cli.report", "(re)build RUN/report.html: samples, curves, events"),
    "serve": ("ganforge.cli.serve", "local HTTP sampling server with a latent-explorer page"),
    "project": ("ganforge.cli.project", "find the latent that reproduces an image"),
    "translate": ("ganforge.cli.translate", "image-to-image translation: pix2pix and CycleGAN"),
    "attack": ("ganforge.cli.attack", "adversarial examples: FGSM, PGD or AdvGAN"),
}


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser, with full arguments for the command named in ``argv`` only."""
    p = argparse.ArgumentParser(
        prog="ganforge", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        if name == chosen:
            importlib.import_module(module).add_parser(sub, help_text)
        else:
            sub.add_parser(name, help=help_text)
    return p


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Errors that are the user's input, reported as one line (imported once a command
    has run, so `ganforge --help` stays light)."""
    from ganforge.core.checkpoint import CheckpointError
    from ganforge.core.config import ConfigError
    from ganforge.core.registry import UnknownNameError
    from ganforge.core.runfolder import RunFolderBusy
    from ganforge.hub.zoo import ZooError

    return (
        ConfigError, UnknownNameError, CheckpointError, ZooError, RunFolderBusy,
        FileNotFoundError, ValueError,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ganforge`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as e:
        from ganforge.training.guard import TrainingDiverged

        if isinstance(e, TrainingDiverged):
            print(f"ganforge: training stopped: {e}", file=sys.stderr)
            return 3
        if isinstance(e, _user_error_types()):
            print(f"ganforge: error: {e}", file=sys.stderr)
            return 2
        if isinstance(e, OSError):  # permission denied, disk full, I/O error: name the path
            where = f"{e.filename}: " if e.filename else ""
            print(f"ganforge: error: {where}{e.strerror or e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
