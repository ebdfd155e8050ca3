"""GANs for 2-D toy data (ring8, grid25, spiral, ...): where mode collapse can be seen and counted.

`ToyGAN` is the zoo's GAN with a generator made for points: a plain MLP (no batch norm, whose
batch statistics would couple the samples of a batch and update in D's steps too) ending in a
linear layer that outputs raw coordinates. Every loss and stabiliser of `GANConfig` applies.

- `toy_gan`: plain GAN training (non-saturating loss, Adam, nothing else); it collapses on grid25.
- `toy_gan_stable`: the recipe that keeps every mode (see its docstring and the README).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from workbench.core.config import param
from workbench.core.errors import ConfigError
from workbench.models.gan.config import GANConfig
from workbench.models.gan.model import GAN
from workbench.models.gan.nets import LeakyReLU02
from workbench.models.registry import register_model


@dataclass(frozen=True)
class ToyGANConfig(GANConfig):
    g_hidden: tuple[int, ...] = param(
        (), min=1, max=8192, label="G hidden sizes", rebuild="all",
        help="Widths of the generator's hidden layers; empty = mirror D's hidden sizes.")
    lr_decay_start: int = param(
        0, min=0, max=10_000_000, label="lr decay start",
        help="From this step on both learning rates fall linearly, reaching lr × lr_decay_final "
             "at lr_decay_end, so samples settle inside their modes (0 = constant rate).")
    lr_decay_end: int = param(0, min=0, max=10_000_000, label="lr decay end",
                              help="Step at which the learning-rate decay reaches its floor.")
    lr_decay_final: float = param(0.1, min=0.0, max=1.0, label="lr decay floor",
                                  help="Learning rate at the end of the decay, as a fraction.")
    components: int = param(
        0, min=0, max=1024, label="prior components K", rebuild="all",
        help="G draws a component c uniformly from K besides z and adds a learned embedding and "
             "a learned offset of c: a mixture prior, so separate modes need no tearing of a "
             "connected z space (0 = plain z ~ N(0, I)).")
    component_dim: int = param(8, min=1, max=256, label="component embedding size",
                               rebuild="all",
                               help="Size of each component's learned embedding fed to G.")
    component_offsets: bool = param(True, label="component offsets", rebuild="all",
                                    help="Each component also moves G's output by a learned "
                                         "offset (a particle that D pushes onto a mode).")
    d_input_scale: float = param(
        1.0, min=0.0, max=1000.0, label="D input scale",
        help="D judges x × this (gradients and penalties stay in data units). PyTorch's "
             "initialisation puts the kinks of D's first layer within about ±1 of the origin, "
             "so data spanning ±4 (grid25) is best seen at 0.25: D then resolves the outer "
             "modes as finely as the central ones. 0 = auto: the power of two nearest "
             "1 / max |x| of the first real batch (grid25 0.25, ring8 1); 1 = raw coordinates.")

    def check(self):
        super().check()
        if self.arch != "mlp":
            raise ConfigError("the 2-D toy GAN is an MLP: set arch=mlp")
        if self.lr_decay_start and self.lr_decay_end <= self.lr_decay_start:
            raise ConfigError("lr_decay_end must come after lr_decay_start")


OFFSET_SCALE = 10.0


class MixtureGenerator(nn.Module):
    """G(z, c) = mlp([z, E c]) + B c for a one-hot component c (the last K input columns)."""

    def __init__(self, z_dim: int, k: int, emb_dim: int, body: nn.Module, out_dim: int,
                 offsets: bool):
        super().__init__()
        self.z_dim = z_dim
        self.embed = nn.Parameter(torch.randn(k, emb_dim))  # spread out: components start apart
        # offset = OFFSET_SCALE · B: Adam moves every parameter by about lr per step, and a
        # particle must cross the data's range in a few thousand steps. Starts ~ N(0, 1).
        self.offset = nn.Parameter(torch.randn(k, out_dim) / OFFSET_SCALE) if offsets else None
        self.body = body

    def forward(self, x):
        z, onehot = x[:, :self.z_dim], x[:, self.z_dim:]
        out = self.body(torch.cat([z, onehot @ self.embed], 1))
        if self.offset is None:
            return out
        return out + onehot @ (OFFSET_SCALE * self.offset)


class ToyGAN(GAN):
    """The GAN class on 2-D points with an MLP generator without batch norm."""

    def __init__(self, config, data):
        super().__init__(config, data)
        # The scale D's input is multiplied by when d_input_scale = 0 (auto): measured on the
        # first real batch D trains on, then kept (a buffer, so checkpoints carry it).
        self.register_buffer("d_auto_scale", torch.ones(()))
        self._scale_measured = False

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Runs saved before the auto scale existed have no entry: they used raw coordinates.
        if prefix + "d_auto_scale" not in state_dict:
            state_dict[prefix + "d_auto_scale"] = torch.ones(())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._scale_measured = True  # a loaded model keeps the scale it trained with

    def make_generator(self, g_in: int) -> nn.Module:
        c = self.config
        widths = c.g_hidden or c.hidden[::-1]
        layers: list[nn.Module] = []
        first = g_in + (c.component_dim if c.components else 0)
        for a, b in zip((first, *widths), widths):
            layers += [nn.Linear(a, b), LeakyReLU02()]
        body = nn.Sequential(*layers, nn.Linear(widths[-1], self.data.dim))
        if not c.components:
            return body
        return MixtureGenerator(g_in, c.components, c.component_dim, body, self.data.dim,
                                c.component_offsets)

    def draw_codes(self, n: int, generator=None):
        g_input, cat, cont = super().draw_codes(n, generator)
        k = self.config.components
        if not k:
            return g_input, cat, cont
        comp = torch.randint(k, (n,), generator=generator).to(g_input.device)
        return torch.cat([g_input, F.one_hot(comp, k).to(g_input.dtype)], 1), cat, cont

    @property
    def decode_dim(self) -> int:
        c = self.config
        return c.latent_dim + c.code_dim + c.components

    def d_input_factor(self):
        s = self.config.d_input_scale
        if s == 0:
            return self.d_auto_scale
        return None if s == 1.0 else s

    def discriminate(self, x, y=None, with_features: bool = False, net=None):
        f = self.d_input_factor()
        return super().discriminate(x if f is None else x * f, y, with_features, net)

    def observe_real(self, x) -> None:
        if self.config.d_input_scale == 0 and not self._scale_measured:
            # A power of two, so ranks of a distributed run (each with its own slice of the
            # batch) and near-identical batches all agree.
            peak = float(x.detach().abs().max())
            self.d_auto_scale.fill_(2.0 ** -round(math.log2(peak)) if peak > 0 else 1.0)
            self._scale_measured = True

    def lr_scale(self) -> float:
        """The decay factor for the current step (1 before lr_decay_start)."""
        c = self.config
        if not c.lr_decay_start:
            return 1.0
        t = (int(self.steps) - c.lr_decay_start) / (c.lr_decay_end - c.lr_decay_start)
        return 1.0 - (1.0 - c.lr_decay_final) * min(max(t, 0.0), 1.0)

    def apply_lr(self) -> None:
        """Set both optimisers' rates from the config and the schedule (also after a live
        change of lr_g / lr_d in the lab)."""
        s = self.lr_scale()
        for name, lr in (("G", self.config.lr_g), ("D", self.config.lr_d)):
            opt = self.optimizers.get(name)
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = lr * s

    def train_step(self, x, y=None):
        if self.config.lr_decay_start:
            self.apply_lr()
        return super().train_step(x, y)


# -- registered variants ---------------------------------------------------------------------------
@register_model(ToyGAN, default_dataset="grid25", data_kinds=("points",), batch_size=128,
                steps=4000)
def toy_gan() -> ToyGANConfig:
    """Plain GAN on 2-D points (MLP players, non-saturating loss, Adam): collapses on grid25."""
    return ToyGANConfig(latent_dim=2, hidden=(128, 128), lr_g=2e-4, lr_d=2e-4, beta1=0.5)


@register_model(ToyGAN, default_dataset="grid25", data_kinds=("points",), batch_size=256,
                steps=6000)
def toy_gan_stable() -> ToyGANConfig:
    """2-D GAN that keeps every mode: a mixture prior of 100 components, D's input scaled to
    about ±1, a light R1, EMA of G, lr decay.

    What made the difference (README, "GAN lab"): a generator fed by a connected z can only
    reach separate modes through thin bridges of samples between them, and those bridges cost
    10-20 % of high-quality samples whatever the stabiliser; 100 learned components (each an
    embedding plus an output offset that D pushes onto a mode) remove the bridges. R1 keeps D
    smooth, the EMA of G and the late learning-rate decay tighten the samples inside 3σ.
    D judges x scaled to about ±1 (d_input_scale auto: 0.25 on grid25): in raw coordinates
    its first layer, initialised near the origin, resolved the outer modes of grid25 too
    coarsely, and a few components stayed 0.2-0.3 off the corner and edge modes. A light R1
    (γ = 0.002; 0.03 before) lets D stay sharp enough to pull components the last 0.03-0.1
    onto ring8's tight modes (σ = 0.01).
    """
    return ToyGANConfig(latent_dim=2, hidden=(128, 128), lr_g=5e-4, lr_d=5e-4, beta1=0.5,
                        r1_gamma=0.002, ema_decay=0.995, components=100, lr_decay_start=3000,
                        lr_decay_end=6000, lr_decay_final=0.02, d_input_scale=0.0)
