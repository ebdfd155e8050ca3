"""The by-hand steps (models/gan/by_hand.py): the written-out backward pass, the losses'
written-out gradients and the hand-over of those gradients to the optimiser train exactly as
autograd and `opt.step()` do."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.models.registry import create_model
from workbench.data.spec import DataSpec
from workbench.models.gan import losses as L
from workbench.models.gan.by_hand import LinearChain, apply_gradients

POINTS = DataSpec(shape=(2,), kind="points")


# -- the chain ------------------------------------------------------------------------------------
def test_chain_matches_autograd_for_outputs_weights_and_inputs():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(3, 16), nn.LeakyReLU(0.2),
                                                    nn.Linear(16, 8), nn.ReLU()),
                        nn.Identity(), nn.Linear(8, 2))
    chain = LinearChain.of(net)
    assert chain is not None and [p is q for p, q in zip(chain.params, net.parameters())] \
        == [True] * 6
    x = torch.randn(7, 3, requires_grad=True)
    out = net(x)
    g = torch.randn_like(out)
    ref = torch.autograd.grad(out, [x, *net.parameters()], g)
    with torch.no_grad():
        mine, tape = chain.forward(x)
        grads, gx = chain.backward(tape, g, inputs=True)
        only_x = chain.backward(tape, g, weights=False, inputs=True)
        only_w = chain.backward(tape, g)
    assert torch.allclose(mine, out)
    assert torch.allclose(gx, ref[0], atol=1e-6)
    for a, b in zip(grads, ref[1:]):
        assert torch.allclose(a, b, atol=1e-6)
    assert only_x[0] is None and torch.allclose(only_x[1], gx)
    assert only_w[1] is None and all(torch.equal(a, b) for a, b in zip(only_w[0], grads))


@pytest.mark.parametrize("layer", [nn.BatchNorm1d(4), nn.Dropout(0.1), nn.Tanh(),
                                   nn.Linear(4, 4, bias=False), nn.Flatten(0)])
def test_chain_refuses_layers_it_cannot_differentiate(layer):
    assert LinearChain.of(nn.Sequential(nn.Linear(4, 4), layer, nn.Linear(4, 1))) is None


# -- the losses' gradients ---------------------------------------------------------------------------
@pytest.mark.parametrize("loss", L.LOSSES)
@pytest.mark.parametrize("target", [1.0, 0.0, "tensor"])
def test_discriminator_loss_gradient_is_autograds(loss, target):
    torch.manual_seed(1)
    d = (torch.randn(64) * 3).requires_grad_(True)
    t = torch.rand(64) if target == "tensor" else target
    (ref,) = torch.autograd.grad(L.LOSSES[loss].d_loss(d, t), d)
    assert torch.allclose(L.LOSSES[loss].d_loss_grad(d.detach(), t), ref, atol=1e-7)


@pytest.mark.parametrize("loss", L.LOSSES)
def test_generator_loss_gradient_is_autograds(loss):
    torch.manual_seed(2)
    d = (torch.randn(64) * 3).requires_grad_(True)
    (ref,) = torch.autograd.grad(L.LOSSES[loss].g_loss(d), d)
    assert torch.allclose(L.LOSSES[loss].g_loss_grad(d.detach()), ref, atol=1e-7)


# -- whole steps ------------------------------------------------------------------------------------
def build(name="toy_gan", by_hand=True, **overrides):
    torch.manual_seed(0)
    model = create_model(name, POINTS, **{"hidden": (16, 16), **overrides})
    model.hand_backprop = by_hand
    model.setup_optimizers()
    return model.train()


@pytest.mark.parametrize("overrides", [
    {},                                                             # toy_gan's defaults
    {"loss": "minimax", "label_smoothing": 0.1, "label_flip": 0.05},
    {"loss": "least_squares", "instance_noise": 0.3, "instance_noise_steps": 4},
    {"loss": "hinge", "d_steps": 2, "replay_size": 64, "replay_fraction": 0.5},
    {"loss": "wasserstein", "optimizer": "rmsprop", "clip_value": 0.05, "d_steps": 3},
    {"d_input_scale": 0.0, "ema_decay": 0.9, "g_hidden": (8, 12, 8)},
    {"d_input_scale": 0.5, "lr_decay_start": 2, "lr_decay_end": 5},
])
def test_train_steps_by_hand_equal_autograds(overrides):
    hand, auto = build(**overrides), build(by_hand=False, **overrides)
    assert hand.linear_chains() is not None and auto.linear_chains() is None
    gen = torch.Generator().manual_seed(3)
    data = torch.randn(4000, 2, generator=gen) * 2
    for step in range(6):
        x = data[step * 32:(step + 1) * 32]
        torch.manual_seed(100 + step)
        a = hand.train_step(x)
        torch.manual_seed(100 + step)
        b = auto.train_step(x)
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-6), (step, k)
    for (name, p), q in zip(hand.state_dict().items(), auto.state_dict().values()):
        assert torch.allclose(p.float(), q.float(), rtol=1e-4, atol=1e-6), name
    for role in ("G", "D"):
        sa = hand.optimizers[role].state_dict()["state"]
        sb = auto.optimizers[role].state_dict()["state"]
        for i in sa:
            for k in sa[i]:
                assert torch.allclose(sa[i][k].float(), sb[i][k].float(), rtol=1e-3,
                                      atol=1e-8), (role, i, k)


@pytest.mark.parametrize("name,overrides", [
    ("toy_gan", {"r1_gamma": 0.1}), ("toy_gan", {"gp_weight": 1.0}), ("toy_gan", {"pack": 2}),
    ("toy_gan", {"unroll_steps": 1}), ("toy_gan", {"minibatch_std": True}),
    ("toy_gan", {"mbd_kernels": 4}), ("toy_gan_stable", {}),  # R1 and a mixture generator
])
def test_configs_that_need_autograd_keep_it(name, overrides):
    model = build(name, **overrides)
    assert model.linear_chains() is None
    torch.manual_seed(0)
    out = model.train_step(torch.randn(32, 2))
    assert all(torch.isfinite(torch.tensor(v)) for v in out.values())


def test_a_replaced_discriminator_is_read_again():
    model = build()
    first = model.linear_chains()
    assert model.linear_chains() is first  # read once
    model.D = create_model("toy_gan", POINTS, hidden=(16, 16), minibatch_std=True).D
    assert model.linear_chains() is None


# -- handing gradients to the optimiser --------------------------------------------------------------
def _twins(**adam):
    torch.manual_seed(4)
    a = [torch.randn(5, 3, requires_grad=True), torch.randn(3, requires_grad=True)]
    b = [t.detach().clone().requires_grad_(True) for t in a]
    return (a, torch.optim.Adam(a, lr=0.1, **adam)), (b, torch.optim.Adam(b, lr=0.1, **adam))


@pytest.mark.parametrize("adam", [dict(fused=True), dict(fused=True, weight_decay=0.01),
                                  dict(fused=True, amsgrad=True), dict()])
def test_apply_gradients_steps_like_the_optimiser(adam):
    (a, opt_a), (b, opt_b) = _twins(**adam)
    for step in range(4):
        grads = [torch.randn_like(t) for t in a]
        apply_gradients(opt_a, a, grads)
        for t, g in zip(b, grads):
            t.grad = g.clone()
        opt_b.step()
        for s, t in zip(a, b):
            assert torch.allclose(s, t, atol=1e-7), step
    assert str(opt_a.state_dict()) == str(opt_b.state_dict())


def test_apply_gradients_runs_the_optimisers_hooks():
    # The distributed gradient averaging is a step pre-hook: it must still see every step.
    (a, opt), _ = _twins(fused=True)
    seen = []
    opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(o))
    for _ in range(3):
        apply_gradients(opt, a, [torch.ones_like(t) for t in a])
    assert len(seen) == 3


def test_the_direct_fused_step_is_taken_only_where_it_is_tested_and_safe(monkeypatch):
    from workbench.models.gan import fused_adam

    def direct_steps(**adam):
        (a, opt), _ = _twins(**adam)
        before = fused_adam.direct_steps
        for _ in range(3):  # the first creates Adam's state through opt.step()
            apply_gradients(opt, a, [torch.ones_like(t) for t in a])
        return fused_adam.direct_steps - before

    assert direct_steps(fused=True) == (2 if fused_adam.IN_TESTED_RANGE else 0)
    assert direct_steps(fused=True, amsgrad=True) == 0 and direct_steps() == 0
    monkeypatch.setattr(fused_adam, "IN_TESTED_RANGE", False)  # another torch: opt.step()
    assert direct_steps(fused=True) == 0
    monkeypatch.setattr(fused_adam, "IN_TESTED_RANGE", True)
    monkeypatch.setattr(fused_adam, "enabled", False)  # the bench's comparison
    assert direct_steps(fused=True) == 0

