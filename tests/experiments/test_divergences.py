"""The divergences behind the GAN lessons: quadrature against closed forms, the JS estimate of a
logistic D, the parallel segments of Arjovsky et al., and the f-divergence fits (quick runs)."""

import math

import numpy as np
import pytest
import torch

from workbench.core.tasks import TaskContext
from workbench.experiments import divergences as D
from workbench.core.tasks import Cancelled
from workbench.experiments.registry import run_experiment
from workbench.core.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

X = torch.linspace(-30, 30, 60001, dtype=torch.float64)
DX = float(X[1] - X[0])


def gauss(mu, sigma):
    return D.gaussian_log_density(X, torch.tensor(mu, dtype=X.dtype),
                                  torch.tensor(math.log(sigma), dtype=X.dtype))


def kl_gauss(m1, s1, m2, s2):
    return math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5


def test_quadrature_matches_gaussian_closed_forms():
    p, q = gauss(0.0, 1.0), gauss(1.0, 2.0)
    assert float(D.f_divergence("kl", p, q, DX)) == pytest.approx(kl_gauss(0, 1, 1, 2), rel=1e-6)
    assert float(D.f_divergence("reverse_kl", p, q, DX)) == pytest.approx(kl_gauss(1, 2, 0, 1),
                                                                          rel=1e-6)
    # Pearson χ²(N(0,1) ‖ N(½,1)) = exp(¼) − 1
    chi2 = float(D.f_divergence("pearson", gauss(0.0, 1.0), gauss(0.5, 1.0), DX))
    assert chi2 == pytest.approx(math.exp(0.25) - 1, rel=1e-6)
    assert float(D.f_divergence("js", p, p, DX)) == pytest.approx(0.0, abs=1e-12)


def test_js_of_distributions_that_do_not_overlap_is_log2():
    js = float(D.f_divergence("js", gauss(-10.0, 0.3), gauss(10.0, 0.3), DX))
    assert js == pytest.approx(math.log(2), abs=1e-9)
    # KL grows without bound as they part; JS stays at log 2: it cannot tell near from far
    near = float(D.f_divergence("js", gauss(-3.0, 0.3), gauss(3.0, 0.3), DX))
    assert near == pytest.approx(math.log(2), abs=1e-9)
    assert float(D.f_divergence("kl", gauss(-10.0, 0.3), gauss(10.0, 0.3), DX)) > 1000


def test_bce_at_the_optimal_discriminator_gives_js():
    """d_loss = E_p −log D* + E_q −log(1 − D*) with D* = p / (p + q) is 2 log 2 − 2 JS."""
    lp, lq = gauss(0.0, 1.0), gauss(1.5, 0.7)
    log_d = lp - torch.logaddexp(lp, lq)
    log_1md = lq - torch.logaddexp(lp, lq)
    bce = DX * ((-lp.exp() * log_d).sum() + (-lq.exp() * log_1md).sum())
    assert D.js_from_bce(float(bce)) == pytest.approx(float(D.f_divergence("js", lp, lq, DX)),
                                                      abs=1e-8)
    # any other D gives less: a lower bound
    bad = DX * ((lp.exp() * torch.nn.functional.softplus(-X)).sum()
                + (lq.exp() * torch.nn.functional.softplus(X)).sum())
    assert D.js_from_bce(float(bad)) < float(D.f_divergence("js", lp, lq, DX))


def test_parallel_segments_closed_forms():
    th = np.array([-1.0, -0.3, 0.0, 0.2, 1.0])
    assert D.parallel_lines_js(th).tolist() == [math.log(2)] * 2 + [0.0] + [math.log(2)] * 2
    assert D.parallel_lines_w1(th).tolist() == [1.0, 0.3, 0.0, 0.2, 1.0]
    assert D.parallel_lines_tv(th).tolist() == [1.0, 1.0, 0.0, 1.0, 1.0]
    kl = D.parallel_lines_kl(th)
    assert np.isinf(kl[[0, 1, 3, 4]]).all() and kl[2] == 0.0
    # the coupling (0, u) → (θ, u) moves every point by |θ|: W1 ≤ |θ|; the 1-Lipschitz
    # f(x) = x₁ gives E_Pθ f − E_P0 f = θ: W1 ≥ |θ|
    x0, xt = D.segment_samples(0.0, 1000), D.segment_samples(0.7, 1000)
    assert float((xt[:, 0] - x0[:, 0]).abs().mean()) == pytest.approx(0.7)


def test_js_vs_wasserstein_quick_estimates():
    r = run_experiment("js_vs_wasserstein", quick=True)
    rows = r.tables[0].rows
    assert [row[0] for row in rows] == [-1.0, 0.5]
    for th, js_exact, js, w_exact, w, _, djs, dw_exact, dw in rows:
        assert js_exact == pytest.approx(math.log(2)) and w_exact == abs(th)
        assert js > 0.6                      # D separates the segments: flat near log 2
        assert w == pytest.approx(abs(th), abs=0.15)
        assert np.sign(dw) == np.sign(th) and abs(dw) > 0.7
        assert abs(djs) < 0.1                # the JS gives (almost) no direction
    names = {c.name for c in r.curves}
    assert {"JS exact", "W1 exact = |θ|", "JS estimate (trained D)"} <= names
    assert "+∞" in r.tables[0].title and "KL" in r.summary


