"""The toy GAN's D input scale: fixed, or measured once (auto) and carried by checkpoints."""

from __future__ import annotations

import pytest
import torch

from workbench.models.registry import create_model, get_config
from workbench.data import load_dataset
from workbench.models.gan import GAN

SMALL = dict(hidden=(16, 16))


def build(name="toy_gan", dataset="grid25", **overrides):
    data = load_dataset(dataset)
    torch.manual_seed(0)
    model = create_model(name, data=data.spec, **{**SMALL, **overrides})
    model.setup_optimizers()
    return model.train(), data


def test_defaults_plain_gan_sees_raw_coordinates_stable_recipe_is_auto():
    assert get_config("toy_gan").d_input_scale == 1.0  # the plain GAN stays plain
    assert get_config("toy_gan_stable").d_input_scale == 0.0


def test_fixed_scale_multiplies_d_input():
    model, _ = build(d_input_scale=0.25)
    x = torch.randn(6, 2) * 4
    torch.testing.assert_close(model.discriminate(x), GAN.discriminate(model, x * 0.25))
    raw, _ = build()
    torch.testing.assert_close(raw.discriminate(x), GAN.discriminate(raw, x))


@pytest.mark.parametrize("dataset,scale", [("grid25", 0.25), ("ring8", 1.0)])
def test_auto_scale_is_measured_once_on_the_first_real_batch(dataset, scale):
    model, data = build(dataset=dataset, d_input_scale=0.0)
    model.train_step(data.x_train[:128])
    assert float(model.d_auto_scale) == scale
    model.train_step(data.x_train[:128] * 10)  # later batches do not move it
    assert float(model.d_auto_scale) == scale
    x = data.x_train[:5]
    torch.testing.assert_close(model.discriminate(x), GAN.discriminate(model, x * scale))


def test_auto_scale_survives_a_checkpoint_and_old_checkpoints_load_raw():
    model, data = build(d_input_scale=0.0)
    model.train_step(data.x_train[:128])
    state = model.state_dict()
    fresh, _ = build(d_input_scale=0.0)
    fresh.load_state_dict(state, strict=True)
    assert float(fresh.d_auto_scale) == 0.25
    fresh.train_step(data.x_train[:128] / 8)  # loaded: measured already, not re-measured
    assert float(fresh.d_auto_scale) == 0.25
    old = {k: v for k, v in state.items() if k != "d_auto_scale"}  # saved before the field
    again, _ = build(d_input_scale=0.0)
    again.load_state_dict(old, strict=True)
    assert float(again.d_auto_scale) == 1.0


def test_lab_switches_the_scale_live_without_a_reset():
    from workbench.experiments.lab import GanLab

    lab = GanLab("grid25", "toy_gan", config=SMALL, seed=0, batch_size=64)
    lab.step_both(2)
    weights = {k: v.clone() for k, v in lab.model.state_dict().items()}
    before = lab.snapshot(n=50, grid=8, arrows=4, manifold=4).d_map
    lab.set_config(d_input_scale=0.25)
    assert lab.step == 2
    assert all(torch.equal(weights[k], v) for k, v in lab.model.state_dict().items())
    assert not (lab.snapshot(n=50, grid=8, arrows=4, manifold=4).d_map == before).all()
