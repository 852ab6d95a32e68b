"""The training engine's contract with what it trains: objectives and the step context.

An :class:`Objective` says which networks a run trains, in which optimizer groups, which
get a moving-average copy, and what one training step does — the plain GAN game, InfoGAN's
mutual information, pix2pix's L1-regularised conditional GAN, CycleGAN's two games and
cycles, AdvGAN's attack. The :class:`~ganforge.training.trainer.Trainer` owns everything
around the step (data order, RNG, precision, optimizers, gradient averaging across
processes, clipping, the non-finite guard, EMA, checkpoints, callbacks) and hands the step
a :class:`StepContext` — never itself. stylegan2-ada's ``Loss.accumulate_gradients(phase,
...)`` splits training the same way: the loop does not know the loss, the loss does not
know the loop.

A step draws every random number it needs from ``ctx.generator`` (or through the
context's helpers), so a checkpoint resumes bit-exactly; it returns detached scalar
tensors to log and never syncs with the host.

Objectives are registered by name in :data:`OBJECTIVES` (``objective.name`` in a config;
``auto`` picks the model family's own, see :func:`objective_name`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ganforge.core.config import ConfigError, TrainConfig, from_dict
from ganforge.core.registry import Registry
from ganforge.data.base import TensorData
from ganforge.training.batching import PermutationBatcher
from ganforge.training.distributed import DistInfo, local_slice
from ganforge.training.precision import autocast

Tensor = torch.Tensor

OBJECTIVES: Registry[type[Objective]] = Registry("training objective")


class StepContext:
    """What one training step may use.

    Attributes:
        cfg: the run's configuration.
        nets: the networks by name (``"G"``, ``"D"``, ``"G_ema"``, ``"G_AB"`` ...).
        device: where they live.
        precision: ``fp32``, ``bf16`` or ``fp16`` (resolved).
        generator: the run's CPU random generator; draw every random number from it.
        dist: this process's rank and the world size (``torchrun``).
        step: steps completed before this one.
        last_real: the last real batch :meth:`next_batch` returned (the non-finite guard
            checks it when an update turns out non-finite).
    """

    def __init__(
        self,
        cfg: TrainConfig,
        nets: Mapping[str, nn.Module],
        *,
        device: torch.device,
        precision: str,
        generator: torch.Generator,
        dist: DistInfo,
        update: Callable[[str, Tensor], None],
        update_with_grads: Callable[[str, Mapping[Tensor, Tensor]], None] | None = None,
        batcher: PermutationBatcher | None = None,
        data: TensorData | None = None,
    ) -> None:
        self.cfg = cfg
        self.nets = nets
        self.device = device
        self.precision = precision
        self.generator = generator
        self.dist = dist
        self.step = 0
        self.last_real: Tensor | None = None
        self._update = update
        self._update_with_grads = update_with_grads
        self._batcher = batcher
        self._x = self._y = None
        if data is not None:
            self._x = data.x.to(device)
            self._y = data.y.to(device) if data.y is not None else None

    def use_layout(self, memory_format: torch.memory_format) -> None:
        """Keep the real images in the networks' layout (NHWC with ``channels_last``)."""
        if self._x is not None and self._x.dim() == 4:
            self._x = self._x.contiguous(memory_format=memory_format)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast for network forwards at the run's precision."""
        return autocast(self.device, self.precision)

    def update(self, group: str, loss: Tensor) -> None:
        """Backpropagate ``loss`` into optimizer group ``group``'s networks only, average
        the gradients across processes, skip a non-finite update, clip and step."""
        self._update(group, loss)

    def update_with_grads(self, group: str, grads: Mapping[Tensor, Tensor]) -> None:
        """:meth:`update` from gradients the step computed itself (parameter -> gradient;
        e.g. by :mod:`ganforge.training.linear_chain`) instead of a loss to backpropagate."""
        if self._update_with_grads is None:
            raise RuntimeError("this context takes losses only (no update_with_grads)")
        self._update_with_grads(group, grads)

    def local(self, x: Tensor) -> Tensor:
        """This process's share of a global draw ``x`` (N, ...), moved to the device."""
        return x[local_slice(x.shape[0], self.dist)].to(self.device)

    def next_batch(self) -> tuple[Tensor, Tensor | None]:
        """This process's slice of the next global batch of the run's data: (items, labels
        or None). Data order comes from a permutation per epoch, checkpointed."""
        if self._batcher is None or self._x is None:
            raise RuntimeError("this objective draws its own batches (no default data order)")
        idx = self.local(self._batcher.next())
        y = self._y.index_select(0, idx) if self._y is not None else None
        self.last_real = self._x.index_select(0, idx)
        return self.last_real, y