def test_f_divergence_fit_diagonal_and_modes():
    r = run_experiment("f_divergence_fit", {"variational_steps": 0}, quick=True)
    assert len(r.tables) == 1
    t = r.tables[0]
    m = np.array([row[3:] for row in t.rows], dtype=float)
    for j in range(m.shape[1]):       # each column's minimum is on the diagonal
        assert m[j, j] <= m[:, j].min() * (1 + 1e-6) + 1e-9, (j, m[:, j])
    v = r.values
    # reverse KL seeks the heavier mode N(−2, 0.5²); forward KL sits between the modes and
    # matches the mixture's moments (mean −0.4, sd √4.09)
    assert v["reverse_kl_mu"] == pytest.approx(-2.0, abs=0.05)
    assert v["reverse_kl_sigma"] == pytest.approx(0.5, abs=0.05)
    assert v["kl_mu"] == pytest.approx(-0.4, abs=0.02)
    assert v["kl_sigma"] == pytest.approx(math.sqrt(4.09), abs=0.02)
    assert v["reverse_kl_min"] == pytest.approx(-math.log(0.6), abs=0.01)
    assert len(r.curves) == 5 and all(np.isfinite(c.y).all() for c in r.curves)


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="no parameter 'theta'"):
        run_experiment("js_vs_wasserstein", {"theta": [1.0]})
    with pytest.raises(ConfigError, match="thetas must be a list of numbers"):
        run_experiment("js_vs_wasserstein", {"thetas": "one, two"})
    with pytest.raises(ConfigError, match=r"thetas: each entry must lie in \[-10"):
        run_experiment("js_vs_wasserstein", {"thetas": [1.0, 11.0]})
    with pytest.raises(ConfigError, match="thetas needs at least one"):
        run_experiment("js_vs_wasserstein", {"thetas": ()})
    with pytest.raises(ConfigError, match="weight_left must be between 0 and 1"):
        run_experiment("f_divergence_fit", {"weight_left": 1.0})
    with pytest.raises(ConfigError, match="separation must be above 0"):
        run_experiment("f_divergence_fit", {"separation": 0.0})
    with pytest.raises(ConfigError, match="grid_points"):
        run_experiment("f_divergence_fit", {"grid_points": 2.5})


def test_thetas_read_from_text_with_commas_or_spaces():
    from workbench.experiments.registry import resolve_params

    assert resolve_params("js_vs_wasserstein", {"thetas": "-1, 0.5"}).thetas == (-1.0, 0.5)
    assert resolve_params("js_vs_wasserstein", {"thetas": "[-1 0.5 2]"}).thetas == (-1, 0.5, 2)


@pytest.mark.parametrize("name", ["js_vs_wasserstein", "f_divergence_fit"])
def test_cancel(name):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        run_experiment(name, quick=True, ctx=TaskContext(should_stop=stop))


@pytest.mark.parametrize("name", D.DIVERGENCES)
def test_variational_bound_is_tight_at_the_optimal_critic(name):
    """E_P g_f(V*) − E_Q f*(g_f(V*)) = D_f(P‖Q) for the critic V* with g_f(V*) = f'(p/q)."""
    lp, lq = gauss(0.0, 1.0), gauss(0.7, 1.3)
    log_u = lp - lq
    v_star = {"kl": 1 + log_u, "reverse_kl": log_u, "js": log_u,
              "pearson": 2 * (log_u.exp() - 1)}[name]
    a, b = D.variational_terms(name, v_star)
    bound = DX * ((lp.exp() * a).sum() - (lq.exp() * b).sum())
    assert float(bound) == pytest.approx(float(D.f_divergence(name, lp, lq, DX)), rel=1e-6)
    # any other critic gives less
    a, b = D.variational_terms(name, 0.5 * v_star)
    assert float(DX * ((lp.exp() * a).sum() - (lq.exp() * b).sum())) < float(bound)


def test_f_divergence_fit_from_samples_quick():
    r = run_experiment("f_divergence_fit", {"variational_steps": 120}, quick=True)
    assert len(r.tables) == 2 and len(r.tables[1].rows) == 4
    v = r.values
    # forward KL from samples lands near the exact (moment-matching) fit
    assert v["kl_vmu"] == pytest.approx(-0.4, abs=0.3)
    assert 1.2 < v["kl_vsigma"] < 3.0
    assert all(math.isfinite(v[f"{t}_vbound"]) for t in D.DIVERGENCES)
    assert "f-GAN" in r.summary
