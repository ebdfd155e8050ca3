"""Backpropagation written out for a chain of Linear and (Leaky)ReLU layers.

The GAN lab steps two small MLPs hundreds of times a second. At that size autograd's
bookkeeping (recording the graph, the engine's queue, one Python-visible node per op) costs
more than the arithmetic: a plain 2-D GAN step took 2.8 ms through autograd, of which about
1 ms is matrix products. For a chain of affine layers and leaky ReLUs the backward pass is
three lines per layer, so `GAN` runs such players through this module instead (see
`GAN.train_step`); tests check it against autograd.

A chain is read from modules once: nn.Sequential (nested), nn.Linear, nn.LeakyReLU, nn.ReLU, and
the layers that do nothing to a batch of vectors (nn.Identity, nn.Flatten). Anything else
(batch norm, dropout, minibatch layers, convolutions) makes `LinearChain.of` return None and
the caller keeps autograd.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

_leaky_relu_backward = torch.ops.aten.leaky_relu_backward


class LinearChain:
    """Forward and backward through `layers`: ("linear", nn.Linear) or ("leaky", slope)."""

    def __init__(self, layers: list[tuple[str, object]]):
        self.layers = layers
        self.params = [p for kind, m in layers if kind == "linear"
                       for p in (m.weight, m.bias)]

    @classmethod
    def of(cls, *modules: nn.Module) -> LinearChain | None:
        layers: list[tuple[str, object]] = []
        for m in modules:
            if not _collect(m, layers):
                return None
        if not any(kind == "linear" for kind, _ in layers):
            return None
        return cls(layers)

    def forward(self, x: torch.Tensor, keep: bool = True):
        """The chain's output, and the tape `backward` needs (each layer's input), or None
        when keep is False. Call under torch.no_grad(): no graph is wanted."""
        tape = [] if keep else None
        for kind, m in self.layers:
            if tape is not None:
                tape.append(x)
            x = F.linear(x, m.weight, m.bias) if kind == "linear" else F.leaky_relu(x, m)
        return x, tape

    def backward(self, tape: list[torch.Tensor], grad: torch.Tensor, weights: bool = True,
                 inputs: bool = False):
        """Gradients of the loss whose gradient at the output is `grad`: for `params` (in
        that order; None when weights is False) and for the chain's input (None unless
        inputs is True)."""
        grads: list[torch.Tensor] = []
        first = 0 if inputs else self._first_linear()
        for i in range(len(self.layers) - 1, first - 1, -1):
            kind, m = self.layers[i]
            if kind == "leaky":
                grad = _leaky_relu_backward(grad, tape[i], m, False)
                continue
            if weights:
                grads += [grad.sum(0), grad.t().mm(tape[i])]  # bias, weight
            if i > first or inputs:
                grad = grad.mm(m.weight)
        if weights:
            grads.reverse()  # collected from the last layer back: now weight, bias, ... in order
        return (grads if weights else None), (grad if inputs else None)

    def _first_linear(self) -> int:
        return next(i for i, (kind, _) in enumerate(self.layers) if kind == "linear")


def _collect(m: nn.Module, layers: list) -> bool:
    if isinstance(m, nn.Sequential):
        return all(_collect(sub, layers) for sub in m)
    if type(m) is nn.Linear:
        if m.bias is None:
            return False
        layers.append(("linear", m))
        return True
    if type(m) is nn.LeakyReLU:
        layers.append(("leaky", float(m.negative_slope)))
        return True
    if type(m) is nn.ReLU:
        layers.append(("leaky", 0.0))
        return True
    if type(m) is nn.Identity:
        return True
    if type(m) is nn.Flatten:  # a batch of vectors is flat already; images never get here
        return m.start_dim == 1 and m.end_dim == -1
    return False
