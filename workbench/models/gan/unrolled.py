"""Unrolled GANs (Metz et al. 2017): G trains against D looked ahead k updates of D's optimiser.

Second order (`looked_ahead_d`, the paper): the k updates are written as functions of the fakes,
so G's loss on the looked-ahead D differentiates through them, and G is pushed towards what D
cannot answer by moving. First order (`d_stepped_ahead`): D really takes k steps, G meets that
D, and D and its optimiser are put back. Either way D itself keeps none of the k steps, and the
look-ahead leaves the penalties (R1, GP) out.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from workbench.models.gan.model import GAN


class LookedAheadD:
    """D with other weights (tensors in a graph), called like D: the unrolled look-ahead."""

    def __init__(self, d: nn.Module, weights: list[torch.Tensor], buffers: dict):
        self.d, self.weights = d, weights
        self.values = {**dict(zip([n for n, _ in d.named_parameters()], weights)), **buffers}

    def __call__(self, x, with_features: bool = False):
        return torch.func.functional_call(self.d, self.values, (x, with_features))


def looked_ahead_d(model: GAN, x, y) -> LookedAheadD:
    """Second order: D after `unroll_steps` updates of its optimiser, written as functions of
    the fakes, so G's loss on it differentiates through the updates. Returns a stand-in for D
    with those weights; D, its buffers and its optimiser are untouched. Each update is D's own
    optimiser step (Adam or RMSprop, continuing its current moments) on D's loss with fresh
    fakes, without penalties."""
    c = model.config
    opt = model.optimizers["D"]
    live = list(model.D.parameters())
    buffers = {k: b.clone() for k, b in model.D.named_buffers()}  # BN statistics stay put
    weights, moments = live, None
    for k in range(c.unroll_steps):
        net = LookedAheadD(model.D, weights, buffers)
        fake = model.generate(model.draw_codes(x.shape[0])[0], y)  # the graph through G stays
        d_real = model.discriminate(model.with_instance_noise(model.augmented(x)), y, net=net)
        d_fake = model.discriminate(model.with_instance_noise(model.augmented(fake)), y,
                                    net=net)
        grads = torch.autograd.grad(model.d_loss(d_real, d_fake)[0], weights,
                                    create_graph=True)
        steps, moments = optimizer_update(opt, live, grads, moments, k)
        weights = [w - u for w, u in zip(weights, steps)]
        if c.clip_value > 0:
            weights = [w.clamp(-c.clip_value, c.clip_value) for w in weights]
    return LookedAheadD(model.D, weights, buffers)


@contextmanager
def d_stepped_ahead(model: GAN, x, y):
    """First order: inside the block D has taken `unroll_steps` real steps (their fakes kept out
    of the replay buffer); afterwards D and its optimiser are as they were."""
    saved = (copy.deepcopy(model.D.state_dict()),
             copy.deepcopy(model.optimizers["D"].state_dict()))
    for _ in range(model.config.unroll_steps):
        model.d_step(x, y, remember=False)
    try:
        yield
    finally:
        model.D.load_state_dict(saved[0])
        model.optimizers["D"].load_state_dict(saved[1])


def optimizer_update(opt: torch.optim.Optimizer, params, grads, moments, k: int):
    """The step `opt` would subtract from `params` for `grads` at its k-th step from now,
    differentiable in the gradients (the unrolled D). `moments`: the running averages after
    the previous look-ahead step (None at the first: the optimiser's own state)."""
    group = opt.param_groups[0]
    lr = float(group["lr"])
    if isinstance(opt, torch.optim.RMSprop):
        alpha, eps = group["alpha"], group["eps"]
        if moments is None:
            moments = [opt.state.get(p, {}).get("square_avg", torch.zeros_like(p))
                       for p in params]
        moments = [alpha * v + (1 - alpha) * g * g for v, g in zip(moments, grads)]
        # a tiny floor inside the root: its derivative at 0 would be infinite
        return [lr * g / ((v + 1e-20).sqrt() + eps) for g, v in zip(grads, moments)], moments
    beta1, beta2 = group["betas"]
    eps = group["eps"]
    if moments is None:
        state = [opt.state.get(p, {}) for p in params]
        moments = ([s.get("exp_avg", torch.zeros_like(p)) for s, p in zip(state, params)],
                   [s.get("exp_avg_sq", torch.zeros_like(p)) for s, p in zip(state, params)])
        done = int(state[0]["step"]) if state and "step" in state[0] else 0
        moments = (*moments, done)
    m, v, done = moments
    t = done + k + 1
    m = [beta1 * a + (1 - beta1) * g for a, g in zip(m, grads)]
    v = [beta2 * b + (1 - beta2) * g * g for b, g in zip(v, grads)]
    c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t
    steps = [lr * (a / c1) / ((b / c2 + 1e-20).sqrt() + eps) for a, b in zip(m, v)]
    return steps, (m, v, done)
