"""The Dirac-GAN (Mescheder, Geiger & Nowozin 2018, "Which training methods for GANs do actually
converge?"): the smallest GAN whose training dynamics can be drawn in the plane.

Data sit at x = 0, the generator is p_θ = δ_θ and the discriminator is linear, D_ψ(x) = ψx. With
the paper's objective L(θ, ψ) = E[f(D_ψ(fake))] + E[f(−D_ψ(real))] this is

    L(θ, ψ) = f(ψθ) + f(0),     f(t) = −log(1 + e^{−t}) (GAN)  or  f(t) = t (WGAN),

G descends L and D ascends it, so the gradient vector field of the game is
v(θ, ψ) = (−∂L/∂θ, ∂L/∂ψ) = (−ψ f'(ψθ), θ f'(ψθ)); its only equilibrium is (0, 0).

Losses: "gan" (zero-sum, saturating), "gan_ns" (G instead minimises −f(−ψθ), the non-saturating
trick: same linearisation, different far field), "wgan" (f(t) = t).

Regularisers (`gamma` is each one's strength):
  * "r1" / "r2": zero-centred gradient penalty γ/2 ‖∇ₓD‖² on real (R1) or fake (R2) data. Here
    ∇ₓD = ψ at every x, so both add −γψ to the ψ component and are the same field.
  * "consensus": v − γ ∇(½‖v‖²) = v − γ Jᵀv (Mescheder et al. 2017), which removes the rotation.
  * "wgan_gp": λ(‖∇ₓD(x̂)‖ − 1)² = λ(|ψ| − 1)² with λ = γ; it pulls |ψ| to 1 instead of 0.
  * "wgan_clip": in `simulate`, ψ is clamped to [−c, c] after each D step, c = γ (the field
    itself is the unclipped one).
  * "instance_noise": noise σ (argument `sigma`) on D's inputs, real and fake. D sees 0 + ε and
    θ + ε with ε ~ N(0, σ²), so L_σ = E[f(ψ(θ + ε))] + E[f(−ψε)] and the field is its expected
    gradient. For the GAN loss there is no closed form; the expectation is taken with a fixed
    Gauss–Hermite rule of QUAD_NODES nodes, exact for polynomials of degree 2·QUAD_NODES − 1 and
    accurate to ~1e-12 for the smooth sigmoid terms at the σ used here. For WGAN, noise changes
    nothing (f is linear). At (0, 0) it adds 2σ² f''(0) = −σ²/2 to ∂v_ψ/∂ψ: the paper's
    eigenvalues f''(0)σ² ± √(f''(0)²σ⁴ − f'(0)²). A `sigma` > 0 adds noise under any `reg`.

Known results (tests/analysis/test_dirac.py): f'(0) = ½, so the plain GAN's Jacobian at the
equilibrium has eigenvalues ±i/2 (a pure rotation): simultaneous gradient steps spiral outwards,
alternating steps orbit; R1 with γ = 1 gives the double eigenvalue −½ and consensus with γ = 1
gives −¼ ± i/2; both converge.
"""

from __future__ import annotations

import math

import numpy as np

from workbench.core.errors import ConfigError

LOSSES = ("gan", "gan_ns", "wgan")
REGULARISERS = (None, "r1", "r2", "consensus", "instance_noise", "wgan_clip", "wgan_gp")
METHODS = ("simultaneous", "alternating")
QUAD_NODES = 40

_nodes, _weights = np.polynomial.hermite_e.hermegauss(QUAD_NODES)
_weights = _weights / _weights.sum()  # probabilists' Hermite: E[g(ε)] ≈ Σ w g(σ·node)


