"""The GAN's steps with the backward pass written out, for players that are plain MLPs.

The GAN lab steps two small MLPs hundreds of times a second. At that size autograd's
bookkeeping (recording the graph, the engine's queue, one Python-visible node per op) costs
more than the arithmetic: a plain 2-D GAN step took 2.8 ms through autograd, of which about
1 ms is matrix products. For a chain of affine layers and leaky ReLUs the backward pass is
three lines per layer (`LinearChain`), the losses' derivatives in D's output are closed forms
(losses.GANLoss), and the optimiser takes the gradients as usual (`p.grad`, then `opt.step()`).
`GAN.train_step` runs `d_step` / `g_step` here when `GAN.linear_chains()` finds both players
such chains; tests/models/test_by_hand.py holds every such config to autograd's updates.

A chain is read from modules once: nn.Sequential (nested), nn.Linear, nn.LeakyReLU, nn.ReLU, and
the layers that do nothing to a batch of vectors (nn.Identity, nn.Flatten). Anything else
(batch norm, dropout, minibatch layers, convolutions) makes `LinearChain.of` return None and
the caller keeps autograd.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from workbench.models.gan import fused_adam
from workbench.models.gan import losses as L
from workbench.models.gan.nets import Discriminator

if TYPE_CHECKING:
    from workbench.models.gan.model import GAN

_leaky_relu_backward = torch.ops.aten.leaky_relu_backward


def applies_to(model: GAN) -> bool:
    """Whether this config's steps can run by hand: unconditional players, no gradient
    penalty (they need double backward), no packing, unrolling, augmentation or InfoGAN head,
    and points (not images). Whether the players are chains is `chains_of`'s question."""
    c = model.config
    return not (model.conditional or model.Q is not None or c.pack != 1 or c.gp_weight
                or c.r1_gamma or c.unroll_steps or c.augment != "none"
                or model.data.kind == "image")


def chains_of(G: nn.Module, D: nn.Module) -> tuple[LinearChain, LinearChain] | None:
    """G and D as linear chains, or None when either is not one (or D looks across the
    batch)."""
    dc = LinearChain.of(D.trunk, D.head) \
        if isinstance(D, Discriminator) and not D.batch_dependent else None
    gc = LinearChain.of(G)
    return (gc, dc) if gc is not None and dc is not None else None


@torch.no_grad()
def d_step(model: GAN, x, y, G: LinearChain, D: LinearChain) -> dict:
    """GAN.d_step for linear-chain players: the same draws, losses and update."""
    c = model.config
    obj = model.objective
    model.observe_real(x)
    fresh = model.to_data_space(G.forward(model.draw_codes(x.shape[0])[0], keep=False)[0])
    fake = fresh
    if model.replay is not None:
        fake, _ = model.replay.mix(fresh, y, c.replay_fraction)
        model.replay.push(fresh, y)
    x_real = model.with_instance_noise(model.augmented(x))
    x_fake = model.with_instance_noise(model.augmented(fake))
    n = x_real.shape[0]
    out, tape, _ = _judge(model, D, torch.cat([x_real, x_fake]))
    d_real, d_fake = out[:n], out[n:]
    loss, t_real, t_fake = model.d_loss(d_real, d_fake)
    g_out = torch.cat([obj.d_loss_grad(d_real, t_real), obj.d_loss_grad(d_fake, t_fake)])
    grads, _ = D.backward(tape, g_out.view(-1, 1))
    grad = L.norm_of(grads)
    apply_gradients(model.optimizers["D"], D.params, grads)
    if c.clip_value > 0:
        torch._foreach_clamp_min_(D.params, -c.clip_value)
        torch._foreach_clamp_max_(D.params, c.clip_value)
    return dict(d_loss=loss, d_real=obj.mean_output(d_real), d_fake=obj.mean_output(d_fake),
                grad_d=grad)  # no penalties here


@torch.no_grad()
def g_step(model: GAN, n: int, G: LinearChain, D: LinearChain) -> dict:
    """GAN.g_step for linear-chain players: D's weights get no gradient, only G's."""
    obj = model.objective
    raw, g_tape = G.forward(model.draw_codes(n)[0])
    fake = model.with_instance_noise(model.augmented(model.to_data_space(raw)))
    out, d_tape, f = _judge(model, D, fake)
    loss = obj.g_loss(out)
    _, g_x = D.backward(d_tape, obj.g_loss_grad(out).view(-1, 1), weights=False, inputs=True)
    grads, _ = G.backward(g_tape, (g_x if f is None else g_x * f).view(raw.shape))
    grad = L.norm_of(grads)
    apply_gradients(model.optimizers["G"], G.params, grads)
    return dict(g_loss=loss, grad_g=grad)


def _judge(model: GAN, D: LinearChain, x):
    """D's outputs on x (scaled as GAN.discriminate scales it), the tape, and the factor."""
    f = model.d_input_factor()
    out, tape = D.forward(x.flatten(1) if f is None else x.flatten(1) * f)
    return out.view(-1), tape, f


def apply_gradients(opt: torch.optim.Optimizer, params: list[torch.Tensor],
                    grads: list[torch.Tensor]) -> None:
    """Hand gradients worked out here to the optimiser, then step it (fused_adam.py: the direct
    kernel call where it is the same as `opt.step()`, which does it everywhere else)."""
    for p, g in zip(params, grads):
        p.grad = g
    fused_adam.step(opt)


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
