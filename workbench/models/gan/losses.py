"""The GAN objectives and penalties, written on D's raw output d (a logit, or a critic value).

Each objective is one `GANLoss` record: D's per-sample loss on a sample it should call real and on
one it should call fake, G's per-sample loss, and the three derivatives in d written out (for the
by-hand steps, by_hand.py; tests hold them to autograd). `LOSSES[name]` looks one up.

D's loss is written per sample with a target t (1 = real, 0 = fake):
    t · as_real(d) + (1 − t) · as_fake(d)
so one-sided label smoothing (t = 0.9 for reals) and label flipping (t → 1 − t) apply to every
objective alike. The sigmoid objectives use softplus, log σ(d) = −softplus(−d), which stays finite
for any logit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch.nn import functional as F

Elementwise = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GANLoss:
    """One objective: per-sample values on D's outputs d and their derivatives in d."""

    name: str
    as_real: Elementwise       # D's loss for a sample it should call real
    as_fake: Elementwise       # D's loss for a sample it should call fake
    g: Elementwise             # G's loss for D's output on its sample
    as_real_grad: Elementwise  # d as_real / dd, and so on
    as_fake_grad: Elementwise
    g_grad: Elementwise
    sigmoid: bool              # d is a logit, D(x) = σ(d); else a critic's raw score

    def d_loss(self, d: torch.Tensor, target) -> torch.Tensor:
        """Mean over the batch of D's loss for outputs `d` whose targets are `target` (1 = real):
        a tensor of per-sample targets, or one number for the whole batch."""
        d = d.view(-1)
        if not torch.is_tensor(target) and target in (0.0, 1.0):  # one term: fewer ops, same value
            return (self.as_real(d) if target else self.as_fake(d)).mean()
        return (target * self.as_real(d) + (1.0 - target) * self.as_fake(d)).mean()

    def d_loss_grad(self, d: torch.Tensor, target) -> torch.Tensor:
        """∂ d_loss(d, target) / ∂d, one entry per output."""
        d = d.view(-1)
        if not torch.is_tensor(target) and target in (0.0, 1.0):
            g = self.as_real_grad(d) if target else self.as_fake_grad(d)
        else:
            g = target * self.as_real_grad(d) + (1.0 - target) * self.as_fake_grad(d)
        return g / d.shape[0]

    def g_loss(self, d_fake: torch.Tensor) -> torch.Tensor:
        """What G minimises: the mean of its loss over D's outputs for its samples."""
        return self.g(d_fake.view(-1)).mean()

    def g_loss_grad(self, d_fake: torch.Tensor) -> torch.Tensor:
        """∂ g_loss(d_fake) / ∂d_fake, one entry per output."""
        d = d_fake.view(-1)
        return self.g_grad(d) / d.shape[0]

    def mean_output(self, d: torch.Tensor) -> torch.Tensor:
        """D's mean output as logged: a probability for the sigmoid objectives, else the raw
        value."""
        return torch.sigmoid(d).mean() if self.sigmoid else d.mean()


def _minus_one(d: torch.Tensor) -> torch.Tensor:
    return torch.full_like(d, -1.0)


# D's side of both sigmoid objectives is the cross-entropy −log D(x) / −log(1 − D(x)); they differ
# in G's loss. minimax: log(1 − D(G(z))) = −softplus(d), whose gradient σ(d) vanishes when D
# rejects the fakes; non_saturating: −log D(G(z)) = softplus(−d), whose gradient does not.
_real_logit = dict(as_real=lambda d: F.softplus(-d), as_fake=F.softplus,
                   as_real_grad=lambda d: torch.sigmoid(d) - 1.0, as_fake_grad=torch.sigmoid,
                   sigmoid=True)

