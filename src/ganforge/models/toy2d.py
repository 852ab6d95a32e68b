"""Small fully connected G/D for low-dimensional point data (the 2-D Gaussian mixtures).

Sizes follow the spirit of the PacGAN/VEEGAN 2-D experiments (a few hidden layers of a
few hundred units); they are arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

from ganforge.core.registry import MODELS
from ganforge.models.base import Generator
from ganforge.models.layers import MinibatchStdDev


def _plain_chain(net: nn.Sequential, slope: float) -> tuple[list[nn.Linear], float] | None:
    """The Linear layers of ``net`` when it is exactly Linear/activation alternating with
    plain weights (no spectral-norm parametrisation); else None."""
    layers = [m for m in net if isinstance(m, nn.Linear)]
    if len(net) != 2 * len(layers) - 1 or any(parametrize.is_parametrized(m) for m in layers):
        return None
    return layers, slope


def _mlp(
    sizes: Sequence[int], act: type[nn.Module], out_act: nn.Module | None = None
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


class PointGenerator(Generator):
    """z (N, z_dim) -> points (N, *out_shape), unbounded.

    ``latent_clusters = K > 0`` gives G a disconnected latent space: the first coordinate of
    z picks one of K equally likely clusters (through the normal CDF, so z stays a standard
    normal for every sampler), whose learned embedding replaces it at G's input; the other
    ``z_dim - 1`` coordinates place the sample inside the cluster. A continuous G of a
    connected Gaussian latent must draw samples along the paths between separated modes;
    with clusters it need not (DeLiGAN's learned latent mixture, Gurumurthy et al., CVPR
    2017; Khayatkhoei et al., NeurIPS 2018, on disconnected manifolds). Choose K a multiple
    of the expected mode count so the clusters can split evenly.
    """

    def __init__(
        self,
        z_dim: int,
        out_shape: tuple[int, ...],
        hidden: Sequence[int],
        latent_clusters: int = 0,
    ) -> None:
        super().__init__(z_dim, out_shape)
        if latent_clusters < 0 or (latent_clusters and z_dim < 2):
            raise ValueError(
                f"latent_clusters={latent_clusters} needs latent_clusters >= 0 and, when "
                f"set, z_dim >= 2 (one coordinate picks the cluster), got z_dim={z_dim}"
            )
        self.latent_clusters = latent_clusters
        width = z_dim
        if latent_clusters:
            self.cluster_embedding = nn.Embedding(latent_clusters, 2 * (z_dim - 1))
            nn.init.normal_(self.cluster_embedding.weight, std=2.0)
            width = 3 * (z_dim - 1)
        self.net = _mlp([width, *hidden, math.prod(out_shape)], nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.latent_clusters:
            u = torch.special.ndtr(z[:, 0].detach().float())
            k = (u * self.latent_clusters).long().clamp_(0, self.latent_clusters - 1)
            z = torch.cat([self.cluster_embedding(k).to(z.dtype), z[:, 1:]], dim=1)
        return self.net(z).view(z.shape[0], *self.out_shape)

    def linear_chain(self) -> tuple[list[nn.Linear], float] | None:
        """The ReLU chain z (N, z_dim) -> (N, prod(out_shape)), without latent clusters."""
        return None if self.latent_clusters else _plain_chain(self.net, 0.0)


class PointDiscriminator(nn.Module):
    """Points (N, *in_shape) -> logits (N,).

    ``mbstd_group > 0`` appends the minibatch standard deviation of the last hidden layer
    (groups of that many samples; Karras et al. 2018) before the output layer.
    """

    def __init__(
        self,
        in_shape: tuple[int, ...],
        hidden: Sequence[int],
        slope: float = 0.2,
        mbstd_group: int = 0,
    ) -> None:
        super().__init__()
        sizes = [math.prod(in_shape), *hidden, 1]
        self.slope = slope
        self.net = _mlp(sizes, lambda: nn.LeakyReLU(slope))
        if mbstd_group > 0:  # one extra input feature for the last layer
            self.net[-1] = nn.Linear(hidden[-1] + 1, 1)
            self.net.insert(len(self.net) - 1, MinibatchStdDev(mbstd_group))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)

    def linear_chain(self) -> tuple[list[nn.Linear], float] | None:
        """The LeakyReLU chain (N, prod(in_shape)) -> (N, 1), without minibatch std."""
        return _plain_chain(self.net, self.slope)


@MODELS.register("toy2d")
def build_toy2d(
    *,
    z_dim: int,
    out_shape: tuple[int, ...],
    g_hidden: Sequence[int] = (128, 128, 128),
    d_hidden: Sequence[int] = (128, 128, 128),
    mbstd_group: int = 0,
    latent_clusters: int = 0,
) -> tuple[Generator, nn.Module]:
    """MLP G/D pair for 2-D point data (ring8, grid25); ``mbstd_group``: see
    :class:`PointDiscriminator`; ``latent_clusters``: see :class:`PointGenerator`."""
    return (
        PointGenerator(z_dim, out_shape, g_hidden, latent_clusters),
        PointDiscriminator(out_shape, d_hidden, mbstd_group=mbstd_group),
    )
