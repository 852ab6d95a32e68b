"""The training monitor: "is this going wrong?" answered from signals the run already has.

Two things go wrong in GAN training often enough to check for them every time:

* **Mode collapse** — G maps every latent to (nearly) the same output. Seen directly as a
  lack of variety among G_ema's samples on a fixed set of latents: their mean pairwise
  distance, relative to the same for real items (``sample_diversity``; ~1 for a healthy
  run, near 0 for a collapsed one).
* **D winning** — D tells real from fake (nearly) always, G's gradient vanishes and the
  samples stop improving (the failure of the tutorial MLP GAN, docs/mlp_gan.md); with
  adaptive augmentation, ADA's ``r_t = E[sign D(real)]`` pinned near 1 says the same about
  memorised reals (D overfitting a small data set, Karras et al. 2020).

Both are normal for a while at the start (the first samples are noise while D learns
faster than G), so the monitor stays quiet for the first :data:`WARMUP` of the run and
needs a condition to hold over several checks before it warns. A warning names the
setting to try, goes to the console and to ``metrics.jsonl`` (``"event": "warning"``,
shown in the report), and is given once per kind. The thresholds are measured: the
healthy presets (``dcgan-mnist``, ``gan-ring8``, ``stylegan-mnist``) stay below them on
their whole runs, the tutorial MLP GAN crosses them (tests/test_monitor.py replays their
logs).
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from ganforge.training.callbacks import Callback

if TYPE_CHECKING:
    from ganforge.training.callbacks import RunView

#: Fraction of the run (and at least this many steps) before the monitor judges anything.
WARMUP = 0.15
MIN_STEPS = 300
#: Sample diversity below this (relative to real items) is collapse.
COLLAPSE_BELOW = 0.25
#: D right on this share of reals and fakes, averaged over the window, is D winning.
D_WINS_ABOVE = 0.99
#: ADA's r_t above this, averaged over the window, is D overfitting the reals.
RT_ABOVE = 0.9
#: Checks (logged steps) a condition must hold before a warning.
WINDOW = 8
N_SAMPLES = 64
BCE_LOSSES = ("ns", "minimax", "hinge", "lsgan", "ragan", "ralsgan")


@dataclass(frozen=True)
class Finding:
    kind: str
    message: str


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean L2 distance between all pairs of rows of ``x`` (N, ...) (flattened)."""
    flat = x.detach().float().reshape(len(x), -1)
    d = torch.cdist(flat, flat)
    n = len(flat)
    return float(d.sum() / max(n * (n - 1), 1))


def assess(
    history: list[dict[str, float]], diversity: list[float], *, loss: str, ada: bool
) -> list[Finding]:
    """What the last :data:`WINDOW` checks say; ``history`` holds the logged step records,
    ``diversity`` the sample diversities of the same checks (pure function, replayable)."""
    found: list[Finding] = []
    recent = diversity[-WINDOW:]
    if len(recent) == WINDOW and max(recent) < COLLAPSE_BELOW:
        found.append(
            Finding(
                "mode_collapse",
                f"mode collapse: G's samples are nearly alike (variety {recent[-1]:.2f} of the "
                "real data's, over the last checks). Try loss.name = 'hinge' with "
                "tricks.spectral_norm = true, or model.args.mbstd_group = 4 (minibatch "
                "stddev), or a lower optim.lr_d",
            )
        )
    window = history[-WINDOW:]
    if len(window) == WINDOW and loss in BCE_LOSSES:
        real = [r.get("d_acc_real") for r in window]
        fake = [r.get("d_acc_fake") for r in window]
        if all(v is not None for v in real + fake):
            if min(real) > D_WINS_ABOVE and min(fake) > D_WINS_ABOVE:
                found.append(
                    Finding(
                        "d_wins",
                        "D wins: it tells real from fake almost always, so G learns little. "
                        "Try a smaller D (model.args.ndf), a lower optim.lr_d, "
                        "tricks.label_smoothing = 0.1, or loss.name = 'hinge'",
                    )
                )
    if ada and len(window) == WINDOW:
        rts = [r.get("ada_rt") for r in window]
        if all(v is not None and v == v for v in rts) and min(rts) > RT_ABOVE:
            found.append(
                Finding(
                    "d_overfits",
                    f"D overfits the real images (ADA's r_t {rts[-1]:.2f} stays above "
                    f"{RT_ABOVE}): more images help most; else raise the augmentation "
                    "(lower tricks.ada_target) or add R1 (loss.args.r1_gamma)",
                )
            )
    return found


class TrainingMonitor(Callback):
    """Checks every logged step after the warm-up; warns once per kind."""

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []
        self.diversity: deque[float] = deque(maxlen=WINDOW)
        self.warned: set[str] = set()
        self._z: torch.Tensor | None = None
        self._real_spread = 0.0

    def on_train_start(self, run: RunView) -> None:
        G = run.nets["G_ema"]
        self._z = G.make_z(N_SAMPLES, seed=run.cfg.seed + 31_337)
        gen = torch.Generator().manual_seed(run.cfg.seed + 31_337)  # never the run's RNG
        idx = torch.randperm(len(run.data), generator=gen)[:N_SAMPLES]
        self._real_spread = mean_pairwise_distance(run.data.x[idx])

    def on_log(self, run: RunView, record: dict[str, Any]) -> None:
        if "event" in record or self._z is None:
            return
        self.history = (self.history + [record])[-WINDOW:]
        if run.step < max(MIN_STEPS, WARMUP * run.cfg.steps):
            return
        with torch.no_grad():
            spread = mean_pairwise_distance(run.nets["G_ema"].generate(self._z))
        self.diversity.append(spread / max(self._real_spread, 1e-12))
        run.log({"step": run.step, "event": "monitor", "sample_diversity": self.diversity[-1]})
        cfg = run.cfg
        for f in assess(self.history, list(self.diversity), loss=cfg.loss.name, ada=cfg.tricks.ada):
            if f.kind in self.warned:
                continue
            self.warned.add(f.kind)
            print(f"\nwarning at step {run.step}: {f.message}", file=sys.stderr, flush=True)
            run.log(
                {"step": run.step, "event": "warning", "kind": f.kind, "message": f.message,
                 "sample_diversity": self.diversity[-1]}
            )  # fmt: skip
