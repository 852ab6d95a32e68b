"""Adam and AdamW on PyTorch's fused kernel, without ``torch.optim`` around it.

The update is ``torch._fused_adam_`` / ``torch._fused_adamw_`` — the kernel
``torch.optim.Adam(fused=True)`` calls — with the same arguments, so weights and moments
are bit-identical to ``torch.optim.Adam(..., fused=True)`` step for step (tested), and
:meth:`FusedAdam.state_dict` has ``torch.optim.Adam``'s layout: checkpoints written by
either load into the other.

Why not ``torch.optim.Adam`` itself: constructing any ``torch.optim.Optimizer`` imports
``torch._dynamo`` (its ``__init__`` patches ``step`` through ``torch._disable_dynamo``),
1.5 s of a process's start on a laptop CPU — a fifth of a whole tabular fit, and paid by
every ``ganforge train`` — and each ``step()`` then passes through the dynamo-disable,
profiler and device/dtype-grouping wrappers: 204 us against the kernel's 114 us for a
CTGAN generator's six tensors (measured, one thread). ``optim.name = "adam"`` and
``"adamw"`` use this class where the fused kernel runs (floating-point weights on CPU or
CUDA), ``torch.optim`` otherwise.

It implements the surface the engine uses: ``param_groups`` (learning rates are set
there), ``zero_grad``, ``step``, ``state_dict``, ``load_state_dict`` — which also makes it
usable by ``torch.amp.GradScaler`` (unscale, then step on finite gradients).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

Tensor = torch.Tensor

#: The keys of one ``torch.optim.Adam`` parameter group (besides ``params``), in its order.
_GROUP_FLAGS = {
    "amsgrad": False,
    "maximize": False,
    "foreach": None,
    "capturable": False,
    "differentiable": False,
    "fused": True,
}


class FusedAdam:
    """Adam (Kingma & Ba 2015) with L2 weight decay, or AdamW (Loshchilov & Hutter 2019)
    with ``decoupled=True``, on the fused kernel.

    Args:
        params: tensors, or dicts of parameter groups (``{"params": [...], "lr": ...}``).
        lr, betas, eps, weight_decay: as ``torch.optim.Adam``.
        decoupled: AdamW's decoupled weight decay.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        decoupled: bool = False,
    ) -> None:
        items = list(params)
        if not items:
            raise ValueError("optimizer got an empty parameter list")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        self.decoupled = decoupled
        self.param_groups: list[dict[str, Any]] = []
        seen: set[int] = set()
        for g in groups:
            group = {**defaults, **{k: v for k, v in g.items() if k != "params"}}
            group.update(_GROUP_FLAGS, decoupled_weight_decay=decoupled)
            group["params"] = list(g["params"])
            for p in group["params"]:
                if not (p.is_floating_point() and p.device.type in ("cpu", "cuda")):
                    raise ValueError(
                        "FusedAdam needs floating-point tensors on cpu or cuda, got "
                        f"{p.dtype} on {p.device}"
                    )
                if id(p) in seen:
                    raise ValueError("a parameter appears in more than one group")
                seen.add(id(p))
            self.param_groups.append(group)
        # per parameter: [step (float32 scalar on the parameter's device), exp_avg, exp_avg_sq]
        self.state: dict[Tensor, dict[str, Tensor]] = {}
        # group index -> (ids of the parameters with gradients, their tensors in buckets)
        self._bucket_cache: dict[int, tuple[tuple[int, ...], list[list[list[Tensor]]]]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    def _state_of(self, p: Tensor) -> dict[str, Tensor]:
        st = self.state.get(p)
        if st is None:
            st = {
                "step": torch.zeros((), dtype=torch.float32, device=p.device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
            self.state[p] = st
        return st

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        kernel = torch._fused_adamw_ if self.decoupled else torch._fused_adam_
        for index, group in enumerate(self.param_groups):
            beta1, beta2 = group["betas"]
            for params, exp_avgs, exp_avg_sqs, steps in self._buckets(index, group):
                torch._foreach_add_(steps, 1)
                kernel(
                    params, [p.grad for p in params], exp_avgs, exp_avg_sqs, [], steps,
                    amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2,
                    weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
                    grad_scale=None, found_inf=None,
                )  # fmt: skip

    def _buckets(self, index: int, group: dict[str, Any]) -> list[list[list[Tensor]]]:
        """The group's parameters that have gradients, with their state tensors, in lists
        per device and dtype (the kernel takes one of each per call): built when that set
        changes or the state is loaded, else reused — rebuilding them costs more than the
        kernel for a small network's handful of tensors."""
        with_grad = [p for p in group["params"] if p.grad is not None]
        key = tuple(map(id, with_grad))
        cached = self._bucket_cache.get(index)
        if cached is not None and cached[0] == key:
            return cached[1]
        buckets: dict[tuple[torch.device, torch.dtype], list[list[Tensor]]] = {}
        for p in with_grad:
            st = self._state_of(p)
            lists = buckets.setdefault((p.device, p.dtype), [[], [], [], []])
            for lst, t in zip(lists, (p, st["exp_avg"], st["exp_avg_sq"], st["step"]), strict=True):
                lst.append(t)
        self._bucket_cache[index] = (key, list(buckets.values()))
        return self._bucket_cache[index][1]

    # ------------------------------------------------------------------ state
    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Adam``'s layout: state by parameter index, then the groups."""
        index = {id(p): i for i, p in enumerate(self._params())}
        groups, start = [], 0
        for g in self.param_groups:
            n = len(g["params"])
            groups.append({**{k: v for k, v in g.items() if k != "params"},
                           "params": list(range(start, start + n))})  # fmt: skip
            start += n
        state = {index[id(p)]: dict(st) for p, st in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict` or from ``torch.optim.Adam``/``AdamW``.

        The tensors are copied (a caller's snapshot stays untouched by later steps)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(a["params"]) != len(b["params"])
            for a, b in zip(groups, self.param_groups, strict=True)
        ):
            raise ValueError(
                "optimizer state does not match this optimizer's parameter groups "
                f"({[len(g['params']) for g in groups]} saved, "
                f"{[len(g['params']) for g in self.param_groups]} here)"
            )
        params = self._params()
        for saved, group in zip(groups, self.param_groups, strict=True):
            for key in ("lr", "betas", "eps", "weight_decay"):
                if key in saved:
                    group[key] = tuple(saved[key]) if key == "betas" else saved[key]
        self.state = {}
        self._bucket_cache = {}
        for idx, st in state_dict["state"].items():
            p = params[int(idx)]
            self.state[p] = {
                "step": st["step"].detach().to(dtype=torch.float32, device=p.device).clone(),
                "exp_avg": st["exp_avg"].detach().to(dtype=p.dtype, device=p.device).clone(),
                "exp_avg_sq": st["exp_avg_sq"].detach().to(dtype=p.dtype, device=p.device).clone(),
            }