class Objective:
    """What a run trains and what one step of it does (see the module docstring).

    Subclasses set the class attributes and implement :meth:`build_networks`,
    :meth:`step` and :meth:`write_samples`.

    Attributes:
        name: the registered name.
        groups: optimizer group -> the networks it updates. ``"G"`` groups learn at
            ``optim.lr_g``, ``"D"`` groups at ``optim.lr_d``.
        ema: moving-average copy -> the network it follows (``{"G_ema": "G"}``).
        batches_from_data: the engine's default data order feeds :meth:`StepContext.next_batch`.
        args_type: a frozen dataclass of the objective's weights (``objective.args``).
        auto_precisions: the precisions ``precision = "auto"`` may choose for this
            objective (an explicit ``precision`` is always obeyed); an objective whose
            results are measured worse in reduced precision keeps to ``("fp32",)``.
        data: the training data.
        args: the parsed ``objective.args``.
    """

    name: ClassVar[str] = ""
    groups: ClassVar[Mapping[str, tuple[str, ...]]] = {"G": ("G",), "D": ("D",)}
    ema: ClassVar[Mapping[str, str]] = {"G_ema": "G"}
    batches_from_data: ClassVar[bool] = True
    args_type: ClassVar[type | None] = None
    auto_precisions: ClassVar[tuple[str, ...]] = ("fp32", "bf16", "fp16")

    def __init__(self, cfg: TrainConfig, data: TensorData) -> None:
        self.cfg = cfg
        self.data = data
        self.args = self.parse_args(cfg)

    @classmethod
    def parse_args(cls, cfg: TrainConfig) -> Any:
        """``objective.args`` as this objective's ``args_type`` (unknown keys and wrong
        types fail, naming the valid keys)."""
        if cls.args_type is None:
            if cfg.objective.args:
                raise ConfigError(
                    f"objective {cls.name!r} takes no objective.args, got "
                    f"{sorted(cfg.objective.args)}"
                )
            return None
        return from_dict(cls.args_type, dict(cfg.objective.args), "objective.args")

    @property
    def image_data(self) -> bool:
        """Whether the networks see images (channels-last applies)."""
        return self.data.is_image

    def build_networks(self) -> dict[str, nn.Module]:
        """The trained networks by name (every name in :attr:`groups`), on the CPU."""
        raise NotImplementedError

    def setup(self, ctx: StepContext) -> None:
        """Called once before training, after the networks are on their device."""

    def step(self, ctx: StepContext) -> dict[str, Tensor]:
        """One training step: the updates of every group, through ``ctx.update``."""
        raise NotImplementedError

    def write_samples(self, nets: Mapping[str, nn.Module], path: Path, step: int) -> Path:
        """Write what the run has learned so far (a grid, a scatter plot, audio, text)
        to ``path`` (a ``.png`` name; modality writers may change the suffix); returns the
        file written."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Objective state to checkpoint (counters, pools, adaptive probabilities)."""
        return {}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        """Restore from a checkpoint dict (the whole one: keys of :meth:`state_dict`)."""

    def step_description(self, ctx: StepContext) -> str:
        """How this run's step computes its gradients, when that is not autograd's usual
        way (printed at the start); empty otherwise."""
        return ""

    def describe(self) -> str:
        """One line for the console: what trains on what."""
        return f"{self.cfg.model.name} ({self.name}) on {self.data.name} ({len(self.data)} items)"


def objective_name(cfg: TrainConfig) -> str:
    """``objective.name``, with ``auto`` resolved to the model family's own objective: the
    objective of the same name where one is registered (``infogan``, ``pix2pix`` ...),
    ``conditional`` or ``acgan`` for ``cgan`` by its ``mode``, else ``gan``."""
    if cfg.objective.name != "auto":
        return cfg.objective.name
    family = cfg.model.name
    if family == "cgan":
        return "acgan" if cfg.model.args.get("mode", "projection") == "acgan" else "conditional"
    return family if family in OBJECTIVES else "gan"
