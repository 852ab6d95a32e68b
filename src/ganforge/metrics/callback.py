"""Periodic evaluation during training and ``checkpoints/best.pt`` (``eval.every``,
``eval.metrics``, ``eval.best``).

The samples scored are the run's own — its ``[sample]`` policy
(:func:`ganforge.sampling.policy.make_sampler`) over G_ema, the in-memory D and the
training data — so the numbers in ``metrics.jsonl`` are what ``ganforge eval RUN`` gives
for the same checkpoint and seed, and both record which sampler drew them.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ganforge.core.checkpoint import save_checkpoint
from ganforge.metrics.evaluate import evaluate
from ganforge.sampling.policy import make_sampler
from ganforge.training.callbacks import Callback, RunView

#: The seed of the evaluation's samples and of the samplers' calibration.
EVAL_SEED = 0


class PeriodicEvaluation(Callback):
    """Evaluate every ``eval.every`` steps and at the last step; keep ``best.pt`` by
    ``eval.best`` (lowest value)."""

    def on_step_end(self, run: RunView) -> None:
        ev = run.cfg.eval
        if not ev.every or not (run.step % ev.every == 0 or run.step == run.cfg.steps):
            return
        res = evaluate_run_state(run)
        run.log({"step": run.step, "event": "eval", **res})
        if ev.best:
            self._keep_best(run, res)

    @staticmethod
    def _keep_best(run: RunView, res: dict[str, Any]) -> None:
        key = run.cfg.eval.best
        value = res.get(key)
        if not isinstance(value, (int, float)):
            return
        best_file = run.run_folder.checkpoints / "best.json"
        prev = json.loads(best_file.read_text(encoding="utf-8")) if best_file.exists() else None
        if prev is not None and value >= prev["value"]:
            return
        save_checkpoint(run.state_dict(), run.run_folder.checkpoints / "best.pt")
        tmp = best_file.with_name(f".best.json.tmp{os.getpid()}")
        tmp.write_text(json.dumps({"metric": key, "value": value, "step": run.step}))
        os.replace(tmp, best_file)


def evaluate_run_state(run: RunView) -> dict[str, Any]:
    """``eval.metrics`` of the run as it is now, drawn with the run's sampler."""
    cfg = run.cfg
    sampler = make_sampler(run.nets["G_ema"], cfg, D=run.nets["D"], real=run.data.x, seed=EVAL_SEED)
    return evaluate(
        sampler,
        metrics=list(cfg.eval.metrics),
        n=cfg.eval.n,
        real=cfg.data.spec,
        seed=EVAL_SEED,
        progress=False,
    )