def _check(loss, reg, gamma, sigma):
    if loss not in LOSSES:
        raise ConfigError(f"unknown Dirac-GAN loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if reg not in REGULARISERS:
        names = ", ".join(str(r) for r in REGULARISERS)
        raise ConfigError(f"unknown Dirac-GAN regulariser {reg!r}; choose one of {names}")
    if gamma < 0 or sigma < 0:
        raise ConfigError(f"gamma and sigma must be ≥ 0 (got gamma={gamma}, sigma={sigma})")


def _f1(loss, t):
    """f'(t): σ(−t) for the GAN losses, 1 for WGAN."""
    if loss == "wgan":
        return np.ones_like(t)
    return 0.5 * (1.0 - np.tanh(0.5 * t))  # = 1/(1+e^t) without overflow


def _f2(loss, t):
    """f''(t) = −σ(t)σ(−t) for the GAN losses, 0 for WGAN."""
    if loss == "wgan":
        return np.zeros_like(t)
    s = _f1(loss, t)
    return -s * (1.0 - s)


def _noise(sigma):
    """Quadrature nodes ε and weights for E over ε ~ N(0, σ²) (one node at 0 when σ = 0)."""
    if sigma == 0:
        return np.zeros(1), np.ones(1)
    return sigma * _nodes, _weights


def _field_and_jacobian(theta, psi, loss, sigma):
    """The unregularised (possibly noisy) field v and its Jacobian J[..., i, j] = ∂v_i/∂x_j,
    x = (θ, ψ), both from closed-form derivatives of L_σ (see the module docstring)."""
    th = np.asarray(theta, float)[..., None]
    ps = np.asarray(psi, float)[..., None]
    eps, w = _noise(0.0 if loss == "wgan" else sigma)
    u = th + eps  # what D sees of the fake sample
    s = -1.0 if loss == "gan_ns" else 1.0  # ns: G minimises −f(−ψu) instead of f(ψu)
    a_g, b_g = _f1(loss, s * ps * u), _f2(loss, s * ps * u)
    a, b = _f1(loss, ps * u), _f2(loss, ps * u)
    a_r, b_r = _f1(loss, -ps * eps), _f2(loss, -ps * eps)

    def E(x):
        return np.sum(x * w, axis=-1)

    v1 = -E(ps * a_g)
    v2 = E(u * a) - E(eps * a_r)
    j11 = -s * E(ps * ps * b_g)
    j12 = -E(a_g) - s * E(ps * u * b_g)
    j21 = E(a) + E(ps * u * b)
    j22 = E(u * u * b) + E(eps * eps * b_r)
    J = np.stack([np.stack([j11, j12], -1), np.stack([j21, j22], -1)], -2)
    return v1, v2, J


def vector_field(theta, psi, loss="gan", reg=None, gamma=0.0, sigma=0.0):
    """The game's field (dθ, dψ) = (−∂L/∂θ, ∂L/∂ψ) with `reg` applied, on broadcast arrays."""
    _check(loss, reg, gamma, sigma)
    v1, v2, J = _field_and_jacobian(theta, psi, loss, sigma)
    ps = np.broadcast_to(np.asarray(psi, float), np.shape(v2))
    if reg in ("r1", "r2"):
        v2 = v2 - gamma * ps
    elif reg == "wgan_gp":
        v2 = v2 - 2.0 * gamma * (np.abs(ps) - 1.0) * np.sign(ps)
    elif reg == "consensus":
        # ∇(½‖v‖²) = Jᵀv
        g1 = J[..., 0, 0] * v1 + J[..., 1, 0] * v2
        g2 = J[..., 0, 1] * v1 + J[..., 1, 1] * v2
        v1, v2 = v1 - gamma * g1, v2 - gamma * g2
    return v1, v2


def jacobian(loss="gan", reg=None, gamma=0.0, sigma=0.0) -> np.ndarray:
    """The 2×2 Jacobian of the regularised field at the equilibrium (0, 0).

    For "wgan_gp" the penalty has a kink at ψ = 0 (|ψ| is not differentiable there), so the
    linearisation does not exist and the matrix is NaN."""
    _check(loss, reg, gamma, sigma)
    _, _, J = _field_and_jacobian(0.0, 0.0, loss, sigma)
    J = np.array(J, float)
    if reg in ("r1", "r2"):
        J[1, 1] -= gamma
    elif reg == "consensus":
        J = J - gamma * J.T @ J  # the second-derivative terms vanish where v = 0
    elif reg == "wgan_gp":
        J[:] = np.nan
    return J


def eigenvalues(loss="gan", reg=None, gamma=0.0, sigma=0.0) -> np.ndarray:
    """Eigenvalues of the Jacobian at (0, 0), sorted by imaginary part (complex, shape (2,)).
    Real parts < 0 ⇔ gradient flow converges locally."""
    J = jacobian(loss, reg, gamma, sigma)
    if not np.all(np.isfinite(J)):
        return np.full(2, np.nan + 0j)
    ev = np.linalg.eigvals(J).astype(complex)
    return ev[np.argsort(ev.imag, kind="stable")]


def update_matrix(loss="gan", reg=None, gamma=0.0, sigma=0.0, method="simultaneous", lr=0.2,
                  d_steps=1) -> np.ndarray:
    """The linearisation at (0, 0) of one G step of `simulate` (with its d_steps D steps).
    Simultaneous: (I + lr·J)·(I + lr·P_ψJ)^(k−1); alternating: (I + lr·P_θJ)·(I + lr·P_ψJ)^k,
    where P picks one player's row. Its eigenvalues inside the unit circle ⇔ the discrete
    iteration converges locally."""
    if method not in METHODS:
        raise ConfigError(f"unknown update method {method!r}; choose simultaneous or alternating")
    J = jacobian(loss, reg, gamma, sigma)
    eye = np.eye(2)
    d_only = eye + lr * np.diag([0.0, 1.0]) @ J
    g_only = eye + lr * np.diag([1.0, 0.0]) @ J
    if method == "simultaneous":
        return (eye + lr * J) @ np.linalg.matrix_power(d_only, max(d_steps, 1) - 1)
    return g_only @ np.linalg.matrix_power(d_only, max(d_steps, 1))


def update_eigenvalues(loss="gan", reg=None, gamma=0.0, sigma=0.0, method="simultaneous",
                       lr=0.2, d_steps=1) -> np.ndarray:
    """Eigenvalues of `update_matrix` (NaN where the Jacobian does not exist)."""
    M = update_matrix(loss, reg, gamma, sigma, method, lr, d_steps)
    if not np.all(np.isfinite(M)):
        return np.full(2, np.nan + 0j)
    ev = np.linalg.eigvals(M).astype(complex)
    return ev[np.argsort(ev.imag, kind="stable")]


def simulate(loss="gan", reg=None, gamma=0.0, method="simultaneous", lr=0.2, steps=500,
             start=(1.0, 1.0), d_steps=1, sigma=0.0) -> np.ndarray:
    """Gradient play from `start`: rows (θ, ψ) after 0..steps generator steps, shape (steps+1, 2).

    simultaneous: d_steps − 1 D-only steps, then both players step from the same point.
    alternating: d_steps D steps, then one G step against the updated D.
    With reg="wgan_clip", ψ is clamped to [−γ, γ] after every step that moves D."""
    _check(loss, reg, gamma, sigma)
    if method not in METHODS:
        raise ConfigError(f"unknown update method {method!r}; choose simultaneous or alternating")
    if not (lr > 0 and np.isfinite(lr)):
        raise ConfigError(f"learning rate must be a positive number, got {lr}")
    if steps < 0 or d_steps < 1:
        raise ConfigError(f"steps must be ≥ 0 and d_steps ≥ 1 (got {steps}, {d_steps})")
    field_reg = None if reg == "wgan_clip" else reg
    clip = gamma if reg == "wgan_clip" else np.inf
    v = _point_field(loss, field_reg, gamma, sigma)

    th, ps = float(start[0]), float(start[1])
    out = np.empty((steps + 1, 2))
    out[0] = th, ps
    for i in range(1, steps + 1):
        for _ in range(d_steps - (method == "simultaneous")):
            ps = min(max(ps + lr * v(th, ps)[1], -clip), clip)
        if method == "simultaneous":
            d1, d2 = v(th, ps)
            th, ps = th + lr * d1, min(max(ps + lr * d2, -clip), clip)
        else:
            th = th + lr * v(th, ps)[0]
        out[i] = th, ps
        if not (np.isfinite(th) and np.isfinite(ps)):
            out[i:] = np.nan  # diverged: the rest of the path does not exist
            break
    return out


def _point_field(loss, reg, gamma, sigma):
    """`vector_field` at one point as a plain-float function. Without noise it is written out
    in `math` (the same formulas; ~50× faster than numpy on scalars, which keeps dragging the
    start point in the panel fluid); with noise it calls the quadrature."""
    if sigma > 0 and loss != "wgan":
        if reg == "consensus":  # needs the noisy Jacobian too: the general path
            def v_general(th, ps):
                a, b = vector_field(th, ps, loss, reg, gamma, sigma)
                return float(a), float(b)
            return v_general
        eps, w = _noise(sigma)
        sg = -1.0 if loss == "gan_ns" else 1.0
        we = w * eps

        def v_noisy(th, ps):  # the quadrature of _field_and_jacobian, fewest numpy calls
            u = th + eps
            a = 0.5 * (1.0 - np.tanh(0.5 * ps * u))
            a_g = a if sg > 0 else 0.5 * (1.0 - np.tanh(-0.5 * ps * u))
            a_r = 0.5 * (1.0 - np.tanh(-0.5 * ps * eps))
            v1 = -ps * float(w @ a_g)
            v2 = float((w * u) @ a) - float(we @ a_r)
            if reg in ("r1", "r2"):
                v2 -= gamma * ps
            elif reg == "wgan_gp":
                v2 -= 2.0 * gamma * (abs(ps) - 1.0) * ((ps > 0) - (ps < 0))
            return v1, v2
        return v_noisy
    s = -1.0 if loss == "gan_ns" else 1.0

    def f1(t):
        return 1.0 if loss == "wgan" else 0.5 * (1.0 - math.tanh(0.5 * t))

    def v(th, ps):
        a_g, a = f1(s * ps * th), f1(ps * th)
        v1, v2 = -ps * a_g, th * a
        if reg in ("r1", "r2"):
            v2 -= gamma * ps
        elif reg == "wgan_gp":
            v2 -= 2.0 * gamma * (abs(ps) - 1.0) * ((ps > 0) - (ps < 0))  # sign(0) = 0
        elif reg == "consensus":
            b_g, b = -a_g * (1.0 - a_g), -a * (1.0 - a)
            if loss == "wgan":
                b_g = b = 0.0
            j11, j12 = -s * ps * ps * b_g, -a_g - s * ps * th * b_g
            j21, j22 = a + ps * th * b, th * th * b
            v1, v2 = (v1 - gamma * (j11 * v1 + j21 * v2), v2 - gamma * (j12 * v1 + j22 * v2))
        return v1, v2
    return v
