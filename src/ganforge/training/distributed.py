"""Multi-process data-parallel training with ``torchrun`` (one process per GPU or CPU slot).

``torchrun --nproc_per_node=K -m ganforge train ...`` starts K processes with the usual
``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` environment; multi-node works through torchrun's
rendezvous flags. Each process

* holds the full run state (weights, optimizer, RNGs, the global data permutation), so a
  checkpoint is the same whatever the process count and resumes with any other count;
* draws the *global* batch's indices and latents from the shared training generator and
  keeps its own slice, so K processes see exactly the batch one process would;
* averages gradients across processes with one coalesced ``all_reduce`` per network per
  update. (We reduce explicitly instead of wrapping in ``DistributedDataParallel``: a GAN
  step runs D two or three times before one backward, which DDP's reducer rejects unless
  the graph is static; the explicit reduction is what DDP computes, without the hooks.)

Only rank 0 writes logs, samples and checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_type: str) -> DistInfo:
    """Join the process group torchrun describes in the environment (no-op without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return info


def local_slice(n_global: int, info: DistInfo) -> slice:
    """This rank's share of a global batch of ``n_global`` items."""
    if n_global % info.world_size:
        raise ValueError(
            f"batch_size={n_global} is not divisible by the {info.world_size} processes; "
            "choose a batch size that is a multiple of --nproc_per_node"
        )
    per = n_global // info.world_size
    return slice(info.rank * per, (info.rank + 1) * per)


def average_gradients(params: list[torch.Tensor], info: DistInfo) -> None:
    """All-reduce the gradients of ``params`` and divide by the world size (as DDP does)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not info.enabled or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n
