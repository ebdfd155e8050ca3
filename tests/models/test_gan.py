"""The GAN family's mathematics and stabilisers, on tiny players and a few steps."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from workbench.core.errors import ConfigError
from workbench.models.gan import GAN
from workbench.models.registry import create_model, get_model_info, list_models
from workbench.data.spec import DataSpec
from workbench.models.gan import losses as L
from workbench.models.gan import unrolled
from workbench.models.gan.nets import FakeReplay, MinibatchDiscrimination, augment

SMALL = DataSpec(shape=(1, 8, 8), num_classes=3, kind="image")
POINTS = DataSpec(shape=(2,), kind="points")
# Tiny players with a plain D: gan_mlp's default minibatch std-dev is switched on where tested.
TINY = dict(latent_dim=4, hidden=(16,), channels=(4, 8), minibatch_std=False)
# Every registered GAN variant, the 2-D toy GANs included: a new variant gets these tests too.
GANS = [n for n in list_models() if issubclass(get_model_info(n).model_cls, GAN)]


def build(name="gan_mlp", data=SMALL, seed=0, **overrides):
    torch.manual_seed(seed)
    model = create_model(name, data, **{**TINY, **overrides})
    model.setup_optimizers()
    model.train()
    return model


def batch(model, n=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *model.data.shape, generator=g)
    y = torch.arange(n) % model.data.num_classes if model.data.num_classes else None
    return x, y


def run_steps(model, steps=2):
    """Train from a fixed seed on fixed batches; returns the last metrics and G's weights."""
    torch.manual_seed(123)
    for i in range(steps):
        metrics = model.train_step(*batch(model, seed=i))
    return metrics, torch.cat([p.detach().flatten() for p in model.G.parameters()])


def data_for(name):
    """The tiny images, or 2-D points for a variant made for points (the toy GANs)."""
    return SMALL if "image" in get_model_info(name).data_kinds else POINTS


def test_the_named_gans_are_registered():
    assert {"gan_mlp", "dcgan", "cgan", "wgan", "wgan_gp", "infogan", "toy_gan",
            "toy_gan_stable"} <= set(GANS)
    assert all(get_model_info(n).family == "gan" for n in GANS)


# -- losses and penalties -------------------------------------------------------------------------
def test_gradient_penalty_of_a_linear_critic_is_exact():
    w = torch.tensor([0.3, -1.2, 2.0, 0.5])
    critic = lambda v: v.flatten(1) @ w  # noqa: E731  ‖∇D‖ = ‖w‖ everywhere
    real, fake = torch.randn(16, 4), torch.randn(16, 4)
    gp = L.gradient_penalty(critic, real, fake, weight=10.0)
    assert torch.allclose(gp, 10.0 * (w.norm() - 1.0) ** 2)
    grads = L.input_gradients(critic, real)
    assert torch.allclose(grads, w.expand(16, 4))


def test_gradient_penalty_matches_autograd_on_a_nonlinear_critic():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    critic = lambda v: net(v).view(-1)  # noqa: E731
    real, fake = torch.randn(6, 3), torch.randn(6, 3)
    gp = L.gradient_penalty(critic, real, fake, 10.0, generator=torch.Generator().manual_seed(4))
    x_hat, _ = L.interpolate(real, fake, torch.Generator().manual_seed(4))
    norms = torch.stack([torch.autograd.functional.jacobian(lambda v: net(v).sum(), row).norm()
                         for row in x_hat])
    assert torch.allclose(gp, 10.0 * ((norms - 1) ** 2).mean(), atol=1e-6)
    assert gp.requires_grad  # it trains the critic


def test_r1_penalty_of_a_linear_critic():
    w = torch.tensor([1.0, 2.0, -2.0])
    r1 = L.r1_penalty(lambda v: v @ w, torch.randn(5, 3), gamma=4.0)
    assert torch.allclose(r1, torch.tensor(0.5 * 4.0 * 9.0))


