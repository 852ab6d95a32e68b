"""Non-finite guard: a NaN or Inf never ends a run silently or destroys its weights.

The seed's FAQ 1 ("NaN appears during training") answers: other optimizers, gradient
clipping. The guard adds the mechanics around that advice:

1. every update, the global gradient norm (already computed for clipping and logging) is
   checked; a non-finite one means the update is skipped (the trainer does this);
2. every step, the weights of G and D are checked (one fused norm per network);
   non-finite weights — or ``skip_limit`` skipped updates in a row — roll G, D, G_ema
   and both optimizers back to the last good in-memory snapshot; from the
   ``lr_after``-th rollback not yet forgiven on (default 2), both learning rates are also
   multiplied by ``lr_factor`` — an isolated fault (a corrupted batch, a bit flip) says
   nothing about the learning rate, a second one soon after does;
3. each event is written to ``metrics.jsonl``; after ``max_rollbacks`` rollbacks the run
   stops with :class:`TrainingDiverged`, whose message names the likely cause and the
   setting to change, after saving the last good state as ``checkpoints/latest.pt``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ganforge.training.trainer import Trainer


class TrainingDiverged(RuntimeError):
    """Training kept producing non-finite values; the message says what to change."""


def all_finite(module: torch.nn.Module | list[torch.Tensor]) -> bool:
    """Whether every weight is finite (one fused norm, one host sync)."""
    tensors = module.parameters() if isinstance(module, torch.nn.Module) else module
    params = [p.detach() for p in tensors]
    if not params:
        return True
    return bool(torch.isfinite(torch.stack(torch._foreach_norm(params)).sum()))


class NonFiniteGuard:
    """Snapshots, rollbacks and the diagnosis for one :class:`Trainer`."""

    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer
        self.cfg = trainer.cfg.guard
        self.snapshot_state: dict[str, Any] | None = None
        self.snapshot_step = -1
        self.rollbacks = 0  # rollbacks not yet forgiven by a stretch of clean steps
        self.consecutive_skips = 0
        self.clean_steps = 0  # steps since the last rollback or LR recovery
        self.counts = {
            "nonfinite_grad_D": 0,
            "nonfinite_grad_G": 0,
            "nonfinite_data": 0,
            "nonfinite_weights": 0,
        }
        self.last_grad_norms: dict[str, float] = {}

    def snapshot(self) -> None:
        t = self.t
        self.snapshot_state = copy.deepcopy(
            {
                "G": t.G.state_dict(),
                "D": t.D.state_dict(),
                "G_ema": t.G_ema.state_dict(),
                "opt_g": t.opt_g.state_dict(),
                "opt_d": t.opt_d.state_dict(),
            }
        )
        self.snapshot_step = t.step

    def note_skip(self, which: str, data_ok: bool) -> None:
        self.counts[f"nonfinite_grad_{which}"] += 1
        if not data_ok:
            self.counts["nonfinite_data"] += 1
        self.consecutive_skips += 1

    def after_step(self, skipped_any: bool) -> None:
        """Called by the trainer after every step."""
        t = self.t
        if not skipped_any:
            self.consecutive_skips = 0
        weights_ok = all_finite(t.params_of("G") + t.params_of("D"))  # one host sync
        if not weights_ok:
            self.counts["nonfinite_weights"] += 1
        if not weights_ok or self.consecutive_skips >= self.cfg.skip_limit:
            self.rollback("nonfinite_weights" if not weights_ok else "repeated_skips")
        elif self.snapshot_state is None or t.step - self.snapshot_step >= self.cfg.snapshot_every:
            self.snapshot()
        if weights_ok and not skipped_any:
            self.clean_steps += 1
            if self.rollbacks and self.clean_steps >= self.cfg.recover_after:
                self.recover()

    def recover(self) -> None:
        """After ``recover_after`` clean steps, undo one LR halving and forgive one
        rollback: a single bad batch should not slow the rest of the run for good."""
        t = self.t
        self.rollbacks -= 1
        self.clean_steps = 0
        if t.lr_scale < 1.0:
            t.lr_scale = min(1.0, t.lr_scale / self.cfg.lr_factor)
            t.apply_lr()
            t.events.append({"step": t.step, "event": "lr_recovered", "lr_scale": t.lr_scale})

    def state_dict(self) -> dict[str, int]:
        return {"rollbacks": self.rollbacks, "clean_steps": self.clean_steps}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.rollbacks = int(state.get("rollbacks", 0))
        self.clean_steps = int(state.get("clean_steps", 0))

    def rollback(self, reason: str) -> None:
        t = self.t
        if self.snapshot_state is None:  # nothing good yet: the first steps already failed
            raise TrainingDiverged(self.diagnosis(reason))
        self.rollbacks += 1
        st = self.snapshot_state
        t.G.load_state_dict(st["G"])
        t.D.load_state_dict(st["D"])
        t.G_ema.load_state_dict(st["G_ema"])
        t.opt_g.load_state_dict(st["opt_g"])
        t.opt_d.load_state_dict(st["opt_d"])
        if self.rollbacks >= self.cfg.lr_after:
            t.lr_scale *= self.cfg.lr_factor
            t.apply_lr()
        self.consecutive_skips = 0
        self.clean_steps = 0
        t.events.append(
            {
                "step": t.step,
                "event": "rollback",
                "reason": reason,
                "to_step": self.snapshot_step,
                "lr_g": t.opt_g.param_groups[0]["lr"],
                "lr_d": t.opt_d.param_groups[0]["lr"],
                "rollbacks": self.rollbacks,
            }
        )
        if self.rollbacks > self.cfg.max_rollbacks:
            raise TrainingDiverged(self.diagnosis(reason))

    def diagnosis(self, reason: str) -> str:
        c = self.counts
        o = self.t.cfg.optim
        lines = [
            f"training diverged at step {self.t.step} ({reason}; {self.rollbacks} rollbacks, "
            f"events: {c})."
        ]
        if c["nonfinite_data"]:
            lines.append(
                "Likely cause: the data holds NaN/Inf values — check data.spec "
                f"({self.t.cfg.data.spec}); ganforge does not clean numeric arrays."
            )
        elif o.grad_clip <= 0:
            lines.append(
                "Likely cause: exploding gradients. Set optim.grad_clip (e.g. "
                "--set optim.grad_clip=1.0) and/or lower the learning rates "
                f"(optim.lr_g={o.lr_g}, optim.lr_d={o.lr_d})."
            )
        else:
            lines.append(
                f"Likely cause: learning rates too high for this model (optim.lr_g="
                f"{o.lr_g}, optim.lr_d={o.lr_d}); lower them, or try optim.name="
                "'rmsprop' or loss.name='hinge' (ganforge list)."
            )
        lines.append("The last good weights are saved in checkpoints/latest.pt.")
        return " ".join(lines)
