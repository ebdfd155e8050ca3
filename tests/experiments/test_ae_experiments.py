"""The autoencoder lesson experiments: PCA against a linear autoencoder, and semi-supervised
learning with few labels (workbench/experiments/ae_experiments.py), run with their quick params."""

import numpy as np
import pytest
import torch

from workbench.core.tasks import TaskContext
from workbench.core import config as C
from workbench.core.tasks import Cancelled
from workbench.experiments.registry import get_experiment, resolve_params, run_experiment
from workbench.core.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pca_result():
    seen = []
    res = run_experiment("pca_vs_linear_ae", quick=True,
                         ctx=TaskContext(lambda f, _total, t: seen.append((f, t))))
    return res, seen


@pytest.fixture(scope="module")
def semi_result():
    return run_experiment("semi_supervised", quick=True)


def test_both_are_registered_with_quick_settings():
    for name in ("pca_vs_linear_ae", "semi_supervised"):
        assert C.field_metadata(get_experiment(name).params_class(), "quick")


def test_linear_ae_finds_the_pca_subspace_in_a_skewed_basis(pca_result):
    res, _ = pca_result
    v = res.values
    k = resolve_params("pca_vs_linear_ae", quick=True).k
    assert v["max_angle_deg"] < 10.0 and v["mean_angle_deg"] < 3.0, v
    assert v["pca_max_cos"] < 1e-6  # principal directions are orthogonal …
    assert v["ae_max_cos"] > 0.05  # … the decoder's columns are not
    # the same subspace reconstructs (nearly) as well; PCA is the optimum, so never worse
    assert v["pca_mse"] <= v["ae_mse"] < 1.02 * v["pca_mse"]
    assert 0 < v["ae_explained"] <= v["pca_explained"] < 1
    angles = next(c for c in res.curves if c.plot == "Principal angles")
    assert len(angles.y) == k and np.all(np.diff(angles.y) >= -1e-9)
    assert np.isclose(angles.y.max(), v["max_angle_deg"])
    trace = next(c for c in res.curves if c.plot.startswith("Largest principal angle"))
    assert trace.y[0] > 45.0 and trace.y[-1] < 10.0  # random start, then it converges
    recon, angle_table = res.tables
    assert len(angle_table.rows) == k and len(recon.rows) == 2
    along = [row[4] for row in angle_table.rows]  # data variance along each decoder column
    assert all(0 < a <= angle_table.rows[0][2] + 1e-9 for a in along)  # none beats PCA's first
    tiles_pca, tiles_ae, gram_pca, gram_ae = res.images
    assert tiles_pca.pixels.shape == tiles_ae.pixels.shape == (32, 2 + 30 * k)
    assert gram_pca.pixels.shape == gram_ae.pixels.shape == (k, k)
    for im in res.images:
        assert im.pixels.min() >= 0.0 and im.pixels.max() <= 1.0
    np.testing.assert_allclose(gram_pca.pixels, np.eye(k), atol=1e-6)
    assert "principal angle" in res.summary and "not orthogonal" in res.summary


def test_progress_goes_from_zero_to_one(pca_result):
    _, seen = pca_result
    fractions = [f for f, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    assert any("step" in t for _, t in seen)


def test_semi_supervised_accuracies_make_sense(semi_result):
    res = semi_result
    quick = resolve_params("semi_supervised", quick=True)
    counts = list(quick.labels_per_class)
    (table,) = res.tables
    assert [row[0] for row in table.rows] == counts
    for row in table.rows:
        assert row[1] == 10 * row[0]
        assert 0.0 <= row[2] <= 1.0 and 0.0 <= row[4] <= 1.0
        assert row[3] >= 0.0 and row[5] >= 0.0
        assert np.isclose(row[6], row[4] - row[2])
        assert 0 <= row[7] <= quick.draws
    for n in counts:
        assert 0.0 <= res.values[f"acc_ae_{n}"] <= 1.0
    # 10 labels per class: both well above chance (0.1) on the 500 validation digits
    assert res.values["acc_pixels_10"] > 0.5 and res.values["acc_ae_10"] > 0.2
    assert len(res.curves) == 2 and all(c.log_x for c in res.curves)
    assert len({c.plot for c in res.curves}) == 1  # one plot, both curves
    assert np.isfinite(res.values["ae_loss"])
    assert "labels" in res.summary and res.images[0].pixels.shape == (32, 302)


def test_logistic_regression_separates_separable_points():
    from workbench.experiments.ae_experiments import _accuracy, fit_logistic

    g = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat(20)
    x = torch.randn(60, 5, generator=g) * 0.1 + torch.nn.functional.one_hot(y, 5) * 2.0
    w, b = fit_logistic(x, y, 3, l2=1e-2)
    assert w.shape == (5, 3) and _accuracy(w, b, x, y) == 1.0


@pytest.mark.parametrize("name, params, match", [
    ("pca_vs_linear_ae", {"bogus": 1}, "no parameter 'bogus'"),
    ("pca_vs_linear_ae", {"k": 0}, "k must be at least 1"),
    ("pca_vs_linear_ae", {"k": 65}, "k must be at most 64"),
    ("pca_vs_linear_ae", {"steps": 2.5}, "steps must be a whole number"),
    ("pca_vs_linear_ae", {"lr": -1.0}, "lr must be at least"),
    ("pca_vs_linear_ae", {"lr": "fast"}, "lr must be a number"),
    ("semi_supervised", {"labels_per_class": "a, b"}, "labels_per_class must be a list of whole"),
    ("semi_supervised", {"labels_per_class": [0, 3]}, r"each entry must lie in \[1, "),
    ("semi_supervised", {"labels_per_class": ""}, "needs at least one count"),
    ("semi_supervised", {"labels_per_class": [1000]}, "more than the training split has"),
    ("semi_supervised", {"model": "dcgan"}, "cannot encode"),
    ("semi_supervised", {"model": "no_such_model"}, "not registered"),
    ("semi_supervised", {"l2": -1.0}, "l2 must be at least 0"),
    ("semi_supervised", {"l2": float("inf")}, "l2 must be finite"),
])
def test_bad_parameters_are_config_errors(name, params, match):
    with pytest.raises(ConfigError, match=match):
        run_experiment(name, params, quick=True)


@pytest.mark.parametrize("name", ["pca_vs_linear_ae", "semi_supervised"])
def test_cancel_raises_cancelled(name):
    checks = []

    def should_stop():
        checks.append(1)
        return len(checks) > 5  # a few steps in

    with pytest.raises(Cancelled):
        run_experiment(name, quick=True, ctx=TaskContext(should_stop=should_stop))