def test_interpolation_coefficient_is_drawn_per_sample():
    real, fake = torch.ones(32, 1, 4, 4), torch.zeros(32, 1, 4, 4)
    x_hat, eps = L.interpolate(real, fake)
    assert eps.shape == (32, 1, 1, 1)
    assert eps.unique().numel() == 32
    assert torch.allclose(x_hat, eps.expand_as(x_hat))  # each image lies on its own line


def test_minimax_gradient_vanishes_where_d_rejects_the_fakes_non_saturating_does_not():
    logit = torch.tensor([-20.0], requires_grad=True)  # D(G(z)) = σ(−20) ≈ 2e-9
    (g_minimax,) = torch.autograd.grad(L.LOSSES["minimax"].g_loss(logit), logit)
    (g_ns,) = torch.autograd.grad(L.LOSSES["non_saturating"].g_loss(logit), logit)
    assert abs(g_minimax.item()) < 1e-8
    assert g_ns.item() == pytest.approx(-1.0, abs=1e-6)


@pytest.mark.parametrize("loss", L.LOSSES)
def test_losses_stay_finite_at_extreme_logits(loss):
    d = torch.tensor([-1e4, -30.0, 0.0, 30.0, 1e4])
    assert torch.isfinite(L.LOSSES[loss].g_loss(d))
    assert torch.isfinite(L.LOSSES[loss].d_loss(d, torch.ones(5)))
    assert torch.isfinite(L.LOSSES[loss].d_loss(d, torch.zeros(5)))


def test_bce_discriminator_loss_is_binary_cross_entropy_with_soft_targets():
    d, t = torch.randn(10), torch.rand(10)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(d, t)
    assert torch.allclose(L.LOSSES["non_saturating"].d_loss(d, t), expected, atol=1e-6)


# -- every variant with every loss ----------------------------------------------------------------
@pytest.mark.parametrize("loss", L.LOSSES)
@pytest.mark.parametrize("name", GANS)
def test_every_loss_gives_finite_losses_for_every_variant(name, loss):
    model = build(name, data_for(name), loss=loss, d_steps=1)
    metrics = model.train_step(*batch(model))
    assert {"loss", "d_loss", "g_loss", "d_real", "d_fake", "grad_d", "grad_g"} <= set(metrics)
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    if L.LOSSES[loss].sigmoid:
        assert 0.0 <= metrics["d_real"] <= 1.0 and 0.0 <= metrics["d_fake"] <= 1.0
    model.eval()
    assert all(math.isfinite(v) for v in model.eval_step(*batch(model)).values())


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_dcgan_works_for_28_and_32_pixel_images(shape):
    model = build("dcgan", DataSpec(shape=shape, num_classes=10), channels=(4, 8))
    model.train_step(*batch(model, n=4))
    model.eval()
    assert model.sample(3).shape == (3, *shape)


def test_dcgan_uses_the_papers_initialisation_and_leaky_relu():
    model = build("dcgan")
    conv = model.D.trunk[0]
    assert abs(conv.weight.std().item() - 0.02) < 0.01
    assert any(isinstance(m, torch.nn.LeakyReLU) and m.negative_slope == 0.2
               for m in model.D.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.G.modules())


def test_gan_on_points_samples_raw_coordinates():
    model = build("gan_mlp", DataSpec(shape=(2,), kind="points"))
    model.train_step(torch.randn(8, 2) * 3, None)
    s = model.sample(100, generator=torch.Generator().manual_seed(0))
    assert s.shape == (100, 2) and (s.abs() > 1).any()  # not squashed into [0, 1]
    with pytest.raises(ConfigError):
        build("dcgan", DataSpec(shape=(2,), kind="points"))


def test_wgan_clips_every_critic_weight():
    model = build("wgan", d_steps=2)
    model.train_step(*batch(model))
    assert all(p.abs().max() <= 0.01 for p in model.D.parameters())
    assert max(p.abs().max().item() for p in model.D.parameters()) == pytest.approx(0.01)
    assert isinstance(model.optimizers["D"], torch.optim.RMSprop)


