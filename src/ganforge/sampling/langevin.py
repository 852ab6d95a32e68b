"""Discriminator-driven latent sampling, DDLS (Che, Zhang, Sohl-Dickstein, Larochelle,
Paull, Cao & Bengio, "Your GAN is Secretly an Energy-based Model and You Should Use
Discriminator Driven Latent Sampling", NeurIPS 2020).

A discriminator trained with the logistic loss has logit ``d(x) = log p_data(x) / p_g(x)``
at its optimum, so ``p_g(x) exp(d(x))`` is ``p_data``. Pulled back through ``x = G(z)`` with
``z ~ N(0, I)``, that density is an energy-based model in the latent space,

    E(z) = |z|^2 / 2 - power * d(G(z)),

and Langevin dynamics ``z <- z - (eps / 2) grad E(z) + sqrt(eps) * noise`` sample it;
``G(z)`` then follows ``p_data`` to the extent ``d`` is right. Where rejection sampling
(:mod:`ganforge.sampling.rejection`) throws away the proposals G makes between modes, this *moves*
them into the modes: every proposal is kept, at the cost of ``steps`` forward and backward
passes through G and D per sample.

``d`` is D's logit after the same Platt calibration as rejection sampling
(``a * logit + b`` on real and generated samples; ``b`` drops out of the gradient).
``power`` > 1 targets ``p_g^(1 - power) p_data^power``, sharper modes, as in
:mod:`ganforge.sampling.rejection`.

Usage::

    sampler = LatentLangevinSampler(G, D, real_x, steps=100, step_size=1e-3).fit()
    x = sampler.sample(2500, seed=0)          # (2500, *G.out_shape)
    sampler.stats.log_ratio_before, sampler.stats.log_ratio_after

or, for a run folder, ``langevin_sampler_for_run("runs/gan-ring8")``
(:mod:`ganforge.sampling.policy`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganforge.sampling.calibration import discriminator_logits, platt_scale

Tensor = torch.Tensor


@dataclass
class LangevinStats:
    """What the last :meth:`LatentLangevinSampler.fit`/``sample`` did.

    Attributes:
        platt_a, platt_b: calibration ``log ratio = a * logit + b``.
        calib_loss: logistic loss of the calibration (``log 2`` = no information).
        log_ratio_before, log_ratio_after: mean calibrated log ratio of the last
            sample's points before and after the Langevin steps (it should rise).
    """

    platt_a: float = 1.0
    platt_b: float = 0.0
    calib_loss: float = math.nan
    log_ratio_before: float = math.nan
    log_ratio_after: float = math.nan


class LatentLangevinSampler:
    """Samples of ``G`` moved by Langevin dynamics on the latent energy ``E(z)``.

    Args:
        G: generator with standard-normal latents (``make_z``/``forward``), used frozen
            and in eval mode.
        D: the run's discriminator: G's outputs -> logits (N,). It is copied; the run's D
            is not changed. Conditional discriminators are not supported.
        real: real data (N, *G.out_shape) in G's output range, for the calibration.
        steps: Langevin steps per sample (0 = G alone).
        step_size: ``eps`` of the update. Too large and the noise ``sqrt(eps)`` scatters
            the samples (on the 2-D presets 0.01 already lowered quality); too small and
            they barely move.
        power: weight of D's log ratio in the energy (1 = DDLS; > 1 sharpens).
        seed: seeds the calibration's generated samples.
        batch_size: samples moved at once (memory: ``steps`` is not stored, one batch's
            graph is).
        max_calib: most real (and as many generated) samples in the calibration.

    Raises:
        ValueError: fewer than 10 real samples, or a negative step count / non-positive
            step size or power.
    """

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        real: Tensor,
        *,
        steps: int = 100,
        step_size: float = 1e-3,
        power: float = 1.0,
        seed: int = 0,
        batch_size: int = 1024,
        max_calib: int = 20_000,
    ) -> None:
        if real.shape[0] < 10:
            raise ValueError(
                f"latent Langevin sampling needs real data to calibrate on, got {real.shape[0]}"
            )
        if steps < 0 or not step_size > 0.0 or not power > 0.0 or batch_size < 1:
            raise ValueError(
                "steps >= 0, step_size > 0, power > 0 and batch_size >= 1 are required, got "
                f"steps={steps}, step_size={step_size}, power={power}, batch_size={batch_size}"
            )
        self.G = G.eval()  # its weights are left as they are: grad() is taken w.r.t. z only
        self.device = next(G.parameters()).device
        self.D = copy.deepcopy(D).to(self.device).eval().requires_grad_(False)
        self.steps = int(steps)
        self.step_size = float(step_size)
        self.power = float(power)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        perm = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(self.seed))
        self.real = real[perm[:max_calib]].float()
        self.stats = LangevinStats()
        self._fitted = False

    @torch.no_grad()
    def _logits(self, x: Tensor, chunk: int = 1024) -> Tensor:
        return torch.cat(
            [
                discriminator_logits(self.D, x[i : i + chunk].to(self.device))
                for i in range(0, x.shape[0], chunk)
            ]
        )

    def _log_ratio(self, x: Tensor) -> Tensor:
        return self.stats.platt_a * self._logits(x) + self.stats.platt_b

    @torch.no_grad()
    def _generate(self, z: Tensor) -> Tensor:
        return torch.cat(
            [
                self.G(z[i : i + self.batch_size].to(self.device)).float()
                for i in range(0, z.shape[0], self.batch_size)
            ]
        )

    def fit(self) -> LatentLangevinSampler:
        """Calibrate D's logit on the real data and as many generated samples."""
        n = self.real.shape[0]
        fake = self._generate(self.G.make_z(n, seed=self.seed + 3))
        a, b, loss = platt_scale(self._logits(self.real), self._logits(fake))
        self.stats.platt_a, self.stats.platt_b, self.stats.calib_loss = a, b, loss
        self._fitted = True
        return self

    def energy(self, z: Tensor) -> Tensor:
        """``E(z) = |z|^2 / 2 - power * a * logit(G(z))`` (N,) for latents (N, z_dim)."""
        logit = discriminator_logits(self.D, self.G(z))
        return 0.5 * z.flatten(1).pow(2).sum(1) - self.power * self.stats.platt_a * logit

    def refine(self, z: Tensor, *, seed: int = 0) -> Tensor:
        """Run the Langevin chain from latents ``z`` (N, z_dim); returns the moved latents
        on the CPU. The noise is drawn on the CPU from ``seed`` (same seed, same result on
        any device)."""
        if not self._fitted:
            raise RuntimeError("call fit() before refine()")
        gen = torch.Generator().manual_seed(int(seed))
        noise_scale = math.sqrt(self.step_size)
        out = []
        for i in range(0, z.shape[0], self.batch_size):
            zb = z[i : i + self.batch_size].to(self.device).float()
            for _ in range(self.steps):
                zb = zb.detach().requires_grad_(True)
                with torch.enable_grad():
                    (grad,) = torch.autograd.grad(self.energy(zb).sum(), [zb])
                noise = torch.randn(zb.shape, generator=gen).to(self.device)
                zb = zb.detach() - 0.5 * self.step_size * grad + noise_scale * noise
            out.append(zb.detach().cpu())
        return torch.cat(out) if out else z.clone()

    def describe(self) -> dict[str, Any]:
        """The sampler and its settings, for evaluation protocols."""
        return {
            "name": "langevin",
            "power": self.power,
            "steps": self.steps,
            "step_size": self.step_size,
        }

    def sample(self, n: int, *, seed: int = 0) -> Tensor:
        """``n`` samples (n, *G.out_shape) on the CPU: G at Langevin-moved latents.

        ``seed`` fixes the starting latents (``G.make_z(n, seed)``) and the chain's noise.
        """
        z0 = self.G.make_z(n, seed=seed)
        z = self.refine(z0, seed=int(seed) + 1)
        x0, x = self._generate(z0), self._generate(z)
        self.stats.log_ratio_before = float(self._log_ratio(x0).mean())
        self.stats.log_ratio_after = float(self._log_ratio(x).mean())
        return x.cpu()


def __getattr__(name: str) -> object:
    """``langevin_sampler_for_run`` (from a run folder) lives with the other run-level rules in
    :mod:`ganforge.sampling.policy`; this name keeps working here."""
    if name == "langevin_sampler_for_run":
        from ganforge.sampling import policy

        return policy.langevin_sampler_for_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
