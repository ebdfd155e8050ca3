"""The GAN train step's shortcuts compute what the plain step computes.

The step avoids work (one D pass over reals and fakes together, R1 from that pass, no graph
through G in D's step, no D weight gradients in G's step, fused Adam): each shortcut is checked
against the straightforward computation here, so a faster step can never train differently.
"""

from __future__ import annotations

import copy

import pytest
import torch

from workbench.models.registry import create_model
from workbench.data.spec import DataSpec
from workbench.models.gan import losses as L

POINTS = DataSpec(shape=(2,), kind="points")
IMAGES = DataSpec(shape=(1, 8, 8), num_classes=3, kind="image")
TINY = dict(hidden=(16, 16))


def build(name, data=POINTS, **overrides):
    torch.manual_seed(0)
    model = create_model(name, data, **overrides)
    model.setup_optimizers()
    return model.train()


def reference_d_grads(model, x, y, seed):
    """D's gradients the plain way: fakes drawn as d_step draws them, separate D passes on
    reals and fakes, R1 and targets from their own definitions."""
    m = copy.deepcopy(model)
    c = m.config
    torch.manual_seed(seed)
    fake = m.generate(m.draw_codes(x.shape[0])[0], y).detach()
    d_real, d_fake = m.discriminate(x, y), m.discriminate(fake, y)
    t_real, t_fake = m.d_targets(d_real.shape[0], d_fake.shape[0], x.device)
    loss = L.LOSSES[c.loss].d_loss(d_real, t_real) + L.LOSSES[c.loss].d_loss(d_fake, t_fake)
    if c.r1_gamma:
        loss = loss + L.r1_penalty(lambda v: m.discriminate(v, y), x, c.r1_gamma)
    return loss, torch.autograd.grad(loss, list(m.D.parameters()))


@pytest.mark.parametrize("name,data,overrides", [
    ("toy_gan_stable", POINTS, dict(d_input_scale=0.25)),        # R1 shared, mixture prior
    ("toy_gan", POINTS, dict(pack=2, **TINY)),                   # packed, one pass
    ("toy_gan", POINTS, dict(minibatch_std=True, **TINY)),       # batch-wide D: two passes
    ("cgan", IMAGES, dict(hidden=(16,), latent_dim=4, label_smoothing=0.1)),  # labels, targets
])
def test_d_step_gradients_match_the_plain_computation(name, data, overrides):
    model = build(name, data, **overrides)
    n = 8
    x = torch.rand(n, *data.shape) * 4 - 2
    y = torch.arange(n) % data.num_classes if data.num_classes else None
    loss, grads = reference_d_grads(model, x, y, seed=7)
    torch.manual_seed(7)
    out = model.d_step(x, y)
    assert float(out["d_loss"].detach()) == pytest.approx(float(loss.detach()), rel=1e-5,
                                                          abs=1e-6)
    for p, g in zip(model.D.parameters(), grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6)
    expected_norm = torch.sqrt(sum(g.pow(2).sum() for g in grads))
    assert float(out["grad_d"]) == pytest.approx(float(expected_norm), rel=1e-5)


def test_one_d_pass_only_where_d_judges_samples_alone():
    assert build("toy_gan", **TINY).d_per_sample
    assert not build("toy_gan", minibatch_std=True, **TINY).d_per_sample
    assert not build("toy_gan", mbd_kernels=4, **TINY).d_per_sample
    assert not build("dcgan", IMAGES, channels=(4, 8), latent_dim=4).d_per_sample  # batch norm
    model = build("toy_gan", minibatch_std=True, **TINY)
    calls = []
    model.D.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    model.d_step(torch.randn(6, 2), None)
    assert calls == [6, 6]  # reals and fakes apart: batch statistics never mix them


def test_r1_from_the_loss_pass_equals_r1_penalty():
    model = build("toy_gan", **TINY)
    x = torch.randn(10, 2)
    leaf = x.clone().requires_grad_(True)
    shared = L.r1_of(model.discriminate(leaf), leaf, 0.5)
    own = L.r1_penalty(lambda v: model.discriminate(v), x, 0.5)
    torch.testing.assert_close(shared, own)


def test_g_step_leaves_d_gradients_alone_and_matches_plain_backward():
    model = build("toy_gan", **TINY)
    model.d_step(torch.randn(8, 2), None)
    d_grads = [p.grad.clone() for p in model.D.parameters()]
    ref = copy.deepcopy(model)
    torch.manual_seed(3)
    g_in = ref.draw_codes(8)[0]
    loss = L.LOSSES[ref.config.loss].g_loss(ref.discriminate(ref.generate(g_in)))
    expected = torch.autograd.grad(loss, list(ref.G.parameters()))
    torch.manual_seed(3)
    model.g_step(8, None)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.D.parameters(), d_grads))
    for p, g in zip(model.G.parameters(), expected):
        torch.testing.assert_close(p.grad, g)


def test_d_step_builds_no_graph_through_g():
    model = build("toy_gan", **TINY)
    model.d_step(torch.randn(8, 2), None)
    assert all(p.grad is None for p in model.G.parameters())


@pytest.mark.skipif(tuple(int(v) for v in torch.__version__.split(".")[:2]) < (2, 4),
                    reason="fused Adam on the CPU needs torch 2.4")
def test_adam_is_fused_where_torch_has_it_and_rmsprop_unchanged():
    model = build("toy_gan", **TINY)
    assert all(o.defaults.get("fused") for o in model.optimizers.values())
    wgan = build("wgan", IMAGES, channels=(4, 8), latent_dim=4)
    assert isinstance(wgan.optimizers["D"], torch.optim.RMSprop)