def test_wgan_critic_has_no_sigmoid():
    model = build("wgan", init="default")
    model.eval()
    out = model.discriminate(torch.rand(4, *SMALL.shape) * 1e3)
    assert (out.abs() > 1).any()


# -- stabilisers ------------------------------------------------------------------------------------
STABILISERS = {
    "d_steps": dict(d_steps=3),
    "r1": dict(r1_gamma=5.0),
    "gradient penalty": dict(gp_weight=10.0),
    "weight clipping": dict(clip_value=0.01),
    "instance noise": dict(instance_noise=0.3, instance_noise_steps=100),
    "label smoothing": dict(label_smoothing=0.3),
    "label flip": dict(label_flip=0.4),
    "minibatch std": dict(minibatch_std=True),
    "replay": dict(replay_size=32, replay_fraction=0.5),
    "packing": dict(pack=2),
    "unrolled D": dict(unroll_steps=2),
    "unrolled D, first order": dict(unroll_steps=2, unroll_backprop=False),
    "minibatch discrimination": dict(mbd_kernels=6, mbd_dim=3),
    "augmentation": dict(augment="translation"),
    "augmentation with cutout": dict(augment="translation_cutout"),
}


@pytest.mark.parametrize("change", STABILISERS.values(), ids=list(STABILISERS))
def test_each_stabiliser_changes_training(change):
    off_metrics, off_g = run_steps(build(), steps=3)
    on_metrics, on_g = run_steps(build(**change), steps=3)
    assert not torch.equal(off_g, on_g), "the generator trained exactly as without it"
    assert all(math.isfinite(v) for v in on_metrics.values())


def test_replay_shows_d_old_fakes():
    buf = FakeReplay(4, (2,))
    x = torch.zeros(4, 2)
    assert torch.equal(buf.mix(x, None, 0.5)[0], x)  # nothing stored yet
    buf.push(torch.ones(6, 2), None)
    assert int(buf.count) == 4 and torch.equal(buf.images, torch.ones(4, 2))
    mixed, _ = buf.mix(x, None, 0.5)
    assert mixed[:2].eq(1).all() and mixed[2:].eq(0).all()
    model = build(replay_size=16)
    assert "replay.images" in model.state_dict()


def test_instance_noise_decays_linearly_to_zero():
    model = build(instance_noise=0.4, instance_noise_steps=10)
    assert model.noise_sigma() == pytest.approx(0.4)
    model.steps.fill_(5)
    assert model.noise_sigma() == pytest.approx(0.2)
    model.steps.fill_(50)
    assert model.noise_sigma() == 0.0


def test_label_smoothing_is_one_sided_and_flipping_swaps_targets():
    model = build(label_smoothing=0.1)
    t_real, t_fake = model.d_targets(4, 4, "cpu")
    assert torch.allclose(t_real, torch.full((4,), 0.9)) and t_fake.eq(0).all()
    model = build(label_flip=0.5)
    torch.manual_seed(0)
    t_real, t_fake = model.d_targets(1000, 1000, "cpu")
    assert 0.4 < t_real.eq(0).float().mean() < 0.6 and 0.4 < t_fake.eq(1).float().mean() < 0.6


def test_minibatch_std_lets_d_see_the_rest_of_the_batch():
    model = build(minibatch_std=True)
    model.eval()
    x = torch.rand(4, *SMALL.shape)
    spread = x.clone()
    spread[1:] = torch.rand(3, *SMALL.shape) * 5
    assert not torch.allclose(model.discriminate(x)[0], model.discriminate(spread)[0])