LOSSES: dict[str, GANLoss] = {loss.name: loss for loss in (
    GANLoss("minimax", g=lambda d: -F.softplus(d), g_grad=lambda d: -torch.sigmoid(d),
            **_real_logit),
    GANLoss("non_saturating", g=lambda d: F.softplus(-d),
            g_grad=lambda d: torch.sigmoid(d) - 1.0, **_real_logit),
    # LSGAN (Mao et al. 2017): D regresses reals to 1 and fakes to 0, G pulls its fakes to 1.
    GANLoss("least_squares", as_real=lambda d: (d - 1.0).pow(2), as_fake=lambda d: d.pow(2),
            g=lambda d: (d - 1.0).pow(2), as_real_grad=lambda d: 2.0 * (d - 1.0),
            as_fake_grad=lambda d: 2.0 * d, g_grad=lambda d: 2.0 * (d - 1.0), sigmoid=False),
    # Hinge (Lim & Ye 2017; SAGAN): D's margins at ±1; G raises the critic's score of its fakes.
    GANLoss("hinge", as_real=lambda d: F.relu(1.0 - d), as_fake=lambda d: F.relu(1.0 + d),
            g=lambda d: -d, as_real_grad=lambda d: -(d < 1.0).to(d.dtype),
            as_fake_grad=lambda d: (d > -1.0).to(d.dtype), g_grad=_minus_one, sigmoid=False),
    # Wasserstein (Arjovsky et al. 2017): the critic's mean score of fakes minus that of reals.
    GANLoss("wasserstein", as_real=lambda d: -d, as_fake=lambda d: d, g=lambda d: -d,
            as_real_grad=_minus_one, as_fake_grad=torch.ones_like, g_grad=_minus_one,
            sigmoid=False),
)}


# -- penalties ----------------------------------------------------------------------------------
def interpolate(real: torch.Tensor, fake: torch.Tensor, generator=None):
    """Points on the lines between reals and fakes; ε ~ U(0, 1) is drawn once per sample."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, generator=generator).to(real.device, real.dtype)
    return eps * real + (1.0 - eps) * fake, eps


def input_gradients(critic, x: torch.Tensor) -> torch.Tensor:
    """∇ₓ of the critic's summed output, one row per critic output (a packed group of samples).

    create_graph keeps the penalty differentiable, so it trains the critic.
    """
    x = x.detach().requires_grad_(True)
    return output_gradients(critic(x), x)


def output_gradients(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∇ₓ of `out`'s sum for outputs already computed from a leaf x that requires grad, one
    row per output (as input_gradients)."""
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(out.shape[0], -1)


def gradient_penalty(critic, real, fake, weight: float, generator=None) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): λ · E (‖∇D(x̂)‖₂ − 1)² at random interpolates x̂."""
    x_hat, _ = interpolate(real.detach(), fake.detach(), generator)
    norms = input_gradients(critic, x_hat).norm(2, dim=1)
    return weight * (norms - 1.0).pow(2).mean()


def r1_penalty(critic, real, gamma: float) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): γ/2 · E ‖∇D(x)‖² on real data only."""
    return 0.5 * gamma * input_gradients(critic, real).pow(2).sum(1).mean()


def r1_of(d_real: torch.Tensor, real: torch.Tensor, gamma: float) -> torch.Tensor:
    """R1 from D's outputs `d_real` on `real` (a leaf that requires grad), computed already for
    D's loss: the same value as r1_penalty without another pass through D."""
    return 0.5 * gamma * output_gradients(d_real, real).pow(2).sum(1).mean()


# -- gradient norms (logged as grad_d, grad_g) ----------------------------------------------------
@torch.no_grad()
def grad_norm(params) -> torch.Tensor:
    """The L2 norm of all the gradients of a player's parameters (0 when none flowed)."""
    return norm_of([p.grad for p in params if p.grad is not None])


@torch.no_grad()
def norm_of(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The L2 norm of a list of tensors taken as one vector (0 for an empty list)."""
    if not tensors:
        return torch.zeros(())
    # One foreach kernel for the per-tensor norms (cheaper than pow and sum per tensor).
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors)))
