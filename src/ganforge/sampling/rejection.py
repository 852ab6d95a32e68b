"""Discriminator rejection sampling (Azadi, Olsson, Darrell, Goodfellow & Odena, ICLR 2019).

A discriminator trained with the logistic loss estimates the density ratio: at its optimum
``D*(x) = p_data(x) / (p_data(x) + p_g(x))``, so its logit is ``log p_data(x) / p_g(x)``.
Drawing ``x ~ p_g`` and accepting it with probability ``p_data(x) / (M p_g(x))``, where
``M`` bounds the ratio, is ordinary rejection sampling and returns samples from ``p_data``
to the extent the ratio is right. It removes what G makes where the data has no mass —
the trails a continuous generator draws between separated modes — and rebalances modes
that G over- or under-produces.

The adversarially trained D is not the optimal D for the final G (G kept moving, the EMA
generator was never shown to D, regularisers bias it), so its logit is calibrated with
Platt scaling (``a * logit + b``) on real and fresh generated samples. DRS also *refines*
a copy of D against the frozen generator first; that is available (``refine_steps``) but
off by default, because it scored worse on every setting we measured. ``M`` is the largest
ratio seen on a burn-in draw (the paper's estimate), or a quantile of it to raise the
acceptance rate (samples above ``M`` are then always accepted: the DRS paper's ``gamma``
shift plays the same role).

Where it helps: the calibration reuses the data D was trained on, so when D has memorised
a small training set (5,000 MNIST digits) its ratio is overconfident, few proposals are
kept (3-6% on Stacked MNIST) and the gain is small or negative; on the 2-D mixtures, where
D sees fresh points every step, it lifts the share of samples near a mode from ~91% to
~97.5% (BENCHMARKS.md).

Usage::

    sampler = DiscriminatorRejectionSampler(G, D, real_x).fit()
    x = sampler.sample(2500, seed=0)          # (2500, *G.out_shape)
    sampler.stats.acceptance                  # share of proposals kept

or, for a run folder, ``sampler_for_run("runs/gan-grid25")`` (:mod:`ganforge.sampling.policy`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.sampling.calibration import discriminator_logits, platt_scale

Tensor = torch.Tensor


@dataclass
class RejectionStats:
    """What the last :meth:`DiscriminatorRejectionSampler.fit`/``sample`` did.

    Attributes:
        refine_loss: D's logistic loss over the last 50 refinement steps.
        platt_a, platt_b: calibration ``log ratio = a * logit + b``.
        calib_loss: held-out logistic loss after calibration (``log 2`` = no information).
        log_m: log of the bound ``M`` on ``ratio ** power``.
        proposed, accepted: counts of the last :meth:`~DiscriminatorRejectionSampler.sample`.
    """

    refine_loss: float = math.nan
    platt_a: float = 1.0
    platt_b: float = 0.0
    calib_loss: float = math.nan
    log_m: float = math.nan
    proposed: int = 0
    accepted: int = 0

    @property
    def acceptance(self) -> float:
        return self.accepted / self.proposed if self.proposed else math.nan


class DiscriminatorRejectionSampler:
    """Samples of ``G`` filtered by the density ratio of a refined, calibrated copy of ``D``.

    Args:
        G: generator (``make_z``/``forward``), used frozen and in eval mode.
        D: the run's discriminator: inputs shaped like G's outputs -> logits (N,). It is
            copied; the run's D is not changed. Conditional (label-taking) and packed
            (PacGAN) discriminators are not supported.
        real: real data (N, *G.out_shape) in G's output range. With refinement 20% is
            held out for the calibration; without, the calibration uses all of it (at
            most ``max_calib`` samples).
        refine_steps: logistic-loss steps on a copy of D against the frozen G (0 = use
            D as trained; then only the calibration adapts it).
        batch_size: real and generated samples per refinement step.
        lr: Adam learning rate of the refinement (betas 0.5, 0.999).
        burn_in: generated samples over which ``M`` is estimated.
        m_quantile: ``M`` is this quantile of the burn-in ratios. 1.0 (the maximum) is
            exact rejection sampling under the estimated ratio, but one extreme ratio can
            make it accept almost nothing (seen with barely trained models); at 0.99 at
            least ~1% of proposals are accepted, and the 1% above ``M`` always are. The two
            scored the same on the 2-D presets.
        power: accept with probability ``(r / M) ** power``. 1 is DRS: the samples follow
            the estimated ``p_data``. Above 1 they follow ``p_g^(1 - power) *
            p_data^power`` (normalised): regions G over-produces relative to the data —
            the trails between modes, blurred samples — are cut harder, trading
            diversity for sample quality, like a guidance scale.
        seed: seeds the refinement's draws.
        max_calib: most real (and as many generated) samples in the calibration.

    The defaults are measured (BENCHMARKS.md, mode coverage): on the 2-D presets the
    adversarially trained D, calibrated, beat every refinement tried (300-1,000 steps at
    learning rates 1e-5 to 2e-4), so ``refine_steps`` is 0.
    """

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        real: Tensor,
        *,
        refine_steps: int = 0,
        batch_size: int = 256,
        lr: float = 2e-4,
        burn_in: int = 10_000,
        m_quantile: float = 0.99,
        power: float = 1.0,
        seed: int = 0,
        max_calib: int = 20_000,
    ) -> None:
        if real.shape[0] < 10:
            raise ValueError(
                f"rejection sampling needs real data to calibrate on, got {real.shape[0]} samples"
            )
        if not 0.0 < m_quantile <= 1.0:
            raise ValueError(f"m_quantile must be in (0, 1], got {m_quantile}")
        if not power > 0.0:
            raise ValueError(f"power must be > 0, got {power}")
        if refine_steps < 0 or batch_size < 1 or burn_in < 1:
            raise ValueError("refine_steps >= 0, batch_size >= 1 and burn_in >= 1 are required")
        self.G = G.eval()
        self.device = next(G.parameters()).device
        self.D = copy.deepcopy(D).to(self.device).eval()  # eval: BN keeps the run's statistics
        self.refine_steps = int(refine_steps)
        self.batch_size = int(batch_size)
        self.lr = float(lr)
        self.burn_in = int(burn_in)
        self.m_quantile = float(m_quantile)
        self.power = float(power)
        self.seed = int(seed)
        gen = torch.Generator().manual_seed(self.seed)
        perm = torch.randperm(real.shape[0], generator=gen)
        n_hold = max(real.shape[0] // 5, 5) if self.refine_steps else real.shape[0]
        self.real_hold = real[perm[: min(n_hold, max_calib)]].float()
        self.real_fit = real[perm[n_hold:]].float()
        self.stats = RejectionStats()
        self._fitted = False

    # ------------------------------------------------------------------ helpers
    @torch.no_grad()
    def _fake(self, n: int, seed: int) -> Tensor:
        z = self.G.make_z(n, seed=seed).to(self.device)
        return self.G(z).float()

    def _logits(self, x: Tensor) -> Tensor:
        return discriminator_logits(self.D, x.to(self.device))

    @torch.no_grad()
    def _logits_batched(self, x: Tensor, chunk: int = 1024) -> Tensor:
        return torch.cat([self._logits(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)])

    # ------------------------------------------------------------------ fitting
    def fit(self) -> DiscriminatorRejectionSampler:
        """Refine D, calibrate its logit and estimate ``M``; returns ``self``."""
        self._refine()
        self._calibrate()
        log_r = self._log_target_ratio(self._fake(self.burn_in, seed=self.seed + 2))
        self.stats.log_m = float(torch.quantile(log_r, self.m_quantile))
        self._fitted = True
        return self

    def _refine(self) -> None:
        if self.refine_steps == 0:
            return
        params = [p for p in self.D.parameters() if p.is_floating_point()]
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=self.lr, betas=(0.5, 0.999))
        gen = torch.Generator().manual_seed(self.seed + 1)
        losses: list[Tensor] = []
        n_real = self.real_fit.shape[0]
        for step in range(self.refine_steps):
            idx = torch.randint(n_real, (self.batch_size,), generator=gen)
            real = self.real_fit[idx].to(self.device)
            fake = self._fake(self.batch_size, seed=int(torch.randint(2**31, (1,), generator=gen)))
            loss = F.softplus(-self._logits(real)).mean() + F.softplus(self._logits(fake)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step >= self.refine_steps - 50:
                losses.append(loss.detach() / 2)
        for p in params:
            p.requires_grad_(False)
        self.stats.refine_loss = float(torch.stack(losses).mean())

    def _calibrate(self) -> None:
        """Platt scaling on held-out reals and as many fresh fakes."""
        n = self.real_hold.shape[0]
        logit_real = self._logits_batched(self.real_hold)
        logit_fake = self._logits_batched(self._fake(n, seed=self.seed + 3))
        a, b, loss = platt_scale(logit_real, logit_fake)
        self.stats.platt_a, self.stats.platt_b, self.stats.calib_loss = a, b, loss

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def log_ratio(self, x: Tensor) -> Tensor:
        """Estimated ``log p_data(x) / p_g(x)`` (N,) for samples ``x`` (N, ...)."""
        return self.stats.platt_a * self._logits_batched(x) + self.stats.platt_b

    def _log_target_ratio(self, x: Tensor) -> Tensor:
        """``power * log ratio`` (N,): the quantity ``M`` bounds and acceptance compares."""
        return self.power * self.log_ratio(x)

    def describe(self) -> dict[str, Any]:
        """The sampler and its settings, for evaluation protocols."""
        return {
            "name": "rejection",
            "power": self.power,
            "m_quantile": self.m_quantile,
            "refine_steps": self.refine_steps,
        }

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, max_proposals: int | None = None) -> Tensor:
        """``n`` accepted samples (n, *G.out_shape) on the CPU, in proposal order.

        Args:
            n: samples wanted.
            seed: seeds the proposals and the accept/reject draws (same seed, same output).
            max_proposals: give up after this many proposals (default ``1000 * n``).

        Raises:
            RuntimeError: fewer than ``n`` accepted within ``max_proposals`` (the message
                gives the acceptance rate; lower ``m_quantile`` to accept more).
        """
        if not self._fitted:
            raise RuntimeError("call fit() before sample()")
        limit = max_proposals if max_proposals is not None else 1000 * n
        gen = torch.Generator().manual_seed(int(seed))
        kept: list[Tensor] = []
        n_kept, proposed, chunk, k = 0, 0, max(n, 256), 0
        while n_kept < n:
            if proposed >= limit:
                raise RuntimeError(
                    f"rejection sampling accepted {n_kept} of {proposed} proposals "
                    f"({n_kept / max(proposed, 1):.2%}); lower m_quantile (now {self.m_quantile}) "
                    "or raise max_proposals"
                )
            x = self._fake(chunk, seed=int(seed) * 100_003 + k)
            k += 1
            log_acc = (self._log_target_ratio(x) - self.stats.log_m).clamp(max=0.0).cpu()
            keep = torch.rand(chunk, generator=gen).log() < log_acc
            kept.append(x.cpu()[keep])
            n_kept += int(keep.sum())
            proposed += chunk
        self.stats.proposed, self.stats.accepted = proposed, n_kept
        return torch.cat(kept)[:n]


def __getattr__(name: str) -> object:
    """``sampler_for_run`` (from a run folder) lives with the other run-level rules in
    :mod:`ganforge.sampling.policy`; this name keeps working here."""
    if name == "sampler_for_run":
        from ganforge.sampling import policy

        return policy.sampler_for_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