def test_minibatch_discrimination_math_on_a_tiny_batch():
    mbd = MinibatchDiscrimination(in_features=2, kernels=2, kernel_dim=1)
    with torch.no_grad():
        mbd.T.copy_(torch.eye(2))  # kernel b reads feature b
    h = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 2.0]])
    o = mbd(h)[:, 2:]
    assert torch.equal(mbd(h)[:, :2], h)  # the features pass through, closeness is appended
    e = math.exp
    expected = torch.tensor([[e(-1) + e(-3), 1 + e(-2)],
                             [e(-1) + e(-2), 1 + e(-2)],
                             [e(-3) + e(-2), 2 * e(-2)]])
    assert torch.allclose(o, expected)
    # Identical samples are maximally close: every kernel gives n − 1, the largest value.
    same = MinibatchDiscrimination(5, 4, 3)(torch.randn(1, 5).expand(6, 5))[:, 5:]
    assert torch.allclose(same, torch.full((6, 4), 5.0))
    varied = MinibatchDiscrimination(5, 4, 3)(torch.randn(6, 5) * 10)[:, 5:]
    assert (varied < 5.0).all()


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_minibatch_discrimination_lets_d_tell_a_collapsed_batch(arch):
    model = build(arch=arch, mbd_kernels=4, mbd_dim=2)
    assert model.D.head.in_features == model.D.feat_dim + 4
    model.eval()
    x = torch.rand(4, *SMALL.shape)
    collapsed = x[:1].expand(4, *SMALL.shape)
    mixed = torch.cat([x[:1], torch.rand(3, *SMALL.shape)])
    # The same first sample is judged differently depending on the rest of its batch.
    assert not torch.allclose(model.discriminate(collapsed)[0], model.discriminate(mixed)[0])


@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
def test_fully_connected_layers_in_conv_players(norm):
    model = build(arch="conv", g_fc=16, d_fc=8, d_norm=norm, info_categories=3)
    assert model.D.feat_dim == 8 and model.Q.in_features == 8  # Q reads D's fc features
    assert any(isinstance(m, torch.nn.Linear) and m.out_features == 16 for m in model.G.modules())
    metrics = model.train_step(*batch(model))
    assert all(math.isfinite(v) for v in metrics.values())
    assert model.sample(5).shape == (5, *SMALL.shape)


