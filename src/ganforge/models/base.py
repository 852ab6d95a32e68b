"""The generator base class every model family's G derives from.

Shared vocabulary (DESIGN.md): ``z_dim`` is the latent size; ``out_shape`` is the shape
of one generated item — ``(C, H, W)`` for images (values in [-1, 1]) or ``(2,)`` for
points in the plane.
"""

from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    """Maps latents ``z`` of shape (N, z_dim) to data of shape (N, *out_shape)."""

    def __init__(self, z_dim: int, out_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.z_dim = int(z_dim)
        self.out_shape = tuple(int(s) for s in out_shape)

    @property
    def device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def make_z(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """Standard-normal latents (n, z_dim) drawn on the CPU, so a seed gives the same
        latents on every device."""
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        return torch.randn(n, self.z_dim, generator=gen)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
        """G on latents ``z`` (N, z_dim), ``batch_size`` at a time on G's device; returns
        (N, *out_shape) float32 on the CPU. Train/eval mode is left as it is."""
        outs = [
            self(z[i : i + batch_size].to(self.device)).float().cpu()
            for i in range(0, len(z), batch_size)
        ]
        return torch.cat(outs) if outs else torch.empty(0, *self.out_shape)

    def sample(self, n: int, *, seed: int | None = None, batch_size: int = 256) -> torch.Tensor:
        """Generate ``n`` items (n, *out_shape) on the CPU; images are in [-1, 1].

        The module's train/eval mode is left as it is; :func:`ganforge.load` returns
        generators already in eval mode.
        """
        return self.generate(self.make_z(n, seed=seed), batch_size=batch_size)

    @property
    def is_image(self) -> bool:
        return len(self.out_shape) == 3
