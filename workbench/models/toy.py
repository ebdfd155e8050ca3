"""GANs for 2-D toy data (ring8, grid25, spiral, ...): where mode collapse can be seen and counted.

`ToyGAN` is the zoo's GAN with a generator made for points: a plain MLP (no batch norm, whose
batch statistics would couple the samples of a batch and update in D's steps too) ending in a
linear layer that outputs raw coordinates. Every loss and stabiliser of `GANConfig` applies.

- `toy_gan`: plain GAN training (non-saturating loss, Adam, nothing else); it collapses on grid25.
- `toy_gan_stable`: the recipe that keeps every mode (see its docstring and the README).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from workbench.core.config import param
from workbench.core.registry import register_model
from workbench.models.gan import GAN, GANConfig
from workbench.models.gan_nets import LeakyReLU02


@dataclass(frozen=True)
class ToyGANConfig(GANConfig):
    g_hidden: tuple[int, ...] = param(
        (), min=1, max=8192, label="G hidden sizes",
        help="Widths of the generator's hidden layers; empty = mirror D's hidden sizes.")
    lr_decay_start: int = param(
        0, min=0, max=10_000_000, label="lr decay start",
        help="From this step on both learning rates fall linearly, reaching lr × lr_decay_final "
             "at lr_decay_end, so samples settle inside their modes (0 = constant rate).")
    lr_decay_end: int = param(0, min=0, max=10_000_000, label="lr decay end",
                              help="Step at which the learning-rate decay reaches its floor.")
    lr_decay_final: float = param(0.1, min=0.0, max=1.0, label="lr decay floor",
                                  help="Learning rate at the end of the decay, as a fraction.")

    def check(self):
        super().check()
        from workbench.core.errors import ConfigError

        if self.arch != "mlp":
            raise ConfigError("the 2-D toy GAN is an MLP: set arch=mlp")
        if self.lr_decay_start and self.lr_decay_end <= self.lr_decay_start:
            raise ConfigError("lr_decay_end must come after lr_decay_start")


class ToyGAN(GAN):
    """The GAN class on 2-D points with an MLP generator without batch norm."""

    def make_generator(self, g_in: int) -> nn.Module:
        c = self.config
        widths = c.g_hidden or c.hidden[::-1]
        layers: list[nn.Module] = []
        for a, b in zip((g_in, *widths), widths):
            layers += [nn.Linear(a, b), LeakyReLU02()]
        return nn.Sequential(*layers, nn.Linear(widths[-1], self.data.dim))

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
@register_model(ToyGAN, default_dataset="grid25", data_kinds=("points",), batch_size=128)
def toy_gan() -> ToyGANConfig:
    """Plain GAN on 2-D points (MLP players, non-saturating loss, Adam): collapses on grid25."""
    return ToyGANConfig(latent_dim=2, hidden=(128, 128), lr_g=2e-4, lr_d=2e-4, beta1=0.5)


@register_model(ToyGAN, default_dataset="grid25", data_kinds=("points",), batch_size=256)
def toy_gan_stable() -> ToyGANConfig:
    """2-D GAN against mode collapse: wider players, packing (PacGAN), R1 and an EMA of G."""
    return ToyGANConfig(latent_dim=2, hidden=(256, 256, 256), lr_g=1e-3, lr_d=1e-3, beta1=0.5,
                        pack=4, r1_gamma=0.1, ema_decay=0.999)
