"""Forward and backward passes of a chain of linear layers with a piecewise-linear
activation, written out by hand — the 2-D mixtures' networks trained without autograd.

A chain is ``Linear -> act -> Linear -> act -> ... -> Linear`` with ``act`` ReLU
(``slope = 0``) or LeakyReLU(``slope``). The 2-D presets' networks are such chains of
128- and 64-unit layers, where autograd's bookkeeping weighs: one autograd step of
``gan-ring8`` makes ~260 operator calls and builds and walks a graph, and its matrix
products are 31% of its operator time. Written out, the step is ~160 calls, the backward of
each activation one fused kernel (``threshold_backward`` / ``leaky_relu_backward``), no
graph, and the products are 54% (profiled with ``torch.profiler``; 1.2-1.4x faster a step,
BENCHMARKS.md).

Shapes: ``x`` (N, in); activations ``acts = [x, h_1, ..., h_{L-1}, out]`` with ``h_i``
(N, width_i) the post-activation outputs and ``out`` (N, out) the last layer's (linear)
output; gradients of weights (out_i, in_i) and biases (out_i,) in the layers' order.

R1 (Mescheder et al. 2018) needs the gradient of ``||grad_x D(x)||^2`` with respect to D's
weights — a double backward under autograd. For a chain with a piecewise-linear activation
it has a closed form: with the activation's slopes ``m_i`` (1 or ``slope``) fixed at the
sample, ``grad_x D(x) = ((w_L * m_{L-1}) W_{L-1} * m_{L-2} ... ) W_1`` is a chain of
linear maps, the slopes have zero derivative almost everywhere (autograd's double backward
of ReLU/LeakyReLU uses the same), and the penalty's weight gradients are this backward
chain's own backward pass (:func:`r1_weight_grads`; checked against autograd in the tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

Tensor = torch.Tensor

#: Weight and bias gradients of one layer: (out, in) and (out,).
LayerGrads = tuple[Tensor, Tensor]


@dataclass(frozen=True)
class Chain:
    """A chain's parameters — the layers' own tensors, which optimizers, the guard and
    checkpoint loading update in place — and its activation's negative slope. Held as
    tensors, with the weights' transposed views made once: a step reads each weight six
    times, and ``module.weight`` / ``.t()`` cost ~1-2 us a read at these sizes."""

    weights: tuple[Tensor, ...]  # (out_i, in_i)
    biases: tuple[Tensor, ...]  # (out_i,)
    slope: float
    weights_t: tuple[Tensor, ...] = field(init=False)  # (in_i, out_i) views

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights_t", tuple(w.t() for w in self.weights))

    @classmethod
    def of(cls, layers: Sequence[nn.Linear], slope: float) -> Chain:
        return cls(tuple(m.weight for m in layers), tuple(m.bias for m in layers), slope)

    def __len__(self) -> int:
        return len(self.weights)

    def parameters_with(self, grads: Sequence[LayerGrads]) -> dict[Tensor, Tensor]:
        """Parameter -> gradient, from per-layer (weight, bias) gradients."""
        out: dict[Tensor, Tensor] = {}
        for w, b, (gw, gb) in zip(self.weights, self.biases, grads, strict=True):
            out[w], out[b] = gw, gb
        return out


def _act_backward(grad: Tensor, h: Tensor, slope: float) -> Tensor:
    """Gradient through the activation, given its output ``h`` (the sign of the output is
    the sign of the input for ReLU and for LeakyReLU with a positive slope)."""
    if slope == 0.0:
        return torch.ops.aten.threshold_backward(grad, h, 0.0)
    return torch.ops.aten.leaky_relu_backward(grad, h, slope, True)


def _weight_grad(g: Tensor, h: Tensor) -> Tensor:
    """``g^T h`` (out, in) from ``g`` (N, out) and ``h`` (N, in). A product with two output
    columns runs at a fraction of the speed of its transpose (41 against 10 us for the 2-D
    presets' first layers, one thread), so a layer wider at its output than at its input
    computes ``(h^T g)^T`` instead."""
    if g.shape[1] > h.shape[1]:
        return h.t().mm(g).t().contiguous()
    return g.t().mm(h)


def chain_forward(chain: Chain, x: Tensor) -> list[Tensor]:
    """The chain on ``x`` (N, in): ``[x, h_1, ..., out]``, every activation kept for the
    backward pass. Runs without a graph."""
    acts = [x]
    last = len(chain) - 1
    slope = chain.slope
    for i in range(len(chain)):
        a = torch.addmm(chain.biases[i], acts[-1], chain.weights_t[i])
        if i < last:
            a = torch.relu_(a) if slope == 0.0 else torch.nn.functional.leaky_relu_(a, slope)
        acts.append(a)
    return acts


def chain_backward(
    chain: Chain,
    acts: Sequence[Tensor],
    grad_out: Tensor,
    *,
    weight_grads: bool = True,
    input_grad: bool = False,
) -> tuple[list[LayerGrads], Tensor | None]:
    """Backpropagate ``grad_out`` (N, out), the loss's gradient with respect to the chain's
    output, through the chain whose forward pass gave ``acts``.

    Returns the layers' (weight, bias) gradients (an empty list without ``weight_grads``)
    and the gradient with respect to the input (N, in) when ``input_grad``.
    """
    grads: list[LayerGrads] = []
    g = grad_out
    for i in range(len(chain) - 1, -1, -1):
        if weight_grads:
            grads.append((_weight_grad(g, acts[i]), g.sum(0)))
        if i == 0 and not input_grad:
            break
        g = g.mm(chain.weights[i])
        if i > 0:
            g = _act_backward(g, acts[i], chain.slope)
    grads.reverse()
    return grads, (g if input_grad else None)


def r1_weight_grads(
    chain: Chain, acts: Sequence[Tensor], scale: float
) -> tuple[list[Tensor], Tensor]:
    """Weight gradients of ``scale * mean_n ||grad_x D(x_n)||^2`` for a chain D with one
    output, from the activations of D's forward pass on the real batch ``x`` (N, in).

    Returns the weight gradients in the layers' order (biases get none: the input gradient
    of a piecewise-linear chain does not depend on them) and the penalty's value (a 0-dim
    tensor, for logging).
    """
    n = acts[0].shape[0]
    w = chain.weights
    if w[-1].shape[0] != 1:
        raise ValueError(f"R1 needs a one-output chain, got {w[-1].shape[0]} outputs")
    slopes = [_act_backward(torch.ones_like(h), h, chain.slope) for h in acts[1:-1]]
    # u[j]: gradient of D's output with respect to layer j's pre-activation, (N, out_j)
    u: list[Tensor] = []
    grad = w[-1].expand(n, -1)  # with respect to the last layer's input
    for j in range(len(w) - 2, -1, -1):
        u.append(grad * slopes[j])
        grad = u[-1].mm(w[j])
    u.reverse()
    grad_x = grad  # (N, in)
    penalty = scale * grad_x.square().sum(1).mean()
    du = grad_x * (2.0 * scale / n)  # d penalty / d grad_x
    weights: list[Tensor] = []
    for j in range(len(w) - 1):
        weights.append(u[j].t().mm(du))  # grad_x = u_j W_j ...: dW_j = u_j^T du
        du = du.mm(chain.weights_t[j]) * slopes[j]
    weights.append(du.sum(0, keepdim=True))  # the last weight enters every row of grad
    return weights, penalty
