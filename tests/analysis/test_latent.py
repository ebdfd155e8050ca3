"""The Qt-free latent-space toolkit: probes, projections, clusters, walks and arithmetic."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from workbench.core.tasks import TaskContext
from workbench.analysis import latent as L
from workbench.core.tasks import Cancelled
from workbench.models.registry import create_model
from workbench.data.spec import DataSpec

MNIST = DataSpec.mnist()


def _blobs(n_per=40, k=3, dim=5, seed=0, spread=0.05):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * 5
    x = np.concatenate([c + spread * rng.normal(size=(n_per, dim)) for c in centres])
    y = np.repeat(np.arange(k), n_per)
    return x.astype(np.float32), y


def test_probe_encodes_decodes_and_reports_kl_for_a_vae():
    torch.manual_seed(0)
    probe = L.LatentProbe(create_model("vae_mlp", MNIST, latent_dim=4), "vae_mlp")
    assert probe.can_encode and probe.can_decode and probe.has_posterior and probe.dim == 4
    x = np.random.default_rng(0).random((7, 1, 28, 28), np.float32)
    z = probe.encode(x)
    assert z.shape == (7, 4) and z.dtype == np.float32
    img = probe.decode(z[0])
    assert img.shape == (1, 1, 28, 28) and 0 <= img.min() and img.max() <= 1
    assert probe.reconstruct(x).shape == x.shape
    kl = probe.kl_per_dim(x)
    assert kl.shape == (4,) and (kl >= 0).all()


def test_probe_of_a_gan_decodes_but_cannot_encode():
    torch.manual_seed(0)
    probe = L.LatentProbe(create_model("gan_mlp", MNIST, latent_dim=8), "gan_mlp")
    assert probe.can_decode and not probe.can_encode and probe.dim == 8
    assert probe.decode(np.zeros(8)).shape == (1, 1, 28, 28)
    assert probe.kl_per_dim(np.zeros((2, 1, 28, 28))) is None
    with pytest.raises(TypeError, match="no encoder"):
        probe.encode(np.zeros((2, 1, 28, 28)))


def test_conditional_probe_decodes_the_requested_label():
    torch.manual_seed(0)
    probe = L.LatentProbe(create_model("cvae", MNIST, latent_dim=3), "cvae")
    z = np.zeros(3, np.float32)
    a, b = probe.decode(z, y=2), probe.decode(z, y=7)
    assert not np.allclose(a, b), "the label must reach the decoder"


def test_probe_from_snapshot_reuses_the_cached_model_and_loads_new_weights():
    torch.manual_seed(0)
    m = create_model("ae_mlp", MNIST, latent_dim=2)
    snap = SimpleNamespace(model="ae_mlp", config=m.config, spec=MNIST,
                           state={k: v.numpy().copy() for k, v in m.state_dict().items()})
    cache: dict = {}
    p1 = L.LatentProbe.from_snapshot(snap, cache)
    z = np.ones(2, np.float32)
    before = p1.decode(z)
    snap2 = SimpleNamespace(**{**vars(snap), "state": {k: v * 0.5
                                                       for k, v in snap.state.items()}})
    p2 = L.LatentProbe.from_snapshot(snap2, cache)
    assert p2.model is p1.model  # same architecture: no rebuild
    assert not np.allclose(before, p2.decode(z))


def test_project_2d_keeps_2d_codes_and_uses_pca_beyond():
    codes = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    xy, how = L.project_2d(codes)
    assert np.array_equal(xy, codes) and "z" in how
    x, _ = _blobs(dim=6)
    xy, how = L.project_2d(x)
    assert xy.shape == (len(x), 2) and "PCA" in how


def test_tsne_separates_blobs_reports_progress_and_can_be_cancelled():
    x, y = _blobs(n_per=30, k=3, dim=10)
    calls = []
    emb = L.tsne(x, perplexity=10, iterations=250,
                 ctx=TaskContext(lambda i, n, _: calls.append((i, n))))
    assert emb.shape == (90, 2) and np.isfinite(emb).all()
    assert calls and calls[-1] == (250, 250)
    # Every point's nearest neighbour in the embedding is of its own blob.
    d = ((emb[:, None] - emb[None]) ** 2).sum(2)
    np.fill_diagonal(d, np.inf)
    assert (y[d.argmin(1)] == y).mean() > 0.95
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        L.tsne(x, iterations=50, ctx=TaskContext(should_stop=ev.is_set))


def test_kmeans_finds_blobs_and_purity_measures_agreement():
    x, y = _blobs(k=4)
    assign, centres = L.kmeans(x, 4, seed=1)
    assert centres.shape == (4, x.shape[1])
    assert L.cluster_purity(assign, y) == pytest.approx(1.0)
    assert L.cluster_purity(np.zeros_like(y), y) == pytest.approx(0.25)


def test_points_in_polygon_square_and_concave():
    pts = np.array([[0.5, 0.5], [1.5, 0.5], [0.1, 0.9], [-0.1, 0.5]])
    square = [(0, 0), (1, 0), (1, 1), (0, 1)]
    assert L.points_in_polygon(pts, square).tolist() == [True, False, True, False]
    # A "U" shape: the notch is outside.
    u = [(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)]
    assert L.points_in_polygon([[1.5, 2.0], [0.5, 2.0]], u).tolist() == [False, True]


def test_interpolation_ends_are_the_two_codes_and_slerp_keeps_the_norm():
    rng = np.random.default_rng(0)
    z0, z1 = rng.normal(size=64), rng.normal(size=64)
    for method in ("linear", "slerp"):
        path = L.interpolate(z0, z1, 9, method)
        assert path.shape == (9, 64)
        np.testing.assert_allclose(path[0], z0, atol=1e-5)
        np.testing.assert_allclose(path[-1], z1, atol=1e-5)
    lin = np.linalg.norm(L.interpolate(z0, z1, 9, "linear"), axis=1)
    sl = np.linalg.norm(L.interpolate(z0, z1, 9, "slerp"), axis=1)
    assert lin[4] < 0.85 * min(lin[0], lin[-1])  # the straight line sags towards 0
    assert sl[4] > 0.95 * min(sl[0], sl[-1])
    with pytest.raises(ValueError):
        L.interpolate(z0, z1, 3, "cubic")


def test_traversal_codes_vary_one_dimension_per_row():
    base = np.array([0.5, -1.0, 2.0], np.float32)
    codes = L.traversal_codes(base, [2, 0], [-3, 0, 3])
    assert codes.shape == (6, 3)
    np.testing.assert_array_equal(codes[:3, 2], [-3, 0, 3])
    np.testing.assert_array_equal(codes[:3, :2], np.tile(base[:2], (3, 1)))
    np.testing.assert_array_equal(codes[3:, 0], [-3, 0, 3])
    assert L.active_dims_first(np.array([0.1, 2.0, 0.5]), 3) == [1, 2, 0]


def test_attribute_vector_is_the_difference_of_means():
    codes = np.array([[1, 0], [3, 0], [0, 2], [0, 4]], np.float32)
    labels = np.array([0, 0, 1, 1])
    v = L.attribute_vector(codes, labels == 0, labels == 1)
    np.testing.assert_allclose(v, [2, -3])
    with pytest.raises(ValueError):
        L.attribute_vector(codes, labels == 5, labels == 1)
