"""The generator base class every model family's G derives from, and the capabilities a
generator may declare.

Shared vocabulary: ``z_dim`` is the latent size; ``out_shape`` is the shape of one generated
item — ``(C, H, W)`` for images (values in [-1, 1]), ``(C, L)`` for audio, ``(V, L)`` for
text, ``(2,)`` for points in the plane.

Capabilities are :class:`typing.Protocol` classes checked with ``isinstance``: code that
needs a style-based generator asks ``isinstance(G, StyleBased)``, never for an attribute.
A family declares a capability by implementing the protocol's methods; the protocols are
the contract between model families and everything above them (sampling controls, the
server, projection, training objectives).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import nn

if TYPE_CHECKING:
    from ganforge.core.config import TrainConfig


class Generator(nn.Module):
    """Maps latents ``z`` of shape (N, z_dim) to data of shape (N, *out_shape)."""

    #: The run configuration it was trained with (set by the loaders in :mod:`ganforge.hub`).
    config: TrainConfig | None = None
    #: Training steps behind these weights (set by the loaders).
    step: int = 0

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


@runtime_checkable
class StyleBased(Protocol):
    """A mapping network z -> W and a synthesis network W -> x (StyleGAN, Karras et al.).

    ``ws`` are (N, num_ws, w_dim): one style per synthesis input.
    """

    num_ws: int
    w_avg: torch.Tensor

    def mapping(
        self, z: torch.Tensor, *, truncation_psi: float = 1.0, update_w_avg: bool = True
    ) -> torch.Tensor: ...

    def synthesis(self, ws: torch.Tensor, *, noise_mode: str = "random") -> torch.Tensor: ...

    def training_ws(self, z: torch.Tensor) -> torch.Tensor: ...

    def style_mix(
        self, z_a: torch.Tensor, z_b: torch.Tensor, crossover_layer: int, **kw: Any
    ) -> torch.Tensor: ...


@runtime_checkable
class LatentCodes(Protocol):
    """Latents ``[noise | codes]`` with named categorical/continuous codes (InfoGAN's
    ``cat0``/``cont0``..., the conditional GAN's ``class``)."""

    noise_dim: int
    code_layout: Sequence[Any]

    def code(self, name: str) -> Any: ...

    def draw_latents(self, n: int, generator: torch.Generator) -> torch.Tensor: ...

    def make_latents(
        self, n: int, *, seed: int | None = None, codes: Mapping[str, Any] | None = None
    ) -> torch.Tensor: ...

    def split_latents(
        self, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]: ...


@runtime_checkable
class ClassConditional(Protocol):
    """Generates a requested class: ``sample_class(n, k)`` (N, *out_shape), k in
    ``range(num_classes)``."""

    num_classes: int

    def sample_class(
        self, n: int, class_id: int, *, seed: int | None = None, batch_size: int = 256
    ) -> torch.Tensor: ...


@runtime_checkable
class LinearChainNet(Protocol):
    """A network that is, as built, a chain ``Linear -> act -> ... -> Linear`` with ReLU
    (slope 0) or LeakyReLU(slope) between the layers, mapping (N, in) to (N, out) — which
    lets a trainer run it with hand-written gradients
    (:mod:`ganforge.training.linear_chain`). ``linear_chain()`` gives the layers and the
    activation's negative slope, or None where this instance is not such a chain (extra
    inputs, a minibatch-statistics layer, reparametrised weights)."""

    def linear_chain(self) -> tuple[Sequence[nn.Linear], float] | None: ...


@runtime_checkable
class SampleWriter(Protocol):
    """Writes its own samples in its modality (audio clips, text lines) for the file types in
    ``sample_suffixes``; ``write_samples(x, path)`` returns the file written."""

    sample_suffixes: tuple[str, ...]

    def write_samples(self, x: torch.Tensor, path: Path) -> Path: ...


@runtime_checkable
class DataBound(Protocol):
    """Takes something from its training data before training (a text G its vocabulary)."""

    def bind_data(self, data: Any) -> None: ...


@runtime_checkable
class TextDecoder(Protocol):
    """Decodes its outputs (N, V, L) to strings."""

    def decode(self, x: torch.Tensor) -> list[str]: ...
