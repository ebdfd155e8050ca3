"""The GAN-objective experiments: the generator's gradient on D's logit (closed form against
autograd), minimax against non-saturating from one start, a discriminator that wins."""

import math

import numpy as np
import pytest
import torch

from workbench.core.tasks import TaskContext
from workbench.core.tasks import Cancelled
from workbench.experiments.registry import run_experiment
from workbench.experiments.gan_objectives import generator_logit_gradient
from workbench.core.errors import ConfigError
from workbench.models.gan import losses as L

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("loss", ["minimax", "non_saturating"])
def test_logit_gradient_closed_form_matches_autograd(loss):
    logits = torch.linspace(-12, 12, 97, dtype=torch.float64, requires_grad=True)
    # generator_loss is a batch mean: scale by n for the per-sample gradient
    (grad,) = torch.autograd.grad(L.LOSSES[loss].g_loss(logits) * len(logits), logits)
    d = torch.sigmoid(logits.detach()).numpy()
    np.testing.assert_allclose(np.abs(grad.numpy()), generator_logit_gradient(loss, d),
                               rtol=1e-9, atol=1e-15)


def test_minimax_gradient_vanishes_where_d_rejects_the_fakes():
    d = np.array([1e-4, 0.5, 1 - 1e-4])
    assert generator_logit_gradient("minimax", d)[0] < 1e-3
    assert generator_logit_gradient("non_saturating", d)[0] > 0.99
    with pytest.raises(ValueError):
        generator_logit_gradient("hinge", d)


def test_generator_gradients_quick():
    r = run_experiment("generator_gradients", quick=True)
    v = r.values
    assert v["minimax_d_fake_early"] < 0.3                     # D was trained ahead
    assert v["minimax_grad_early"] * 3 < v["non_saturating_grad_early"]
    assert len(r.tables[0].rows) == 2 and len(r.images) == 2
    steps = [c for c in r.curves if c.plot == "G's gradient norm per step"]
    assert len(steps) == 2 and all(len(c.x) == 30 and np.isfinite(c.y).all() for c in steps)
    closed = [c for c in r.curves if c.plot.startswith("closed form")]
    assert all(c.log_y for c in closed)
    img = r.images[0].pixels
    assert img.ndim == 2 and 0.0 <= img.min() and img.max() <= 1.0


def test_generator_gradients_is_repeatable():
    a = run_experiment("generator_gradients", {"steps": 4, "pretrain_d_steps": 3, "samples": 0},
                       quick=True, seed=3)
    b = run_experiment("generator_gradients", {"steps": 4, "pretrain_d_steps": 3, "samples": 0},
                       quick=True, seed=3)
    assert a.values == b.values


def test_strong_discriminator_quick():
    r = run_experiment("strong_discriminator", quick=True)
    v = r.values
    assert abs(math.log(2) - v["strong_js_final"]) < abs(math.log(2) - v["balanced_js_final"])
    assert v["strong_js_final"] > 0.6
    assert v["strong_grad_g_final"] < v["balanced_grad_g_final"]
    assert any(c.name == "log 2" for c in r.curves)


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="no parameter 'step'"):
        run_experiment("generator_gradients", {"step": 3})
    with pytest.raises(ConfigError, match="g_optimizer must be one of sgd, adam"):
        run_experiment("generator_gradients", {"g_optimizer": "lbfgs"})
    with pytest.raises(ConfigError, match="strong_d_steps must be at least 1"):
        run_experiment("strong_discriminator", {"strong_d_steps": 0})


@pytest.mark.parametrize("name", ["generator_gradients", "strong_discriminator"])
def test_cancel(name):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        run_experiment(name, quick=True, ctx=TaskContext(should_stop=stop))
