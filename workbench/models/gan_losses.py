"""The GAN losses and penalties, written on D's raw output (a logit, or a critic value).

Every discriminator loss is written per sample with a target t (1 = real, 0 = fake):
    t · loss_as_real(d) + (1 − t) · loss_as_fake(d)
so one-sided label smoothing (t = 0.9 for reals) and label flipping (t → 1 − t) apply to every
loss alike. The sigmoid losses use softplus, log σ(d) = −softplus(−d), which stays finite for any
logit.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

LOSSES = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein")
SIGMOID_LOSSES = ("minimax", "non_saturating")


def _as_real(d: torch.Tensor, loss: str) -> torch.Tensor:
    if loss in SIGMOID_LOSSES:
        return F.softplus(-d)  # −log D(x)
    if loss == "least_squares":
        return (d - 1.0).pow(2)
    if loss == "hinge":
        return F.relu(1.0 - d)
    return -d  # wasserstein


def _as_fake(d: torch.Tensor, loss: str) -> torch.Tensor:
    if loss in SIGMOID_LOSSES:
        return F.softplus(d)  # −log(1 − D(x))
    if loss == "least_squares":
        return d.pow(2)
    if loss == "hinge":
        return F.relu(1.0 + d)
    return d  # wasserstein


def discriminator_loss(d: torch.Tensor, target, loss: str) -> torch.Tensor:
    """Mean over the batch of D's loss for outputs `d` whose targets are `target` (1 = real):
    a tensor of per-sample targets, or one number for the whole batch."""
    d = d.view(-1)
    if not torch.is_tensor(target) and target in (0.0, 1.0):  # one term: fewer ops, same value
        return (_as_real(d, loss) if target else _as_fake(d, loss)).mean()
    return (target * _as_real(d, loss) + (1.0 - target) * _as_fake(d, loss)).mean()


def generator_loss(d_fake: torch.Tensor, loss: str) -> torch.Tensor:
    """What G minimises on D's outputs for its samples.

    minimax: log(1 − D(G(z))) = −softplus(d), whose gradient σ(d) vanishes when D rejects the
    fakes; non_saturating: −log D(G(z)) = softplus(−d), whose gradient does not.
    """
    d = d_fake.view(-1)
    if loss == "minimax":
        return -F.softplus(d).mean()
    if loss == "non_saturating":
        return F.softplus(-d).mean()
    if loss == "least_squares":
        return (d - 1.0).pow(2).mean()
    return -d.mean()  # hinge and wasserstein: raise the critic's score of the fakes


# -- the same losses' gradients with respect to D's outputs, written out -------------------------
# For the by-hand backward pass of linear-chain players (GAN._d_step_by_hand): autograd on even a
# few ops costs ~0.2 ms, a tenth of a 2-D GAN step. Tests hold these to autograd on the losses
# above, for every loss and target.
def _as_real_grad(d: torch.Tensor, loss: str) -> torch.Tensor:
    if loss in SIGMOID_LOSSES:
        return torch.sigmoid(d) - 1.0
    if loss == "least_squares":
        return 2.0 * (d - 1.0)
    if loss == "hinge":
        return -(d < 1.0).to(d.dtype)
    return torch.full_like(d, -1.0)


def _as_fake_grad(d: torch.Tensor, loss: str) -> torch.Tensor:
    if loss in SIGMOID_LOSSES:
        return torch.sigmoid(d)
    if loss == "least_squares":
        return 2.0 * d
    if loss == "hinge":
        return (d > -1.0).to(d.dtype)
    return torch.ones_like(d)


def discriminator_loss_grad(d: torch.Tensor, target, loss: str) -> torch.Tensor:
    """∂ discriminator_loss(d, target, loss) / ∂d, one entry per output."""
    d = d.view(-1)
    if not torch.is_tensor(target) and target in (0.0, 1.0):
        g = _as_real_grad(d, loss) if target else _as_fake_grad(d, loss)
    else:
        g = target * _as_real_grad(d, loss) + (1.0 - target) * _as_fake_grad(d, loss)
    return g / d.shape[0]


def generator_loss_grad(d_fake: torch.Tensor, loss: str) -> torch.Tensor:
    """∂ generator_loss(d_fake, loss) / ∂d_fake, one entry per output."""
    d = d_fake.view(-1)
    if loss == "minimax":
        g = -torch.sigmoid(d)
    elif loss == "non_saturating":
        g = torch.sigmoid(d) - 1.0
    elif loss == "least_squares":
        g = 2.0 * (d - 1.0)
    else:
        g = torch.full_like(d, -1.0)
    return g / d.shape[0]


def mean_output(d: torch.Tensor, loss: str) -> torch.Tensor:
    """D's mean output as logged: a probability for the sigmoid losses, else the raw value."""
    return torch.sigmoid(d).mean() if loss in SIGMOID_LOSSES else d.mean()


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
