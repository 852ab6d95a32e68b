"""``ganforge train``: train a GAN from a preset, a TOML config or your own data.

ganforge train                                   the default preset (mnist: InfoGAN, ~3 min)
ganforge train gan-ring8                         a named preset (`ganforge list presets`)
ganforge train my.toml --set optim.lr_g=1e-4     a config file, with typed overrides
ganforge train dcgan-mnist --data my_images/     another data source
ganforge train --resume runs/mnist --steps 6000
ganforge train tabular --data table.csv          a conditional tabular GAN (CTGAN)
ganforge train tabular --data t.parquet --discrete zip,code --dry-run   print column types
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings
from pathlib import Path

from ganforge.core.config import ConfigError, TrainConfig, apply_override, dumps


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    t = sub.add_parser(
        "train",
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("config", nargs="?", help="preset name or TOML file (default: mnist)")
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
    t.add_argument(
        "--dry-run",
        action="store_true",
        help="print the config and model sizes (tables: the inferred column types)",
    )
    t.add_argument(
        "--discrete",
        metavar="COL,...",
        help="tables: columns to treat as discrete (categories), whatever their dtype",
    )
    t.add_argument(
        "--continuous", metavar="COL,...", help="tables: columns to treat as continuous numbers"
    )
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    t.set_defaults(func=run)
    return t


def _unique_run_dir(base: Path) -> Path:
    """``runs/NAME``, or ``runs/NAME-2``, ``-3``... when it already holds a run."""
    if not base.exists() or not any(base.iterdir()):
        return base
    i = 2
    while (base.parent / f"{base.name}-{i}").exists():
        i += 1
    return base.parent / f"{base.name}-{i}"


def _base_config(args: argparse.Namespace) -> tuple[str, TrainConfig, list[str]]:
    """``(run name, config, notes)`` before overrides: the preset or file given; with no
    preset and ``--data`` an image folder, the ``images`` preset fitted to the folder."""
    from ganforge.apps.fit import config_for_folder
    from ganforge.core.presets import DEFAULT_PRESET, load_preset_or_file
    from ganforge.data.audio import is_audio_folder
    from ganforge.data.files import DataError, survey_image_folder
    from ganforge.models.build import data_kind

    folder = Path(args.data).expanduser() if args.data else None
    survey = None
    if folder is not None and folder.is_dir() and not is_audio_folder(folder):
        try:
            survey = survey_image_folder(folder)
        except DataError:
            survey = None  # no images (a CIFAR batch folder ...): the data loader decides
    if folder is not None and survey is not None:
        cuda = (args.device or "auto") != "cpu" and _cuda_available()
        if args.config is None:
            cfg, notes = config_for_folder(args.data, survey, cuda=cuda)
            return folder.resolve().name, cfg, notes
        name, cfg = load_preset_or_file(args.config)
        kind = data_kind(cfg.model.name)
        if kind != "images":
            raise ConfigError(
                f"{args.config} trains a {cfg.model.name} model on {kind}; {args.data} holds "
                "images: train them with `ganforge train --data FOLDER` (or the images, "
                "dcgan-mnist, stylegan-mnist, cgan-mnist presets)"
            )
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, spec=args.data))
        from ganforge.apps.fit import fit_shape

        cfg, notes = fit_shape(cfg, survey, cuda=cuda)
        return f"{name}-{folder.resolve().name}", cfg, notes
    name, cfg = load_preset_or_file(args.config or DEFAULT_PRESET)
    if args.data:
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, spec=args.data))
    return name, cfg, []


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run(args: argparse.Namespace) -> int:
    """Run ``ganforge train``."""
    from ganforge.core.checkpoint import config_of, load_checkpoint

    notes: list[str] = []
    if args.resume:
        if args.config:
            raise ConfigError("give either a preset/TOML or --resume RUN_DIR, not both")
        if args.data:
            raise ConfigError("--data cannot change on --resume (the run's data is fixed)")
        out = Path(args.resume)
        cfg = config_of(load_checkpoint(out))
        resume = True
    else:
        name, cfg, notes = _base_config(args)
        if args.data and _is_tabular(cfg):
            name = f"{name}-{Path(args.data).name.split('.')[0]}"
        out = Path(args.out) if args.out else _unique_run_dir(Path("runs") / name)
        resume = False
        if (out / "checkpoints" / "latest.pt").exists() and not args.dry_run:
            raise ConfigError(
                f"{out} already holds a run; continue it with `ganforge train --resume {out}` "
                "or choose another --out"
            )
        if not cfg.data.spec:
            if _is_tabular(cfg):
                raise ConfigError(
                    f"preset {name!r} trains on a table: add --data TABLE.csv|.parquet or a "
                    "built-in table (penguins, fair, anes96)"
                )
            raise ConfigError(f"preset {name!r} trains on your data: add --data FOLDER")
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
    cfg = _column_overrides(cfg, args, resume)

    from ganforge.apps import trainer_for
    from ganforge.data import SkippedFilesWarning

    data = None
    with warnings.catch_warnings():
        # this command reports skipped files itself, wherever the data is loaded: "# data:
        # ... skipped" in a dry run, a note naming metrics.jsonl in a run
        warnings.simplefilter("ignore", SkippedFilesWarning)
        if args.data and not resume and _is_gan(cfg):
            from ganforge.apps.fit import fit_to_data
            from ganforge.data import load_data

            fitted = fit_to_data(cfg, load_data(cfg.data), fetch_weights=not args.dry_run)
            cfg, data, notes = fitted.cfg, fitted.data, notes + fitted.notes
        trainer = trainer_for(cfg, out, resume=resume, data=data, notes=notes)
    for note in notes:
        print(f"note: {note}")
    if _is_tabular(cfg):
        from ganforge.apps.tabular.columns import describe_columns

        table = trainer.objective.table
        print(describe_columns([c.column for c in table.transform.columns], len(table.x)))
    if args.dry_run:
        sizes = ", ".join(
            f"{name}: {sum(p.numel() for p in trainer.nets[name].parameters()):,}"
            for names in trainer.groups.values()
            for name in names
        )
        print(dumps(cfg))
        print(
            f"# data: {trainer.data.name}: {len(trainer.data)} items of shape "
            f"{trainer.data.item_shape}, {len(trainer.data.skipped)} files skipped"
        )
        print(f"# parameters: {sizes}; device {trainer.device}")
        per_step = trainer.time_steps()
        print(f"# about {_minutes(per_step * cfg.steps)} for {cfg.steps} steps "
              f"({per_step:.3f} s per step, measured)")  # fmt: skip
        print(f"# would write to {out}")
        return 0
    if trainer.step >= cfg.steps:
        from ganforge.core.runfolder import RunFolderBusy

        try:  # a run killed after its last checkpoint leaves its lock behind: clear it
            trainer.run_folder.acquire()
            trainer.run_folder.release()
        except RunFolderBusy:
            pass  # a live process holds the folder; nothing to train here anyway
        print(
            f"{out} is already at step {trainer.step} >= {cfg.steps}; "
            "pass --steps N with a larger total to train further"
        )
        return 0
    per_step = trainer.time_steps()
    print(
        f"training {trainer.objective.describe()}, steps {trainer.step} -> {cfg.steps}, into "
        f"{out}: about {_minutes(per_step * (cfg.steps - trainer.step))} "
        f"({per_step:.3f} s per step on {trainer.device}, measured)"
    )
    layout = ", channels-last" if trainer.channels_last else ""
    print(f"precision: {trainer.speed_choice or trainer.precision + layout}")
    how = trainer.objective.step_description(trainer.ctx)
    if how:
        print(f"step: {how}")
    if trainer.data.skipped:
        print(
            f"note: skipped {len(trainer.data.skipped)} unreadable files (listed in "
            f"{out / 'metrics.jsonl'})"
        )
    from ganforge.training.stopping import TrainingStopped

    try:
        trainer.run()
    except TrainingStopped as e:
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    print(f"done: {getattr(trainer, 'final_samples', out / 'samples.png')}")
    return 0


def _is_tabular(cfg: TrainConfig) -> bool:
    from ganforge.training.objective import objective_name

    return objective_name(cfg) == "tabular"


def _column_overrides(cfg: TrainConfig, args: argparse.Namespace, resume: bool) -> TrainConfig:
    """``--discrete``/``--continuous`` into the tabular objective's arguments."""
    given = {k: v for k, v in (("discrete", args.discrete), ("continuous", args.continuous)) if v}
    if not given:
        return cfg
    if not _is_tabular(cfg):
        raise ConfigError("--discrete and --continuous are for tables: ganforge train tabular ...")
    if resume:
        raise ConfigError("--discrete/--continuous cannot change on --resume (columns are fixed)")
    obj_args = dict(cfg.objective.args)
    for key, text in given.items():
        obj_args[key] = [c.strip() for c in text.split(",") if c.strip()]
    return dataclasses.replace(cfg, objective=dataclasses.replace(cfg.objective, args=obj_args))


def _is_gan(cfg: TrainConfig) -> bool:
    from ganforge.training.objective import objective_name

    return objective_name(cfg) in ("gan", "infogan", "conditional", "acgan")
