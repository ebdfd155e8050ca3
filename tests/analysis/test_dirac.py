"""The Dirac-GAN against the closed forms of Mescheder et al. 2018 and against finite
differences of the objective written out independently here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from workbench.analysis import dirac as D
from workbench.core.errors import ConfigError


def f_gan(t):
    return -math.log1p(math.exp(-t))


def L(theta, psi, loss="gan", sigma=0.0):
    """L(θ, ψ) = E f(ψ(θ + ε)) + E f(−ψε), by adaptive integration (not the module's rule)."""
    f = f_gan if loss == "gan" else (lambda t: t)
    if sigma == 0:
        return f(psi * theta) + f(0.0)

    def pdf(e):
        return math.exp(-0.5 * (e / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    lim = 12 * sigma
    fake = integrate.quad(lambda e: f(psi * (theta + e)) * pdf(e), -lim, lim, epsabs=1e-13)[0]
    real = integrate.quad(lambda e: f(-psi * e) * pdf(e), -lim, lim, epsabs=1e-13)[0]
    return fake + real


def fd_field(theta, psi, loss="gan", sigma=0.0, h=1e-5):
    d_th = (L(theta + h, psi, loss, sigma) - L(theta - h, psi, loss, sigma)) / (2 * h)
    d_ps = (L(theta, psi + h, loss, sigma) - L(theta, psi - h, loss, sigma)) / (2 * h)
    return -d_th, d_ps


POINTS = [(1.0, 1.0), (-1.3, 0.4), (0.2, -1.7), (1.9, 1.9), (0.0, 0.5)]


@pytest.mark.parametrize("loss", ["gan", "wgan"])
@pytest.mark.parametrize("pt", POINTS)
def test_field_is_the_games_gradient(loss, pt):
    v = D.vector_field(*pt, loss=loss)
    assert np.allclose(v, fd_field(*pt, loss=loss), atol=1e-8)


@pytest.mark.parametrize("pt", POINTS[:3])
def test_instance_noise_field_is_the_expected_gradient(pt):
    for sigma in (0.3, 1.0):
        v = D.vector_field(*pt, reg="instance_noise", sigma=sigma)
        assert np.allclose(v, fd_field(*pt, sigma=sigma), atol=1e-7), sigma


def test_wgan_ignores_instance_noise():
    assert np.allclose(D.vector_field(0.7, -0.3, "wgan", sigma=0.8),
                       D.vector_field(0.7, -0.3, "wgan"))


def test_field_broadcasts_over_a_grid():
    th, ps = np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-2, 2, 5))
    for reg in D.REGULARISERS:
        a, b = D.vector_field(th, ps, reg=reg, gamma=0.5, sigma=0.2)
        assert a.shape == b.shape == (5, 7)
        # the grid agrees with point-by-point calls
        one = D.vector_field(th[1, 2], ps[1, 2], reg=reg, gamma=0.5, sigma=0.2)
        assert np.isclose(a[1, 2], one[0])


def test_r1_and_consensus_are_their_definitions():
    th, ps, g = 0.8, -1.1, 0.7
    v1, v2 = D.vector_field(th, ps)
    assert np.allclose(D.vector_field(th, ps, reg="r1", gamma=g), (v1, v2 - g * ps))
    # consensus: v − γ∇(½‖v‖²), gradient by finite differences of the plain field
    h = 1e-6

    def half_sq(a, b):
        x, y = D.vector_field(a, b)
        return 0.5 * (x * x + y * y)
    grad = ((half_sq(th + h, ps) - half_sq(th - h, ps)) / (2 * h),
            (half_sq(th, ps + h) - half_sq(th, ps - h)) / (2 * h))
    got = D.vector_field(th, ps, reg="consensus", gamma=g)
    assert np.allclose(got, (v1 - g * grad[0], v2 - g * grad[1]), atol=1e-8)


def test_scalar_fast_path_matches_the_array_field():
    for loss in D.LOSSES:
        for reg in (None, "r1", "consensus", "wgan_gp", "instance_noise"):
            for sigma in (0.0, 0.6):
                fast = D._point_field(loss, reg, 0.6, sigma)
                for pt in POINTS:
                    assert np.allclose(fast(*pt), D.vector_field(*pt, loss, reg, 0.6, sigma),
                                       atol=1e-12), (loss, reg, sigma)


def test_known_eigenvalues():
    assert D._f1("gan", np.array(0.0)) == 0.5  # f'(0) = ½
    assert np.allclose(D.eigenvalues(), [-0.5j, 0.5j], atol=1e-12)
    assert np.allclose(D.eigenvalues("gan_ns"), [-0.5j, 0.5j], atol=1e-12)
    assert np.allclose(D.eigenvalues("wgan"), [-1j, 1j], atol=1e-12)
    assert np.allclose(D.eigenvalues(reg="r1", gamma=1.0), [-0.5, -0.5], atol=1e-7)
    assert np.allclose(D.eigenvalues(reg="consensus", gamma=1.0), [-0.25 - 0.5j, -0.25 + 0.5j],
                       atol=1e-12)
    # instance noise: f''(0)σ² ± √(f''(0)²σ⁴ − f'(0)²), f''(0) = −¼ (Mescheder et al., Lemma 3.5)
    s = 0.8
    root = np.sqrt(complex((s**2 / 4) ** 2 - 0.25))
    assert np.allclose(D.eigenvalues(reg="instance_noise", sigma=s),
                       sorted([-s**2 / 4 - root, -s**2 / 4 + root], key=lambda z: z.imag))
    assert np.all(np.isnan(D.eigenvalues("wgan", "wgan_gp", 1.0)))  # kink at ψ = 0


def test_jacobian_matches_finite_differences_of_the_field():
    h = 1e-6
    for loss, reg, g, s in [("gan", "r1", 0.5, 0.0), ("gan", "consensus", 1.0, 0.0),
                            ("gan", "instance_noise", 0.0, 0.7), ("gan_ns", None, 0.0, 0.0)]:
        J = D.jacobian(loss, reg, g, s)
        num = np.array([[(D.vector_field(h, 0, loss, reg, g, s)[i]
                          - D.vector_field(-h, 0, loss, reg, g, s)[i]) / (2 * h),
                         (D.vector_field(0, h, loss, reg, g, s)[i]
                          - D.vector_field(0, -h, loss, reg, g, s)[i]) / (2 * h)] for i in (0, 1)])
        assert np.allclose(J, num, atol=1e-7), (loss, reg)


def norms(path):
    return np.linalg.norm(path, axis=1)


def test_simultaneous_steps_spiral_out():
    n = norms(D.simulate(method="simultaneous", lr=0.2, steps=500))
    assert n[-1] > 1.5 * n[0]
    assert np.all(np.diff(n[:50]) > 0)  # outwards from the very first steps
    # linearisation: |eig(I + lr·J)| = √(1 + lr²/4) > 1
    assert np.allclose(abs(D.update_eigenvalues(lr=0.2)), math.sqrt(1 + 0.01))


def test_alternating_steps_orbit():
    path = D.simulate(method="alternating", lr=0.2, steps=2000)
    n = norms(path)
    assert n.max() < 1.2 * n[0] and n[-500:].min() > 0.8 * n[0]  # bounded, does not converge
    # it goes round: θ changes sign several times
    assert np.count_nonzero(np.diff(np.sign(path[:, 0]))) >= 4
    assert np.allclose(abs(D.update_eigenvalues(method="alternating", lr=0.2)), 1.0)


@pytest.mark.parametrize("reg", ["r1", "consensus"])
@pytest.mark.parametrize("method", D.METHODS)
def test_regularised_play_converges(reg, method):
    path = D.simulate(reg=reg, gamma=1.0, method=method, lr=0.2, steps=500)
    assert norms(path)[-1] < 1e-3
    assert np.all(abs(D.update_eigenvalues(reg=reg, gamma=1.0, method=method, lr=0.2)) < 1)


def test_instance_noise_converges_and_wgan_clip_bounds_psi():
    path = D.simulate(reg="instance_noise", sigma=1.0, method="alternating", steps=800)
    assert norms(path)[-1] < 0.05
    path = D.simulate("wgan", "wgan_clip", gamma=0.5, method="alternating", start=(1.5, 0.2))
    assert np.abs(path[:, 1]).max() <= 0.5 + 1e-12
    assert norms(path)[-1] > 0.3  # clipping alone does not converge


def test_d_steps_and_start_point():
    p = D.simulate(method="alternating", d_steps=3, steps=10, start=(0.5, -0.25))
    assert p.shape == (11, 2) and tuple(p[0]) == (0.5, -0.25)
    assert not np.allclose(p, D.simulate(method="alternating", steps=10, start=(0.5, -0.25)))


def test_bad_arguments_are_config_errors():
    with pytest.raises(ConfigError, match="loss"):
        D.vector_field(0, 0, loss="hinge!")
    with pytest.raises(ConfigError, match="regulariser"):
        D.eigenvalues(reg="r3")
    with pytest.raises(ConfigError, match="method"):
        D.simulate(method="sideways")
    with pytest.raises(ConfigError, match="learning rate"):
        D.simulate(lr=0)
