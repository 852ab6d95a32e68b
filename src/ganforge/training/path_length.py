"""Path-length regularisation for StyleGAN generators (Karras et al. 2020, section 3.2).

StyleGAN2 asks that a fixed-size step in W changes the image by a fixed amount,
whatever the direction: for a random image-space direction ``y ~ N(0, I) / sqrt(H*W)``
the length ``||J_w^T y||`` (``J_w`` the Jacobian of the image with respect to w) should
stay close to its running mean ``a``. The penalty is

    E_{w, y} (||J_w^T y||_2 - a)^2,      a <- a + decay * (mean length - a)

and is computed with one extra backward pass (``J^T y`` is the gradient of
``sum(G(w) * y)`` with respect to w). Following stylegan2-ada-pytorch, the length is
taken over the per-layer ws as ``sqrt(mean_over_layers(sum_over_dims(g^2)))``.

The engine owns the schedule: the paper uses weight 2 and applies the penalty lazily
every 4 G steps, multiplying it by the interval (``loss += 2 * 4 * penalty``), usually on
half the batch (``pl_batch_shrink = 2``: pass ``z[: N // 2]``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ganforge.models.base import StyleBased

Tensor = torch.Tensor


class PathLengthPenalty:
    """Stateful path-length penalty; the state is the running mean length ``pl_mean``.

    Args:
        decay: rate of the running mean (0.01 in the paper).

    Example:
        >>> pl = PathLengthPenalty()
        >>> if step % 4 == 0:
        ...     loss_g = loss_g + 2.0 * 4 * pl(G, z[: len(z) // 2])
    """

    def __init__(self, decay: float = 0.01) -> None:
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"PathLengthPenalty decay must be in (0, 1], got {decay}")
        self.decay = float(decay)
        self.pl_mean = torch.zeros([])

    def __call__(self, G: Any, z: Tensor, *, noise_mode: str = "random") -> Tensor:
        """Penalty for generator ``G`` on latents ``z``.

        Args:
            G: a :class:`~ganforge.models.base.StyleBased` generator (``training_ws`` and
                ``synthesis``), e.g. :class:`~ganforge.models.stylegan.StyleGANGenerator`.
                Style mixing is applied in training mode, as in the paper.
            z: (N, z_dim) latents on G's device.
            noise_mode: noise used for the generated images.

        Returns:
            Scalar ``mean((len - pl_mean)^2)``, differentiable with respect to G's
            parameters. Updates ``pl_mean`` (detached) as a side effect.
        """
        if not isinstance(G, StyleBased):
            raise TypeError(
                "PathLengthPenalty needs a style-based generator (mapping, synthesis: "
                f"StyleGAN), got {type(G).__name__}"
            )
        ws = G.training_ws(z)
        if not ws.requires_grad:  # e.g. a frozen mapping network: still measure w.r.t. ws
            ws = ws.detach().requires_grad_(True)
        img = G.synthesis(ws, noise_mode=noise_mode)
        h, w = img.shape[2], img.shape[3]
        # Scaling by 1/sqrt(H*W) makes the expected length independent of resolution.
        y = torch.randn_like(img) / math.sqrt(h * w)
        (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
        lengths = grad.float().square().sum(dim=2).mean(dim=1).sqrt()  # (N,)
        pl_mean = self.pl_mean.to(lengths.device).lerp(lengths.mean().detach(), self.decay)
        self.pl_mean = pl_mean.detach()
        return (lengths - pl_mean).square().mean()

    def state_dict(self) -> dict[str, Tensor]:
        """State to checkpoint: ``{"pl_mean": scalar tensor}`` (on the CPU)."""
        return {"pl_mean": self.pl_mean.detach().cpu().clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore from :meth:`state_dict`."""
        if "pl_mean" not in state:
            raise KeyError(
                f"PathLengthPenalty state needs the key 'pl_mean', got {sorted(state)}; "
                "pass the dict saved by PathLengthPenalty.state_dict()"
            )
        self.pl_mean = torch.as_tensor(state["pl_mean"], dtype=torch.float32).detach().clone()
