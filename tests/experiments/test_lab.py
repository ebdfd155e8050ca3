"""The GAN lab's stepper: which player moves, live config changes, reproducibility, snapshots."""

import numpy as np
import pytest
import torch

from workbench.core.errors import ConfigError
from workbench.experiments.lab import GanLab, LabSnapshot
from workbench.models.gan import losses as L

SMALL = {"hidden": (32, 32)}  # fast; the behaviour under test does not depend on the width


@pytest.fixture
def lab():
    return GanLab("grid25", "toy_gan", config=SMALL, seed=0, batch_size=64)


def _weights(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_step_d_moves_only_d_and_step_g_only_g(lab):
    g0, d0 = _weights(lab.model.G), _weights(lab.model.D)
    out = lab.step_d()
    assert {"d_loss", "d_real", "d_fake", "grad_d"} <= set(out)
    assert all(type(v) is float for v in out.values())
    assert _same(g0, _weights(lab.model.G)) and not _same(d0, _weights(lab.model.D))
    assert lab.step == 0 and lab.d_updates == 1

    g1, d1 = _weights(lab.model.G), _weights(lab.model.D)
    out = lab.step_g()
    assert {"g_loss", "grad_g"} <= set(out)
    assert _same(d1, _weights(lab.model.D)) and not _same(g1, _weights(lab.model.G))
    assert lab.step == 1
    assert [h["player"] for h in lab.history] == [0.0, 1.0]


def test_step_both_runs_full_train_steps(lab):
    lab.set_config(d_steps=2)
    out = lab.step_both(5)
    assert lab.step == 5 and lab.d_updates == 10 and len(lab.history) == 5
    assert {"d_loss", "g_loss", "loss"} <= set(out)
    assert int(lab.model.steps) == 5


def test_set_config_switches_the_loss_and_keeps_the_weights(lab):
    lab.step_both(3)
    before = _weights(lab.model)
    lab.set_config(loss="wasserstein", clip_value=0.05, lr_d=1e-3, r1_gamma=1.0)
    assert lab.config.loss == "wasserstein" and lab.config.r1_gamma == 1.0
    assert _same(before, _weights(lab.model))  # nothing reset
    assert lab.model.optimizers["D"].param_groups[0]["lr"] == pytest.approx(1e-3)
    assert lab.step == 3
    out = lab.step_d()
    assert "penalty" in out and out["penalty"] > 0
    assert all(p.abs().max() <= 0.05 + 1e-7 for p in lab.model.D.parameters())  # clipping is on
    assert lab.snapshot(n=100, grid=8, arrows=16, manifold=5).d_map_kind == "critic"


def test_set_config_stabilisers_that_add_state(lab):
    lab.step_both(2)
    g = _weights(lab.model.G)
    lab.set_config(ema_decay=0.9, replay_size=256, pack=2)  # pack rebuilds D only
    assert lab.model.g_ema is not None and lab.model.replay is not None
    assert _same(g, _weights(lab.model.G))
    assert lab.model.D.trunk[1][0].in_features == 4
    lab.step_both(2)
    snap = lab.snapshot(n=100, grid=8, arrows=15, manifold=5)
    assert snap.arrow_pos.shape[1] == 2 and np.isfinite(snap.d_map).all()
    lab.set_config(ema_decay=0.0)
    assert lab.model.g_ema is None


def test_bad_live_change_raises_and_changes_nothing(lab):
    with pytest.raises(ConfigError):
        lab.set_config(loss="nonsense")
    with pytest.raises(ConfigError):
        lab.set_config(lr_g=-1.0)
    assert lab.config.loss == "non_saturating"


def test_structural_change_rebuilds(lab):
    lab.step_both(2)
    lab.set_config(latent_dim=3)
    assert lab.step == 0 and lab.model.G[0].in_features == 3
    snap = lab.snapshot(n=50, grid=8, arrows=8, manifold=6)
    assert snap.manifold.shape == (6, 6, 2)


def test_reset_with_a_seed_reproduces(lab):
    def run(seed):
        lab.reset(seed=seed)
        lab.step_d()
        lab.snapshot(n=200, grid=8, arrows=8, manifold=5)  # drawing must not move the run
        lab.step_g()
        lab.step_both(3)
        return _weights(lab.model), lab.history[-1]

    a, ha = run(5)
    b, hb = run(5)
    c, _ = run(6)
    assert _same(a, b) and ha == hb
    assert not _same(a, c)


def test_reset_to_another_dataset_and_model():
    lab = GanLab("ring8", "toy_gan", config=SMALL, batch_size=32)
    lab.set_config(r1_gamma=0.5)
    lab.reset(dataset="spiral")
    assert lab.data.name == "spiral" and lab.config.r1_gamma == 0.5  # live changes kept
    snap = lab.snapshot(n=100, grid=8, arrows=8, manifold=5)
    assert snap.modes is None  # a spiral has no modes to count
    lab.reset(model="toy_gan_stable", dataset="ring8")
    assert lab.model_name == "toy_gan_stable" and lab.data.name == "ring8"
    lab.step_both(2)
    snap = lab.snapshot(n=300, grid=8, arrows=8, manifold=5)  # G also takes a component
    assert snap.fake.shape == (300, 2) and snap.manifold.shape == (5, 5, 2)
    assert snap.modes.n_modes == 8
    with pytest.raises(ConfigError, match="2-D points"):
        lab.reset(dataset="mnist5k")


def test_snapshot_shapes_dtypes_and_modes(lab):
    lab.step_both(3)
    snap = lab.snapshot()
    assert isinstance(snap, LabSnapshot) and snap.step == 3
    shapes = {"real": (1000, 2), "fake": (2500, 2), "d_map": (64, 64), "manifold": (24, 24, 2),
              "manifold_density": (23, 23), "arrow_pos": (256, 2), "arrow_vec": (256, 2)}
    for name, shape in shapes.items():
        arr = getattr(snap, name)
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float32, name
        assert arr.shape == shape, (name, arr.shape)
        assert np.isfinite(arr).all(), name
    assert snap.d_map_kind == "probability" and 0 <= snap.d_map.min() <= snap.d_map.max() <= 1
    assert 0 < snap.manifold_density.max() <= 1.0 and snap.manifold_density.min() > 0
    x0, x1, y0, y1 = snap.extent
    assert x0 < -4 and x1 > 4 and y0 < -4 and y1 > 4  # grid25 spans [−4, 4]²
    assert snap.modes.n_modes == 25 and snap.modes.n_samples == 2500
    assert {"d_loss", "g_loss", "d_real", "d_fake", "grad_d", "grad_g"} <= set(snap.metrics)
    assert np.array_equal(snap.arrow_pos, snap.fake[:256])


def test_d_map_rows_are_y(lab):
    snap = lab.snapshot(n=10, grid=4, arrows=1, manifold=3)
    x0, x1, y0, y1 = snap.extent
    # D at the centre of the top-right cell, row 3 = largest y, column 3 = largest x.
    cx, cy = x1 - (x1 - x0) / 8, y1 - (y1 - y0) / 8
    with torch.no_grad():
        d = torch.sigmoid(lab.model.discriminate(torch.tensor([[cx, cy]], dtype=torch.float32)))
    assert snap.d_map[3, 3] == pytest.approx(float(d), abs=1e-5)


def test_manifold_with_a_2d_latent_is_g_on_the_z_grid(lab):
    snap = lab.snapshot(n=10, grid=4, arrows=1, manifold=5)
    with torch.no_grad():
        corner = lab.model.G(torch.tensor([[3.0, -3.0]]))  # a = 3 (last column), b = −3 (row 0)
    assert np.allclose(snap.manifold[0, 4], corner.numpy()[0], atol=1e-5)


@pytest.mark.parametrize("loss", ["non_saturating", "minimax", "wasserstein"])
def test_arrows_point_down_the_generator_loss(lab, loss):
    lab.set_config(loss=loss)
    lab.step_both(5)
    snap = lab.snapshot(n=50, grid=4, arrows=8, manifold=3)
    for i in range(3):
        x = torch.tensor(snap.arrow_pos[i:i + 1]).requires_grad_(True)
        g_loss = L.LOSSES[loss].g_loss(lab.model.discriminate(x))
        (grad,) = torch.autograd.grad(g_loss, x)
        assert np.allclose(snap.arrow_vec[i], -grad.numpy()[0], rtol=1e-4, atol=1e-6)
    # Moving a fake a little along its arrow lowers its generator loss.
    x = torch.tensor(snap.arrow_pos[:8])
    v = torch.tensor(snap.arrow_vec[:8])
    with torch.no_grad():
        before = L.LOSSES[loss].g_loss(lab.model.discriminate(x))
        after = L.LOSSES[loss].g_loss(lab.model.discriminate(x + 1e-3 * v / v.norm(dim=1).max()))
    assert after < before


def test_points_model_on_images_is_a_clear_error():
    with pytest.raises(ConfigError, match="points"):
        GanLab("mnist5k", "toy_gan")
