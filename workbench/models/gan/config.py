"""The GAN family's settings: one frozen dataclass, every loss and stabiliser a field.

Besides limits and help, fields say what they mean to the rest of the app (core/config.param):
`rebuild` marks those that change a network's shape (a live change in the GAN lab rebuilds both
players, "all", or D alone, "d"); `data_kinds=("image",)` those that mean nothing for 2-D points
(the lab's form hides them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workbench.core.config import param
from workbench.core.errors import ConfigError
from workbench.models.gan.losses import LOSSES


@dataclass(frozen=True)
class GANConfig:
    # -- networks -------------------------------------------------------------------------------
    arch: Literal["mlp", "conv"] = param(
        "mlp", rebuild="all", data_kinds=("image",),
        help="Fully connected players (mlp) or DCGAN-style convolutional ones (conv: strided "
             "convolutions in D, transposed convolutions in G; images only).")
    latent_dim: int = param(100, min=1, max=1024, label="latent dimension", rebuild="all",
                            help="Size of the noise vector z fed to the generator.")
    hidden: tuple[int, ...] = param(
        (512, 256), min=1, max=8192, label="hidden sizes", rebuild="all",
        help="Widths of the MLP discriminator's hidden layers; the generator mirrors them.")
    channels: tuple[int, ...] = param(
        (64, 128), min=1, max=1024, rebuild="all", data_kinds=("image",),
        help="Channels of D's strided convolutions (each halves the image); G mirrors them.")
    g_fc: int = param(0, min=0, max=8192, label="G fully connected width",
                      help="arch=conv: a fully connected layer of this width (batch norm, ReLU) "
                           "before G's projection to a feature map (InfoGAN's MNIST G: 1024; "
                           "0 = none). Cheap on the CPU, and it shapes whole digits.")
    d_fc: int = param(0, min=0, max=8192, label="D fully connected width", rebuild="d",
                      help="arch=conv: a fully connected layer of this width after D's "
                           "convolutions (InfoGAN's MNIST D: 1024; 0 = none).")
    d_norm: Literal["batch", "layer", "none"] = param(
        "batch", label="D normalisation", rebuild="d", data_kinds=("image",),
        help="Normalisation in D's convolutions after the first: batch norm (DCGAN), layer norm "
             "(use with gradient penalties, which batch statistics would blur) or none.")
    init: Literal["default", "dcgan"] = param(
        "default", rebuild="all", data_kinds=("image",),
        help="Weight initialisation: PyTorch's default, or DCGAN's N(0, 0.02).")
    # -- objective and optimisers ---------------------------------------------------------------
    loss: Literal[tuple(LOSSES)] = param(
        "non_saturating",
        help="The pair of losses. minimax: G minimises log(1 − D(G(z))) (saturates when D wins); "
             "non_saturating: G minimises −log D(G(z)); least_squares: LSGAN; hinge; "
             "wasserstein: D is a critic without sigmoid (pair it with clipping or a penalty).")
    optimizer: Literal["adam", "rmsprop"] = param(
        "adam", help="Optimiser of both players (WGAN used RMSprop: momentum destabilises it).")
    lr_g: float = param(2e-4, min=1e-6, max=1.0, log=True, label="G learning rate",
                        help="Generator step size.")
    lr_d: float = param(2e-4, min=1e-6, max=1.0, log=True, label="D learning rate",
                        help="Discriminator step size.")
    beta1: float = param(0.5, min=0.0, max=0.999, label="Adam β1",
                         help="Adam's momentum; 0.5 (DCGAN) or 0 (WGAN-GP) is steadier than 0.9.")
    beta2: float = param(0.999, min=0.0, max=0.9999, label="Adam β2",
                         help="Adam's second-moment decay.")
    # -- stabilisers ----------------------------------------------------------------------------
    d_steps: int = param(1, min=1, max=100, label="D steps per G step",
                         help="Discriminator updates per generator update (k; n_critic in WGAN).")
    clip_value: float = param(0.0, min=0.0, max=10.0, label="weight clipping c",
                              help="After each D step clamp every D weight to [−c, c] (WGAN; "
                                   "0 = off).")
    gp_weight: float = param(0.0, min=0.0, max=1000.0, label="gradient penalty λ",
                             help="WGAN-GP: λ (‖∇D(x̂)‖ − 1)² at interpolates x̂ (0 = off).")
    r1_gamma: float = param(0.0, min=0.0, max=1000.0, label="R1 penalty γ",
                            help="γ/2 ‖∇D(x)‖² on real data (0 = off).")
    instance_noise: float = param(0.0, min=0.0, max=10.0, label="instance noise σ",
                                  help="Gaussian noise added to every D input, real and fake, so "
                                       "the two distributions overlap (0 = off).")
    instance_noise_steps: int = param(
        0, min=0, max=10_000_000, label="instance noise decay steps",
        help="σ falls linearly to 0 over this many steps (0 = constant σ).")
    label_smoothing: float = param(0.0, min=0.0, max=0.5, label="one-sided label smoothing",
                                   help="D's target for real data is 1 − this (fakes stay 0).")
    label_flip: float = param(0.0, min=0.0, max=0.5, label="label flip probability",
                              help="Each D target is swapped (real ↔ fake) with this probability.")
    minibatch_std: bool = param(False, label="minibatch std-dev", rebuild="d",
                                help="D sees the batch's feature spread, which exposes collapse.")
    mbd_kernels: int = param(0, min=0, max=512, label="minibatch discrimination kernels B",
                             rebuild="d",
                             help="Minibatch discrimination (Salimans et al. 2016): B closeness "
                                  "features of each sample to the rest of its batch, appended "
                                  "to D's features, so D can see a collapsed batch (0 = off).")
    mbd_dim: int = param(5, min=1, max=256, label="minibatch discrimination kernel dim C",
                         rebuild="d",
                         help="Size C of each minibatch-discrimination kernel's projection.")
    augment: Literal["none", "translation", "translation_cutout"] = param(
        "none", label="D augmentation",
        help="Differentiable augmentation (DiffAugment) of every image D sees, real and fake, "
             "in both players' steps: random shifts up to 1/8 of the size, optionally with a "
             "blanked square; keeps D from memorising a small data set (images only).")
    replay_size: int = param(0, min=0, max=100_000, label="replay buffer size",
                             help="Old fakes kept to show D again (experience replay; 0 = off).")
    replay_fraction: float = param(0.5, min=0.0, max=1.0, label="replay fraction",
                                   help="Share of D's fake batch drawn from the replay buffer.")
    pack: int = param(1, min=1, max=16, label="packing m", rebuild="d",
                      help="PacGAN: D judges m samples at once (all real or all fake).")
    ema_decay: float = param(0.0, min=0.0, max=0.9999, label="G EMA decay",
                             help="Sample from an exponential moving average of G's weights "
                                  "with this decay, e.g. 0.999 (0 = sample from G itself).")
    unroll_steps: int = param(
        0, min=0, max=20, label="unrolled D steps",
        help="Unrolled GAN (Metz et al. 2017): G trains against D looked ahead this many "
             "updates of D's optimiser; D itself does not keep them (0 = off).")
    unroll_backprop: bool = param(
        True, label="backprop through the unrolling",
        help="G's gradient also flows through D's look-ahead updates (second order, as in the "
             "paper): G is pushed towards what D cannot answer by moving. Off: first order, G "
             "just meets the looked-ahead D. The look-ahead leaves penalties (R1, GP) out.")
    # -- InfoGAN codes ----------------------------------------------------------------------------
    info_categories: int = param(0, min=0, max=100, label="categorical code size",
                                 rebuild="all", data_kinds=("image",),
                                 help="InfoGAN: one categorical code with this many values.")
    info_continuous: int = param(0, min=0, max=16, label="continuous codes", rebuild="all",
                                 data_kinds=("image",),
                                 help="InfoGAN: continuous codes drawn from U(−1, 1).")
    info_weight: float = param(1.0, min=0.0, max=100.0, label="information weight λ",
                               data_kinds=("image",),
                               help="Weight of the mutual-information term (Q's code error).")

    @property
    def code_dim(self) -> int:
        return self.info_categories + self.info_continuous

    def check(self):
        if self.arch == "conv" and not self.channels:
            raise ConfigError("channels must name at least one layer for arch=conv, e.g. 64,128")
        if self.arch == "mlp" and not self.hidden:
            raise ConfigError("hidden must name at least one layer, e.g. 512,256")
        if self.code_dim and self.pack > 1:
            raise ConfigError("InfoGAN codes need one D output per sample: set pack=1")
