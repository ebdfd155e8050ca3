"""The autoencoder lesson experiments: each runs with its quick parameters and gives sane
shapes and numbers; scatter_image puts each point where and in the colour it should; bad
parameters are one ConfigError; a cancel request ends a run with Cancelled."""

import numpy as np
import pytest

from workbench.core.tasks import TaskContext
from workbench.experiments import ae_compare as AC
from workbench.core.tasks import Cancelled
from workbench.core import config as C
from workbench.experiments.registry import get_experiment, run_experiment
from workbench.core.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = ("compare_reconstructions", "sparse_codes", "vae_loss_terms", "interpolations")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    # the quick runs' small classifier is trained once per session into a temporary cache
    monkeypatch.setenv("GENWORKBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "aec_cache"))


def _sane_images(result):
    assert result.images
    for im in result.images:
        assert im.pixels.ndim in (2, 3) and (im.pixels.ndim == 2 or im.pixels.shape[2] == 3)
        assert np.isfinite(im.pixels).all()
        assert 0.0 <= im.pixels.min() and im.pixels.max() <= 1.0
        assert im.title


def _sane_curves(result):
    assert result.curves
    for c in result.curves:
        assert len(c.x) == len(c.y) > 0 and np.isfinite(c.y).all()


def test_every_experiment_is_registered_with_quick_params():
    for name in NAMES:
        info = get_experiment(name)
        assert info.target.startswith("workbench.experiments.ae_compare:")
        assert info.params.startswith("workbench.experiments.ae_compare:")
        assert C.field_metadata(info.params_class(), "quick")


def test_compare_reconstructions_quick():
    r = run_experiment("compare_reconstructions", quick=True)
    _sane_images(r)
    _sane_curves(r)
    (table,) = r.tables
    models = [row[0] for row in table.rows]
    assert models[:2] == ["ae_mlp", "ae_conv"] and len(table.rows) == 3
    for m in ("ae_mlp", "ae_conv"):
        assert 0 < r.values[f"{m}.mse"] < 1 and r.values[f"{m}.bce"] > 0
        assert 1.0 <= r.values[f"{m}.score"] <= 10.0
    # the same code size for both (the latent_dim parameter), and real parameter counts
    assert [row[2] for row in table.rows[:2]] == [16, 16]
    assert table.rows[0][1] > table.rows[1][1] > 0  # the MLP is the bigger network
    # originals + one row per model, 4 digits of 28 px with 2 px padding
    assert r.images[0].pixels.shape == (3 * 30 + 2, 4 * 30 + 2)
    # validation curves start at step 0 and end at the last step
    assert r.curves[0].x[0] == 0 and r.curves[0].x[-1] == 6


def test_sparse_codes_quick():
    r = run_experiment("sparse_codes", quick=True)
    _sane_images(r)
    _sane_curves(r)
    for key in ("sparse", "plain"):
        assert 0.0 < r.values[f"{key}.mean_activation"] < 1.0
        assert 0.0 <= r.values[f"{key}.active_share"] <= 1.0
    units = [c for c in r.curves if c.plot == "units"]
    assert len(units) == 2 and all(len(c.x) == 64 and np.all(np.diff(c.y) <= 0) for c in units)
    hist = [c for c in r.curves if c.plot == "histogram"]
    assert all(abs(c.y.sum() - 1.0) < 1e-9 for c in hist)
    # heat map: 4 digits of 28 rows each; the digit, a 4 px gap, 64 units × 6 px
    assert r.images[0].pixels.shape == (4 * 28, 28 + 4 + 64 * 6)


def test_vae_loss_terms_quick():
    r = run_experiment("vae_loss_terms", quick=True)
    _sane_images(r)
    _sane_curves(r)
    assert [row[0] for row in r.tables[0].rows] == [label for _, label in AC.LOSS_TERMS]
    scatters = r.images[:3]
    assert all(im.pixels.shape == (96, 96, 3) for im in scatters)
    # even a few steps on the KL alone pull the codes towards 0 harder than the other two
    assert r.values["kl.spread"] < r.values["both.spread"]
    assert r.values["kl.kl"] < r.values["recon.kl"]


def test_interpolations_quick():
    r = run_experiment("interpolations", quick=True)
    _sane_images(r)
    _sane_curves(r)
    (im,) = r.images  # one pair: 3 rows of 5
    assert im.pixels.shape == (3 * 30 + 2, 5 * 30 + 2)
    for k in ("AE", "VAE", "pixels"):
        assert 0.1 <= r.values[f"{k}.mean_max_prob"] <= 1.0
        assert r.values[f"{k}.min_max_prob"] <= r.values[f"{k}.mean_max_prob"] + 1e-12


def test_scatter_image_puts_each_point_in_its_colour_at_its_pixel():
    xy = np.array([[2.0, 0.0], [0.0, -2.0], [-4.0, 4.0]])
    img = AC.scatter_image(xy, [3, 7, 0], size=101, extent=4.0, radius=0)
    assert img.shape == (101, 101, 3) and img.dtype == np.float32
    # x = 2 of ±4 → column 75; y = 0 → the middle row 50; y grows upwards
    np.testing.assert_allclose(img[50, 75], AC.PALETTE_RGB[3], atol=1e-6)
    np.testing.assert_allclose(img[75, 50], AC.PALETTE_RGB[7], atol=1e-6)
    np.testing.assert_allclose(img[0, 0], AC.PALETTE_RGB[0], atol=1e-6)
    # background white, the axes through 0 faint grey (not white, not a class colour)
    assert (img[10, 90] == 1.0).all()
    axis = img[50, 20]
    assert (axis == axis[0]).all() and 0.5 < axis[0] < 1.0
    # a point outside the view is left out rather than clipped onto the border
    out = AC.scatter_image(np.array([[9.0, 0.0]]), [1], size=64, extent=4.0, radius=0)
    assert not np.isclose(out, AC.PALETTE_RGB[1]).all(-1).any()


def test_scatter_extent_has_a_floor_and_fits_the_points():
    assert AC.scatter_extent(np.zeros((5, 2))) == 3.0
    assert AC.scatter_extent(np.array([[10.0, -1.0]])) == pytest.approx(10.5)
    with pytest.raises(ValueError, match="labels"):
        AC.scatter_image(np.zeros((3, 2)), [1, 2])


def test_legend_shows_one_digit_per_class_in_its_colour():
    x = np.zeros((10, 1, 28, 28), np.float32)
    x[:, 0, 10:18, 10:18] = 1.0
    strip = AC.legend_image(x, np.arange(10))
    assert strip.shape == (32, 320, 3)
    for k in range(10):
        np.testing.assert_allclose(strip[16, k * 32 + 16], AC.PALETTE_RGB[k], atol=1e-6)


@pytest.mark.parametrize("name,params,match", [
    ("compare_reconstructions", {"stepz": 3}, "no parameter 'stepz'"),
    ("compare_reconstructions", {"models": "dcgan"}, "encoder and decoder"),
    ("compare_reconstructions", {"models": "nope"}, "unknown model"),
    ("compare_reconstructions", {"models": " , "}, "at least one autoencoder"),
    ("sparse_codes", {"threshold": 1.5}, "threshold"),
    ("sparse_codes", {"threshold": 1.0}, "threshold must be between 0 and 1"),
    ("sparse_codes", {"sparsity_weight": 0.0}, "sparsity_weight must be above 0"),
    ("vae_loss_terms", {"extent": "wide"}, "extent"),
    ("interpolations", {"pairs": [1, 12]}, r"pairs: each entry must lie in \[0, 9\]"),
    ("interpolations", {"pairs": "1, 7, 3"}, "two by two"),
    ("interpolations", {"steps": 0}, "steps must be at least 1"),
])
def test_bad_parameters_are_config_errors(name, params, match):
    with pytest.raises(ConfigError, match=match):
        run_experiment(name, params, quick=True)


@pytest.mark.parametrize("name", NAMES)
def test_cancel_raises_cancelled(name):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 1  # let the first check pass: the run is under way, then stop

    progress = []
    with pytest.raises(Cancelled):
        run_experiment(name, {"steps": 50}, quick=True, ctx=TaskContext(
            lambda f, _total, _text: progress.append(f), should_stop=should_stop))
    assert progress and 0.0 <= progress[-1] < 0.5


def test_nearest_real_distance_is_zero_for_a_real_image_and_the_mse_otherwise():
    rng = np.random.default_rng(0)
    real = rng.random((20, 1, 4, 4)).astype(np.float32)
    probe = np.stack([real[7], real[3] + 0.5])
    d = AC.nearest_real_distance(probe, real)
    assert d[0] == pytest.approx(0.0, abs=1e-9)
    brute = ((probe[1][None] - real) ** 2).reshape(20, -1).mean(1).min()
    assert d[1] == pytest.approx(brute, rel=1e-6)


def test_vae_loss_terms_draws_wider_codes_on_their_principal_axes():
    r = run_experiment("vae_loss_terms", {"latent_dim": 4, "steps": 3, "extent": "per_panel"},
                       quick=True)
    assert "PCA of the 4-D posterior means" in r.images[0].title
    assert all(im.pixels.shape == (96, 96, 3) for im in r.images[:3])


def test_code_heatmap_is_bright_where_a_unit_is_active():
    x = np.zeros((2, 1, 28, 28), np.float32)
    codes = np.array([[1.0, 0.0, 0.5], [0.0, 2.0, -1.0]], np.float32)  # out of [0, 1] is clipped
    img = AC.code_heatmap(x, codes, cell=6)
    assert img.shape == (56, 28 + 4 + 18)
    heat = img[:, 32:]
    assert heat[5, 2] == 1.0 and heat[5, 8] == 0.0 and heat[5, 14] == 0.5  # digit 0's units
    assert heat[40, 2] == 0.0 and heat[40, 8] == 1.0 and heat[40, 14] == 0.0
