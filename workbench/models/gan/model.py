"""Generative adversarial networks: G maps noise z to data, D tells data from G's samples.

`GAN.train_step` is Algorithm 1 of Goodfellow et al. (2014): `d_steps` updates of D (the same
real batch, fresh fakes each time), then one update of G. The objective (minimax,
non-saturating, least squares, hinge, Wasserstein: losses.py) and every stabiliser are fields of
`GANConfig` (config.py), so each can be switched on any variant. Two other engines run the same
steps where they apply: by_hand.py (the backward pass written out, for plain MLP players) and
unrolled.py (G against D looked ahead, Metz et al. 2017). The registered variants at the end are
the course's named GANs with their papers' settings.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from workbench.core.errors import ConfigError
from workbench.models.base import GenerativeModel, floats
from workbench.models.gan import by_hand, unrolled
from workbench.models.gan import losses as L
from workbench.models.gan import nets as N
from workbench.models.gan.config import GANConfig
from workbench.models.gan.losses import LOSSES, GANLoss
from workbench.models.registry import register_model


class GAN(GenerativeModel):
    family = "gan"
    # Players that are plain chains of Linear and leaky ReLU layers train through the
    # written-out backward pass of by_hand.py (same updates, a third of the time on the 2-D
    # GANs); False makes every step use autograd (the tests compare the two).
    hand_backprop = True
    plot_groups = (("Losses", ("d_loss", "g_loss")), ("D outputs", ("d_real", "d_fake")),
                   ("Gradient norms", ("grad_d", "grad_g")))

    def __init__(self, config: GANConfig, data):
        super().__init__(config, data)
        c = config
        if c.arch == "conv" and data.kind != "image":
            raise ConfigError("arch=conv needs image data; use arch=mlp for 2-D points")
        if self.conditional and not data.num_classes:
            raise ConfigError("a conditional GAN needs a labelled dataset")
        g_in = c.latent_dim + c.code_dim + self.num_classes
        self.G = self.make_generator(g_in)
        self.D = N.build_discriminator(c.arch, data.shape, self.num_classes, c.pack, c.hidden,
                                       c.channels, c.d_norm, c.minibatch_std,
                                       c.mbd_kernels, c.mbd_dim, c.d_fc)
        if c.init == "dcgan":
            N.dcgan_init(self.G)
            N.dcgan_init(self.D)
        # InfoGAN's Q shares D's trunk; it learns with G (it is in G's optimiser).
        self.Q = nn.Linear(self.D.feat_dim, c.code_dim) if c.code_dim else None
        self.g_ema = copy.deepcopy(self.G).requires_grad_(False) if c.ema_decay > 0 else None
        self.replay = N.FakeReplay(c.replay_size, data.shape) if c.replay_size else None
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # for the noise decay
        self._chains_of: tuple = ()  # the (G, D) modules _chains was last read from
        self._chains: tuple[by_hand.LinearChain, by_hand.LinearChain] | None = None

    def make_generator(self, g_in: int) -> nn.Module:
        """G from its input size; a family variant (the 2-D toy GAN) may build another."""
        c = self.config
        return N.build_generator(c.arch, g_in, self.data.shape, c.hidden[::-1], c.channels,
                                 c.g_fc)

    @property
    def objective(self) -> GANLoss:
        """The config's loss pair (read per call: the GAN lab may switch it live)."""
        return LOSSES[self.config.loss]

    # -- optimisers ---------------------------------------------------------------------------
    def configure_optimizers(self):
        g_params = list(self.G.parameters())
        if self.Q is not None:  # InfoGAN's Q learns with G
            g_params += list(self.Q.parameters())
        return {"G": self.optimizer_for(g_params, self.config.lr_g),
                "D": self.optimizer_for(self.D.parameters(), self.config.lr_d)}

    def optimizer_for(self, params, lr: float) -> torch.optim.Optimizer:
        """The config's optimiser over `params` (also for a D rebuilt live in the GAN lab)."""
        if self.config.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr)
        params = list(params)
        betas = (self.config.beta1, self.config.beta2)
        # Fused Adam: one kernel for all the parameters instead of ~10 small ops per tensor,
        # which is most of the optimiser's time on small players (the 2-D toy GAN: 2.5x
        # faster). The same update rule; where there is no fused Adam for the device or torch
        # version, the default one.
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
        except (RuntimeError, ValueError, TypeError):
            return torch.optim.Adam(params, lr=lr, betas=betas)

    # -- the players ----------------------------------------------------------------------------
    def draw_codes(self, n: int, generator=None):
        """G's input: z ~ N(0, I), then InfoGAN's one-hot category and U(−1, 1) codes."""
        c = self.config
        z = self.prior_noise(n, c.latent_dim, generator)
        if not c.code_dim:
            return z, None, None
        cat = torch.randint(max(c.info_categories, 1), (n,), generator=generator).to(z.device)
        cont = (torch.rand(n, c.info_continuous, generator=generator) * 2 - 1).to(z.device)
        onehot = F.one_hot(cat, c.info_categories).to(z.dtype) if c.info_categories else z[:, :0]
        return torch.cat([z, onehot, cont], dim=1), cat, cont

    def generate(self, g_input, y=None, net=None):
        if self.conditional:
            g_input = torch.cat([g_input, F.one_hot(y, self.num_classes).to(g_input.dtype)], 1)
        return self.to_data_space((self.G if net is None else net)(g_input))

    def discriminate(self, x, y=None, with_features: bool = False, net=None):
        """D's raw outputs (logits or critic values), one per packed group of samples; `net`
        stands in for D (the unrolled look-ahead's D with other weights)."""
        if self.config.arch == "mlp":
            x = x.flatten(1)
        if self.conditional:
            x = N.label_features(x, y, self.num_classes)
        return (self.D if net is None else net)(N.pack(x, self.config.pack), with_features)

    @property
    def device(self) -> torch.device:
        return self.steps.device  # moves with the model; no walk over the modules per call

    def observe_real(self, x) -> None:
        """Called with the real batch before each D step (the 2-D GAN measures its scale)."""

    @torch.no_grad()
    def sample(self, n: int, labels=None, generator: torch.Generator | None = None):
        g_input, _, _ = self.draw_codes(n, generator)
        if self.conditional and labels is None:
            labels = torch.randint(self.num_classes, (n,), generator=generator)
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.long).to(self.device)
        return self.generate(g_input, labels, net=self.g_ema)

    @property
    def decode_dim(self) -> int:
        """Size of G's whole input: z, then InfoGAN's categorical and continuous codes."""
        return self.config.latent_dim + self.config.code_dim

    @torch.no_grad()
    def decode(self, z, y=None):
        """G as a decoder of a chosen input (latent sliders, traversals, interpolation); uses the
        EMA generator when there is one, like `sample`."""
        if y is not None:
            y = torch.as_tensor(y, dtype=torch.long).to(self.device)
        return self.generate(z.to(self.device), y, net=self.g_ema)

    # -- stabilisers ------------------------------------------------------------------------------
    def noise_sigma(self) -> float:
        c = self.config
        if c.instance_noise_steps == 0:
            return c.instance_noise
        return c.instance_noise * max(0.0, 1.0 - int(self.steps) / c.instance_noise_steps)

    def augmented(self, x):
        return N.augment(x, self.config.augment)

    def with_instance_noise(self, x):
        sigma = self.noise_sigma()
        return x + sigma * torch.randn_like(x) if sigma > 0 else x

    def d_targets(self, n_real: int, n_fake: int, device):
        """1 − smoothing for reals (one-sided), 0 for fakes; each flipped with label_flip."""
        c = self.config
        t = torch.cat([torch.full((n_real,), 1.0 - c.label_smoothing, device=device),
                       torch.zeros(n_fake, device=device)])
        if c.label_flip > 0:
            flip = torch.rand(t.shape, device=device) < c.label_flip
            t = torch.where(flip, 1.0 - t, t)
        return t[:n_real], t[n_real:]

    def d_loss(self, d_real, d_fake):
        """D's loss without penalties on its outputs for reals and fakes, with the targets it
        used (d_step, its by-hand twin and the unrolled look-ahead share it)."""
        c = self.config
        if c.label_smoothing or c.label_flip:
            t_real, t_fake = self.d_targets(d_real.shape[0], d_fake.shape[0], d_real.device)
        else:  # plain targets as numbers: the same loss without the per-sample target tensors
            t_real, t_fake = 1.0, 0.0
        loss = self.objective.d_loss(d_real, t_real) + self.objective.d_loss(d_fake, t_fake)
        return loss, t_real, t_fake

    def ema_decay_now(self) -> float:
        """The EMA's decay at this step: (1 + t) / (10 + t), capped at ema_decay. A fixed 0.999
        would still hold a third of the random initial weights after 1000 steps, so a short
        run sampled garbage; the ramp lets the average follow G early and settle later."""
        t = int(self.steps)
        return min(self.config.ema_decay, (1.0 + t) / (10.0 + t))

    @torch.no_grad()
    def update_ema(self):
        d = self.ema_decay_now()
        torch._foreach_lerp_(list(self.g_ema.parameters()), list(self.G.parameters()), 1.0 - d)
        # Batch-norm running statistics are averaged like the weights. Copying G's made the
        # averaged weights normalise with statistics of the live weights (dcgan with lr 6e-4,
        # 300 s on 2 cores, scored like bench/zoo.py: 8.35 / FD 18 copied, 8.57 / FD 4.7
        # averaged; statistics recomputed for the EMA weights gave 8.54 / FD 4.7).
        for b_ema, b in zip(self.g_ema.buffers(), self.G.buffers()):
            if b_ema.is_floating_point():
                b_ema.lerp_(b, 1.0 - d)
            else:  # num_batches_tracked
                b_ema.copy_(b)

    # -- training: Algorithm 1 ------------------------------------------------------------------
    def train_step(self, x, y=None):
        """k = d_steps updates of D on this real batch, then one update of G."""
        c = self.config
        x, y = self.whole_packs(x, y)
        chains = self.linear_chains()  # plain MLP players: the same steps, written out
        for _ in range(c.d_steps):
            d = self.d_step(x, y) if chains is None else by_hand.d_step(self, x, y, *chains)
        g = self.g_update(x, y) if chains is None else by_hand.g_step(self, x.shape[0], *chains)
        if self.g_ema is not None:
            self.update_ema()
        self.steps += 1
        extra = {"penalty": d["penalty"]} if c.gp_weight or c.r1_gamma else {}
        if "info" in g:
            extra["info"] = g["info"]
        # `loss` is the registry's headline number: it turns NaN when either player's does.
        return floats(loss=d["d_loss"] + g["g_loss"], d_loss=d["d_loss"], g_loss=g["g_loss"],
                      d_real=d["d_real"], d_fake=d["d_fake"], grad_d=d["grad_d"],
                      grad_g=g["grad_g"], **extra)

    def d_step(self, x, y, remember: bool = True):
        """One update of D: its loss on the reals x and on fresh fakes G(z), plus the penalties.
        `remember` False keeps those fakes out of the replay buffer (the first-order unrolling's
        look-ahead steps)."""
        c = self.config
        self.observe_real(x)
        with torch.no_grad():  # D's step needs no graph through G
            fresh = self.generate(self.draw_codes(x.shape[0])[0], y)
        fake, fake_y = fresh, y
        if self.replay is not None:
            fake, fake_y = self.replay.mix(fresh, y, c.replay_fraction)
            if remember:
                self.replay.push(fresh, y)
        x_real = self.with_instance_noise(self.augmented(x))
        x_fake = self.with_instance_noise(self.augmented(fake))
        # R1 is taken at the clean reals: when D's loss sees them unchanged, its forward
        # pass serves the penalty too (one D pass fewer).
        r1_shared = c.r1_gamma > 0 and x_real is x
        if r1_shared:
            x_real = x.detach().requires_grad_(True)
        d_real, d_fake = self._judge_both(x_real, y, x_fake, fake_y)
        loss, _, _ = self.d_loss(d_real, d_fake)
        penalties = []
        critic = lambda v: self.discriminate(v, y)  # noqa: E731  (labels fixed for penalties)
        if c.gp_weight > 0:
            penalties.append(L.gradient_penalty(critic, x, fresh, c.gp_weight))
        if c.r1_gamma > 0:
            penalties.append(L.r1_of(d_real, x_real, c.r1_gamma) if r1_shared
                             else L.r1_penalty(critic, x, c.r1_gamma))
        penalty = sum(penalties[1:], penalties[0]) if penalties \
            else torch.zeros((), device=x.device)
        total = loss + penalty if penalties else loss
        opt = self.optimizers["D"]
        grad = L.grad_norm(_fresh_grads(total, opt))  # D's optimiser steps exactly D's weights
        opt.step()
        if c.clip_value > 0:
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-c.clip_value, c.clip_value)
        # d_loss includes the penalties: it is what D minimised.
        return dict(d_loss=total, d_real=self.objective.mean_output(d_real.detach()),
                    d_fake=self.objective.mean_output(d_fake.detach()), grad_d=grad,
                    penalty=penalty.detach())

    def g_update(self, x, y):
        """G's step of a train step: against D itself, or against D unrolled."""
        c = self.config
        if not c.unroll_steps:
            return self.g_step(x.shape[0], y)
        if c.unroll_backprop:  # second order: G's gradient flows through D's look-ahead
            return self.g_step(x.shape[0], y, d_net=unrolled.looked_ahead_d(self, x, y))
        with unrolled.d_stepped_ahead(self, x, y):  # first order: D is put back afterwards
            return self.g_step(x.shape[0], y)

    def g_step(self, n, y, d_net=None):
        """Descend G's loss on D's outputs (or `d_net`'s) for n fresh fakes, plus InfoGAN's
        information term."""
        c = self.config
        g_input, cat, cont = self.draw_codes(n)
        fake = self.generate(g_input, y)
        d_fake, h = self.discriminate(self.with_instance_noise(self.augmented(fake)), y,
                                      with_features=True, net=d_net)
        loss = self.objective.g_loss(d_fake)
        info = self.information_loss(h, cat, cont) if self.Q is not None else None
        total = loss + c.info_weight * info if info is not None else loss
        opt = self.optimizers["G"]
        # Gradients of G's parameters only: D's weight gradients (unused, and cleared by D's
        # next step) are not computed at all.
        params = _fresh_grads(total, opt)
        grad = L.grad_norm(params if self.Q is None else self.G.parameters())
        opt.step()
        out = dict(g_loss=loss, grad_g=grad)
        if info is not None:
            out["info"] = info
        return out

    def information_loss(self, h, cat, cont):
        """−(lower bound of the mutual information) up to constants: Q's cross-entropy on the
        category and a unit-variance Gaussian's error on the continuous codes."""
        c = self.config
        q = self.Q(h)
        loss = torch.zeros((), device=h.device)
        if c.info_categories:
            loss = loss + F.cross_entropy(q[:, :c.info_categories], cat)
        if c.info_continuous:
            loss = loss + 0.5 * (q[:, c.info_categories:] - cont).pow(2).sum(1).mean()
        return loss

    @property
    def d_per_sample(self) -> bool:
        """Whether D judges each sample (or pack) on its own: no layer that looks across the
        batch (minibatch std-dev, minibatch discrimination, batch norm)."""
        c = self.config
        return not (c.minibatch_std or c.mbd_kernels
                    or (c.arch == "conv" and c.d_norm == "batch"))

    def _judge_both(self, x_real, y_real, x_fake, y_fake):
        """D's outputs on reals and on fakes. A D that judges samples one by one sees both in
        one batch (half the operations of two passes; the same outputs); a D with batch-wide
        layers sees them apart, so reals never share batch statistics with fakes."""
        pack = self.config.pack
        n_real, n_fake = x_real.shape[0], x_fake.shape[0]
        if (self.d_per_sample and n_real % pack == 0 and n_fake % pack == 0
                and (y_real is None) == (y_fake is None)):
            y = None if y_real is None else torch.cat([y_real, y_fake])
            out = self.discriminate(torch.cat([x_real, x_fake]), y)
            return out[:n_real // pack], out[n_real // pack:]
        return self.discriminate(x_real, y_real), self.discriminate(x_fake, y_fake)

    def whole_packs(self, x, y):
        """Drop the batch's last few samples when they do not fill a pack, so that penalties
        see exactly the samples D judged."""
        n = x.shape[0] // self.config.pack * self.config.pack
        if n == 0:  # a batch smaller than one pack: pack() repeats it
            return x, y
        return x[:n], (y[:n] if y is not None else None)

    @torch.no_grad()
    def eval_step(self, x, y=None, full: bool = False):
        """D's outputs on the real batch and on as many fresh fakes (no costly extras)."""
        obj = self.objective
        d_real = self.discriminate(x, y)
        d_fake = self.discriminate(self.generate(self.draw_codes(x.shape[0])[0], y), y)
        ones, zeros = torch.ones_like(d_real), torch.zeros_like(d_fake)
        return floats(d_loss=obj.d_loss(d_real, ones) + obj.d_loss(d_fake, zeros),
                      g_loss=obj.g_loss(d_fake), d_real=obj.mean_output(d_real),
                      d_fake=obj.mean_output(d_fake))

    # -- where the by-hand steps apply (by_hand.py) -----------------------------------------------
    def linear_chains(self) -> tuple[by_hand.LinearChain, by_hand.LinearChain] | None:
        """G and D as linear chains when this config's steps can run by hand, else None."""
        if not (self.hand_backprop and by_hand.applies_to(self)):
            return None
        if self._chains_of != (self.G, self.D):  # read once per pair of networks
            self._chains = by_hand.chains_of(self.G, self.D)
            self._chains_of = (self.G, self.D)
        return self._chains

    def d_input_factor(self):
        """What D's input is multiplied by (None: nothing); see ToyGAN."""
        return None


def _fresh_grads(loss: torch.Tensor, opt: torch.optim.Optimizer) -> list[torch.Tensor]:
    """Fresh gradients of `loss` for the parameters `opt` steps, and only for them (as
    zero_grad(set_to_none=True) then backward, minus the work for any other parameter the
    loss reaches); returns those parameters. Read from the optimiser, not the modules: the
    lists are short and walking the modules costs more than the toy GAN's maths."""
    params = [p for g in opt.param_groups for p in g["params"] if p.requires_grad]
    for p in params:
        p.grad = None
    loss.backward(inputs=params)
    return params


class ConditionalGAN(GAN):
    """Mirza & Osindero: G and D both see the one-hot label."""

    conditional = True


# -- registered variants ---------------------------------------------------------------------------
@register_model(GAN)
def gan_mlp() -> GANConfig:
    """The original GAN (Goodfellow et al. 2014): fully connected players, non-saturating loss."""
    # Tuned for 2 minutes on 2 CPU cores (bench/gan_sweep.py --one, README). Minibatch std-dev:
    # without it G dropped two digits (4.71 / FD 310, 8 of 10 classes); with it all ten (5.54 /
    # FD 141). Then a 5x learning rate, ~6000 steps being all there is, and sampling from G's EMA:
    # 2e-4 5.36 / FD 160, 5e-4 7.06 / 36, 1e-3 7.99 / 6.4 (seeds 1, 2: 7.82 / 13.2, 7.88 / 9.5),
    # 2e-3 7.96 / 8.3; the EMA adds ~0.2 to the score and halves FD.
    return GANConfig(arch="mlp", minibatch_std=True, lr_g=1e-3, lr_d=1e-3, ema_decay=0.999)


@register_model(GAN, batch_size=64)
def dcgan() -> GANConfig:
    """DCGAN (Radford et al. 2016): strided convolutions, batch norm, LeakyReLU, N(0, 0.02) init."""
    # Tuned for 5 minutes on 2 CPU cores (bench/zoo.py, README): narrow (16, 32) convolutions
    # (wide ones cost the time; (16, 32) makes twice the steps of (32, 64): over seeds 0, 1, 2
    # 8.45 / 8.57 / 8.54 against 8.55 / 8.37 / 8.44) with InfoGAN's 1024-wide fully connected
    # layer in both players (D's matters most: it judges the whole digit), a learning rate of
    # 8e-4 for both (4x DCGAN's 2e-4: a few thousand steps are all there is), batch 64, G's EMA
    # (ramped, batch-norm statistics averaged too) for sampling and one-sided label smoothing.
    return GANConfig(arch="conv", channels=(16, 32), g_fc=1024, d_fc=1024, d_norm="batch",
                     lr_g=8e-4, lr_d=8e-4, init="dcgan", ema_decay=0.999,
                     label_smoothing=0.1)


@register_model(ConditionalGAN)
def cgan() -> GANConfig:
    """Conditional GAN (Mirza & Osindero 2014): G and D see the label; sample any digit."""
    return GANConfig(arch="mlp")


# The conv GANs below use dcgan's narrow (32, 64) convolutions and batch 64: with (64, 128) at
# batch 128 and five critic steps per G step, 2 CPU cores made 110-175 G steps in 2 minutes.
@register_model(GAN, batch_size=64)
def wgan() -> GANConfig:
    """WGAN (Arjovsky et al. 2017): critic without sigmoid, weight clipping 0.01, RMSprop, n_critic 5."""
    # The paper's clipping, RMSprop and 5 critic steps; sized for 2 CPU cores like dcgan with
    # 1024-wide fc layers and a higher learning rate. 120 s (bench/gan_sweep.py --one, seed 0):
    # the paper's 5e-5 without fc 1.98 / FD 1006 (9 digits); with fc, lr 2e-4 4.69 / FD 252,
    # 5e-4 6.52 / FD 54.5, 1e-3 6.64 / FD 41.6 (all ten). 5e-4: nearly as good, less aggressive.
    return GANConfig(arch="conv", channels=(32, 64), g_fc=1024, d_fc=1024, loss="wasserstein",
                     optimizer="rmsprop", lr_g=5e-4, lr_d=5e-4, d_steps=5, clip_value=0.01,
                     init="dcgan")


@register_model(GAN, batch_size=64)
def wgan_gp() -> GANConfig:
    """WGAN-GP (Gulrajani et al. 2017): gradient penalty λ = 10 at per-sample interpolates."""
    # The paper's optimiser (Adam β = (0, 0.9)) and penalty. Sized for 2 minutes on 2 CPU
    # cores like dcgan: 1024-wide fc layers, lr 8e-4, one critic step per G step (the penalty's
    # double backward makes a critic step dear). 120 s, bench/gan_sweep.py --one: the paper's 5
    # critic steps at 1e-4 without fc layers 3.19 / FD 548; fc, 4e-4, 5 steps 5.26 / 147 (210 G
    # steps); 2 steps 6.06 / 57.5 (480); 1 step 6.32 / 44.2 (700); 1 step at 8e-4 6.62 / 38.2
    # (seed 1: 6.79 / 37.0); 2 steps at 8e-4 6.16 / 52.8.
    return GANConfig(arch="conv", channels=(32, 64), g_fc=1024, d_fc=1024, loss="wasserstein",
                     d_norm="layer", lr_g=8e-4, lr_d=8e-4, beta1=0.0, beta2=0.9, d_steps=1,
                     gp_weight=10.0)


@register_model(GAN, batch_size=64)
def infogan() -> GANConfig:
    """InfoGAN (Chen et al. 2016): a 10-way categorical and 2 continuous codes, Q head, MI loss."""
    # The paper's MNIST players have a fully connected layer in G and in D, where Q reads D's
    # features; 256 wide here rather than 1024, which costs 2 CPU cores too much time. The
    # paper's learning rates (G 1e-3, D 2e-4) with dcgan's label smoothing and EMA: with 2e-4
    # for both, D won and G drew one or two digits in 2 minutes (1.01 / FD 1370; the same
    # with smoothing and EMA); with these, 8.48 / FD 18 and all ten (120 s on 2 cores).
    return GANConfig(arch="conv", channels=(32, 64), g_fc=256, d_fc=256, latent_dim=62,
                     info_categories=10, info_continuous=2, init="dcgan", d_norm="batch",
                     lr_g=1e-3, lr_d=2e-4, label_smoothing=0.1, ema_decay=0.999)