@pytest.mark.parametrize("policy", ["translation", "translation_cutout"])
def test_augmentation_shifts_each_image_with_zero_fill(policy):
    torch.manual_seed(0)
    x = torch.rand(16, 2, 16, 16, requires_grad=True)
    out = augment(x, policy)
    assert out.shape == x.shape
    shifts = {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
    for k in range(16):
        def shifted(dy, dx):
            z = torch.zeros_like(x[k])
            z[:, max(dy, 0):16 + min(dy, 0), max(dx, 0):16 + min(dx, 0)] = \
                x[k, :, max(-dy, 0):16 + min(-dy, 0), max(-dx, 0):16 + min(-dx, 0)]
            return z
        ref = [shifted(dy, dx) for dy, dx in shifts]
        if policy == "translation":
            assert any(torch.equal(out[k], r) for r in ref)
        else:  # the shift, then a blanked 8×8 square: agrees with one shift wherever not zeroed
            kept = out[k] != 0
            assert (~kept).sum() >= 2 * 8 * 8
            assert any(torch.equal(out[k][kept], r[kept]) for r in ref)
    out.sum().backward()  # differentiable: G trains through it
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(augment(x, "none"), x)
    points = torch.rand(5, 2)
    assert torch.equal(augment(points, policy), points)  # 2-D points pass through


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_packing_widens_d_input_and_judges_m_samples_at_once(arch):
    plain, packed = build(arch=arch), build(arch=arch, pack=4)
    first = lambda m: next(l for l in m.D.modules()  # noqa: E731
                           if isinstance(l, (torch.nn.Linear, torch.nn.Conv2d)))
    if arch == "mlp":
        assert first(packed).in_features == 4 * first(plain).in_features == 4 * 64
    else:
        assert first(packed).in_channels == 4 * first(plain).in_channels == 4
    packed.eval()
    assert packed.discriminate(torch.rand(8, *SMALL.shape)).shape == (2,)
    assert packed.discriminate(torch.rand(3, *SMALL.shape)).shape == (1,)  # repeated to a pack
    assert math.isfinite(packed.train_step(*batch(packed, n=10))["d_loss"])  # 10 → 2 packs
    assert math.isfinite(packed.train_step(*batch(packed, n=3))["d_loss"])


def test_ema_generator_differs_from_live_weights_samples_from_it_and_round_trips():
    model = build(ema_decay=0.9)
    run_steps(model, steps=3)
    live = torch.cat([p.flatten() for p in model.G.parameters()])
    ema = torch.cat([p.flatten() for p in model.g_ema.parameters()])
    assert not torch.allclose(live, ema)
    assert not any(p.requires_grad for p in model.g_ema.parameters())
    model.eval()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    codes = model.draw_codes(5, g())[0]
    s = model.sample(5, generator=g())
    assert torch.equal(s, model.generate(codes, net=model.g_ema))
    assert not torch.equal(s, model.generate(codes))
    fresh = build(ema_decay=0.9, seed=9)
    assert any(k.startswith("g_ema.") for k in model.state_dict())
    fresh.load_state_dict(model.state_dict())
    fresh.eval()
    assert torch.equal(fresh.sample(5, generator=g()), s)


def test_ema_decay_ramps_up_to_its_setting():
    model = build(ema_decay=0.999)
    assert model.ema_decay_now() == pytest.approx(0.1)
    model.steps.fill_(90)
    assert model.ema_decay_now() == pytest.approx(91 / 100)
    model.steps.fill_(100_000)
    assert model.ema_decay_now() == pytest.approx(0.999)
    # The first update moves the average 90 % of the way to G's weights.
    model = build(ema_decay=0.999)
    before = [p.clone() for p in model.g_ema.parameters()]
    model.train_step(*batch(model))
    for b, e, g in zip(before, model.g_ema.parameters(), model.G.parameters()):
        assert torch.allclose(e, 0.1 * b + 0.9 * g, atol=1e-6)


def test_ema_off_samples_from_the_live_generator():
    model = build(ema_decay=0.0)  # gan_mlp's default samples from its EMA
    model.eval()
    assert model.g_ema is None
    codes = model.draw_codes(3, torch.Generator().manual_seed(0))[0]
    assert torch.equal(model.sample(3, generator=torch.Generator().manual_seed(0)),
                       model.generate(codes))


# -- conditional and InfoGAN ----------------------------------------------------------------------
def test_cgan_output_depends_on_the_label_and_is_deterministic_per_label():
    model = build("cgan")
    model.eval()
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    a = model.sample(4, labels=zeros, generator=g())
    assert torch.equal(a, model.sample(4, labels=zeros, generator=g()))
    assert not torch.allclose(a, model.sample(4, labels=ones, generator=g()))


def test_a_tiny_trained_cgan_draws_the_requested_label():
    """Two classes of points, left and right: G must learn to put each label on its side."""
    data = DataSpec(shape=(2,), num_classes=2, kind="points")
    model = build("cgan", data, hidden=(32,), lr_g=2e-3, lr_d=2e-3)
    torch.manual_seed(0)
    for _ in range(300):
        y = torch.randint(2, (64,))
        x = torch.stack([(y.float() * 2 - 1) * 2, torch.zeros(64)], 1) + 0.1 * torch.randn(64, 2)
        model.train_step(x, y)
    model.eval()
    g = torch.Generator().manual_seed(0)
    left = model.sample(200, labels=torch.zeros(200, dtype=torch.long), generator=g)
    right = model.sample(200, labels=torch.ones(200, dtype=torch.long), generator=g)
    assert (left[:, 0] < 0).float().mean() > 0.9 and (right[:, 0] > 0).float().mean() > 0.9


def test_infogan_trains_its_q_head_with_the_generator():
    model = build("infogan")
    assert model.Q.out_features == 12
    q_ids = {id(p) for p in model.Q.parameters()}
    assert q_ids <= {id(p) for group in model.optimizers["G"].param_groups for p in group["params"]}
    before = model.Q.weight.clone()
    metrics = model.train_step(*batch(model))
    assert "info" in metrics and math.isfinite(metrics["info"])
    assert not torch.equal(before, model.Q.weight)
    with pytest.raises(ConfigError):
        build("infogan", pack=2)


def test_infogan_categorical_code_changes_the_sample():
    model = build("infogan")
    model.eval()
    codes = model.draw_codes(2, torch.Generator().manual_seed(0))[0]
    swapped = codes.clone()
    swapped[:, 4:14] = swapped[:, 4:14].roll(1, dims=1)  # same z, another category
    assert not torch.allclose(model.generate(codes), model.generate(swapped))


# -- unrolled GAN, second order ----------------------------------------------------------------------
def _unrolled_g_loss(model, x, net=None):
    """G's loss against D looked ahead, and that D (the same draws on every call; `net`
    replaces the look-ahead, after the same draws)."""
    torch.manual_seed(5)
    ahead = unrolled.looked_ahead_d(model, x, None)
    fake = model.generate(model.draw_codes(x.shape[0])[0])
    out = model.discriminate(fake, net=ahead if net is None else net)
    return model.objective.g_loss(out), ahead


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_unrolled_gradient_flows_through_the_look_ahead(optimizer):
    # Metz et al.'s G gradient differentiates through D's K optimiser updates. In float64:
    # the look-ahead's weights are those of K real steps of D's optimiser, its gradient agrees
    # with central differences of the unrolled loss, and it is not the first-order gradient.
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = build("toy_gan", data=POINTS, hidden=(8, 8), latent_dim=2, unroll_steps=3,
                      optimizer=optimizer, lr_d=0.05)
        x = torch.randn(16, 2) * 2
        for _ in range(2):  # the optimiser's moments are where the look-ahead starts
            model.d_step(x, None)
        before = copy.deepcopy(model.D.state_dict())
        w = next(model.G.parameters())
        loss, ahead = _unrolled_g_loss(model, x)
        (grad,) = torch.autograd.grad(loss, w)
        assert all(torch.equal(v, model.D.state_dict()[k]) for k, v in before.items())

        h = 1e-6
        for idx in [(0, 0), (3, 1), (5, 0)]:
            with torch.no_grad():
                w[idx] += h
            up = _unrolled_g_loss(model, x)[0].item()
            with torch.no_grad():
                w[idx] -= 2 * h
            down = _unrolled_g_loss(model, x)[0].item()
            with torch.no_grad():
                w[idx] += h
            assert grad[idx].item() == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-9)

        stepped = copy.deepcopy(model)  # K real steps, with the same draws as the look-ahead
        torch.manual_seed(5)
        with unrolled.d_stepped_ahead(stepped, x, None):
            for a, b in zip(ahead.weights, stepped.D.parameters()):
                assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
        fixed = unrolled.LookedAheadD(model.D, [t.detach() for t in ahead.weights], {})
        (first_order,) = torch.autograd.grad(_unrolled_g_loss(model, x, net=fixed)[0], w)
        assert not torch.allclose(first_order, grad, rtol=1e-3)
    finally:
        torch.set_default_dtype(default)


def test_first_and_second_order_unrolling_leave_d_as_it_was():
    for backprop in (True, False):
        model = build("toy_gan", data=POINTS, hidden=(8, 8), latent_dim=2, unroll_steps=2,
                      unroll_backprop=backprop)
        x = torch.randn(16, 2)
        model.d_step(x, None)
        d_before = copy.deepcopy(model.D.state_dict())
        opt_before = str(model.optimizers["D"].state_dict())
        model.g_update(x, None)
        assert all(torch.equal(v, model.D.state_dict()[k]) for k, v in d_before.items())
        assert str(model.optimizers["D"].state_dict()) == opt_before
