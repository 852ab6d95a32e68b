"""Tabular runs: the engine set up for a table, and a trained run loaded for sampling.

trainer = tabular_trainer(cfg, "runs/penguins")        # the engine's Trainer
trainer.run()
model = load_tabular("runs/penguins")
df = model.sample(1000, conditions={"sex": "MALE", "body_mass_g>": 4000})
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.apps.tabular.columns import TableError
from ganforge.apps.tabular.conditions import parse_conditions, plan
from ganforge.apps.tabular.objective import (
    TRANSFORM_NAME,
    TabularData,
    TabularNetworks,
    TabularObjective,
    build_tabular_networks,
    generate_rows,
    load_transform,
    make_cond_sampler,
)
from ganforge.core.checkpoint import CheckpointError, config_of, load_checkpoint
from ganforge.core.config import TrainConfig, from_dict
from ganforge.training.callbacks import Callback, RunView
from ganforge.training.trainer import Trainer


class SaveTable(Callback):
    """Writes the fitted transform and the encoded rows into the run folder when a fresh
    run starts (a dry run writes nothing)."""

    def __init__(self, table: TabularData) -> None:
        self.table = table

    def on_train_start(self, run: RunView) -> None:
        if run.step == 0:
            self.table.save(Path(run.run_folder.path))


def tabular_trainer(
    cfg: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    data: TabularData | None = None,
    frame: Any = None,
) -> Trainer:
    """The engine set up for a tabular run in folder ``out``.

    The table is ``data`` (already encoded), else DataFrame ``frame``, else what
    ``cfg.data.spec`` names (a built-in table or a CSV/Parquet file). With ``resume`` the
    run's own configuration and encoded rows are used; only ``steps``, ``device`` and
    ``log.progress`` of ``cfg`` apply.
    """
    out = Path(out)
    if resume:
        saved = config_of(load_checkpoint(out))
        if saved.objective.name != "tabular":
            raise CheckpointError(f"{out} is not a tabular run")
        cfg = dataclasses.replace(
            saved, steps=cfg.steps, device=cfg.device,
            log=dataclasses.replace(saved.log, progress=cfg.log.progress),
        )  # fmt: skip
        data = TabularData.load(out)
    elif (out / "checkpoints" / "latest.pt").exists():
        raise TableError(
            f"{out} already holds a run; pass --resume to continue it or choose another --out"
        )
    elif data is None:
        data = (
            TabularData.from_frame(frame, cfg, "DataFrame")
            if frame is not None
            else TabularData.from_spec(cfg)
        )
    objective = TabularObjective(cfg, data)
    callbacks = [] if resume else [SaveTable(data)]
    return Trainer(cfg, out, resume=resume, objective=objective, callbacks=callbacks)


class TabularModel:
    """A trained tabular generator with its transform, in eval mode.

    Attributes:
        transform: the table's fitted :class:`~.transform.TableTransform`.
        config: the run's configuration; ``step``: the training step of the weights.
    """

    def __init__(self, G: torch.nn.Module, table: TabularData, config: TrainConfig,
                 step: int) -> None:  # fmt: skip
        self.G = G
        self.table = table
        self.transform = table.transform
        self.cond = make_cond_sampler(table)
        self.config = config
        self.step = step
        self.tau = float(config.objective.args.get("tau", 0.2))
        self.last_acceptance = 1.0

    @property
    def columns(self) -> list[str]:
        return self.transform.names

    def sample(
        self,
        n: int,
        conditions: Any = None,
        *,
        seed: int = 0,
        max_rounds: int = 20,
        batch: int = 4096,
    ) -> Any:
        """``n`` synthetic rows as a DataFrame; with ``conditions`` exactly ``n`` rows
        meeting all of them (see :mod:`.conditions`).

        Rows with a continuous value outside the training range are drawn again rather
        than clipped: clipping piled 2-6% of the values of every column of the penguins
        table onto its minimum or maximum (0.4% of the real rows sit there). Only when
        ``max_rounds`` draws leave too few in-range rows are out-of-range ones used,
        clipped.

        Args:
            n: rows to return.
            conditions: ``{"sex": "MALE", "age>": 40}`` or ``["sex=MALE", "age>40"]``.
            seed: rows for one seed are the same on every call.
            max_rounds: draws before giving up on rare conditions.
            batch: rows G makes per draw (at least; more when acceptance is low).

        Raises:
            TableError: a condition the training data never meets, or one the model meets
                too rarely to fill ``n`` rows in ``max_rounds`` draws.
        """
        if n < 0:
            raise TableError(f"-n must be >= 0, got {n}")
        conds = parse_conditions(conditions)
        p = plan(self.transform, conds)
        gen = torch.Generator().manual_seed(seed)
        inside: list[np.ndarray] = []  # meet the conditions, every value in range
        outside: list[np.ndarray] = []  # meet the conditions, some value out of range
        got = met = drawn = 0
        m = max(batch, n)
        for _ in range(max_rounds):
            rows = generate_rows(self.G, self.transform, self.cond, m, gen, tau=self.tau,
                                 fixed=p.fixed)  # fmt: skip
            hit = rows[p.mask(rows)] if conds else rows
            ok = self.transform.in_range(hit)
            inside.append(hit[ok])
            outside.append(hit[~ok])
            got += int(ok.sum())
            met += len(hit)
            drawn += m
            if got >= n:
                break
            rate = max(got, 1) / drawn
            m = int(min(max(batch, math.ceil((n - got) / rate * 1.2)), 200_000))
        self.last_acceptance = met / max(drawn, 1)
        if met < n:
            what = ", ".join(map(str, conds))
            raise TableError(
                f"only {met} of {n} rows meet {what} after drawing {drawn:,} rows "
                f"(acceptance {self.last_acceptance:.4%}): the model rarely makes such rows. "
                "Loosen the condition, ask for fewer rows, or train longer"
            )
        return self.transform.decode(np.concatenate(inside + outside)[:n])


def _category_indices(freqs: list[float], n: int) -> torch.Tensor:
    """n category indices with the frequencies ``freqs`` (exact for the training table's
    own ``n``: the frequencies were counts / n)."""
    counts = np.rint(np.asarray(freqs, dtype=np.float64) * n).astype(np.int64)
    counts[int(np.argmax(counts))] += n - int(counts.sum())
    return torch.repeat_interleave(torch.arange(len(freqs)), torch.from_numpy(counts))


def export_tabular(run: str | Path, out: str | Path) -> Path:
    """A tabular run as a folder that samples without the run: ``generator.safetensors``
    (G_ema's weights when the run kept them), ``config.json`` (``"kind": "tabular"``, the
    run's configuration, its step and row count) and ``tabular.json`` (the transform). No
    training row is written: sampling needs only the category frequencies in tabular.json.
    :func:`load_tabular` (and ``ganforge sample``) read it."""
    import json

    from safetensors.torch import save_file

    from ganforge.core.config import to_dict
    from ganforge.hub.export import CONFIG_NAME, EXPORT_FORMAT, EXPORT_VERSION, WEIGHTS_NAME

    model = load_tabular(run)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.G.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_NAME))
    info = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "kind": "tabular",
            "config": to_dict(model.config), "step": model.step,
            "n_rows": int(model.table.cats.shape[0])}  # fmt: skip
    (folder / CONFIG_NAME).write_text(json.dumps(info, indent=1), encoding="utf-8")
    table = {"format": "ganforge-tabular", "name": model.table.name,
             **model.transform.to_dict()}  # fmt: skip
    (folder / TRANSFORM_NAME).write_text(json.dumps(table, indent=1), encoding="utf-8")
    return folder


def _load_exported(folder: Path, device: str | torch.device) -> TabularModel:
    import json

    from safetensors.torch import load_file

    from ganforge.hub.export import CONFIG_NAME, WEIGHTS_NAME

    info = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    if info.get("kind") != "tabular":
        raise CheckpointError(f"{folder} is not an exported tabular model")
    cfg = from_dict(TrainConfig, info["config"])
    tr, name = load_transform(folder)
    n = int(info["n_rows"])
    idx = [_category_indices(c.freqs, n) for _, c in tr.discrete]
    cats = torch.stack(idx, 1) if idx else torch.zeros((n, 0), dtype=torch.long)
    table = TabularData(tr, torch.zeros((0, tr.width)), cats, name)
    nets = from_dict(TabularNetworks, dict(cfg.model.args), "model.args")
    G = build_tabular_networks(tr, cfg.model.z_dim, nets, cfg.tricks.pac)["G"]
    G.load_state_dict(load_file(str(folder / WEIGHTS_NAME)))
    G = G.to(device).eval().requires_grad_(False)
    return TabularModel(G, table, cfg, int(info.get("step", 0)))


def load_tabular(run: str | Path, *, device: str = "cpu") -> TabularModel:
    """A tabular run folder (``checkpoints/latest.pt``, ``tabular.json``,
    ``tabular_data.safetensors``), a folder written by :func:`export_tabular` or
    ``zoo:NAME`` as a :class:`TabularModel`."""
    from ganforge.hub.export import is_exported_dir

    if isinstance(run, str) and run.startswith("zoo:"):
        from ganforge.hub.zoo import resolve_zoo

        run = resolve_zoo(run[4:])
    folder = Path(run)
    if folder.is_dir() and is_exported_dir(folder):
        return _load_exported(folder, device)
    ckpt = load_checkpoint(folder)
    if ckpt.get("kind") != "tabular":
        raise CheckpointError(f"{ckpt['path']} is not a tabular run")
    if folder.is_file():
        folder = folder.parent.parent
    cfg = config_of(ckpt)
    table = TabularData.load(folder)
    nets = from_dict(TabularNetworks, dict(cfg.model.args), "model.args")
    G = build_tabular_networks(table.transform, cfg.model.z_dim, nets, cfg.tricks.pac)["G"]
    # the moving average of G's weights when the run kept one (objective.args.ema)
    weights = ckpt["G_ema"] if "G_ema" in ckpt else ckpt["G"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
    G.load_state_dict(state)
    G = G.to(device).eval().requires_grad_(False)
    return TabularModel(G, table, cfg, int(ckpt["step"]))


def training_table(model: TabularModel) -> tuple[Any, Any, str | None, str]:
    """``(train, test or None, target or None, task)`` of a run's data: a built-in table's
    fixed split and target; a file as it is (no held-out rows); the rows the run encoded
    (decoded) when the file is gone or the run was trained on a DataFrame."""
    from ganforge.apps.tabular.datasets import TABLES, table_split
    from ganforge.apps.tabular.tableio import read_table

    spec = model.config.data.spec
    if spec in TABLES:
        train, test, ts = table_split(spec)
        return train, test, ts.target, ts.task
    if spec and Path(spec).is_file():
        return read_table(spec), None, None, "classification"
    return model.transform.decode(model.table.x.numpy()), None, None, "classification"


def evaluate_run(
    run: str | Path,
    *,
    test: Any = None,
    target: str | None = None,
    n: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Tabular metrics of a run (:func:`~.metrics.evaluate_table`): ``n`` synthetic rows
    (as many as the training rows by default) against the run's training table, and with
    held-out rows (a built-in table's test split, or ``test``) ML efficacy on ``target``
    (a built-in table's own by default) and DCR privacy."""
    from ganforge.apps.tabular.metrics import evaluate_table

    model = load_tabular(run)
    train, held_out, default_target, task = training_table(model)
    test = held_out if test is None else test
    target = target or default_target
    if target is not None and target not in model.columns:
        raise TableError(f"--target {target}: no such column; columns: {', '.join(model.columns)}")
    if target is not None and model.transform.column(target).column.kind == "continuous":
        task = "regression"
    synth = model.sample(n or len(train), seed=seed)
    columns = [c.column for c in model.transform.columns]
    res = evaluate_table(train, synth, test=test, target=target, task=task, columns=columns,
                         seed=seed)  # fmt: skip
    res["protocol"] = {
        "source": str(run), "step": model.step, "n_synth": len(synth), "n_real": len(train),
        "n_test": 0 if test is None else len(test), "target": target, "task": task,
        "seed": seed, "data": model.config.data.spec,
    }  # fmt: skip
    return res


__all__ = ["TabularModel", "evaluate_run", "load_tabular", "load_transform", "tabular_trainer"]
