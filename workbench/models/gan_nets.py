"""The two players' networks, the layers the stabilisers add to D, and the fake replay buffer.

D is a trunk (MLP or strided convolutions) that ends in a feature vector, an optional minibatch
standard-deviation feature, and a linear head giving one logit / critic value per input.
G is an MLP with batch norm, or nets.py's ConvDecoder (transposed convolutions, batch norm).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from workbench.models.nets import ConvDecoder, _down_sizes, mlp

LeakyReLU02 = partial(nn.LeakyReLU, 0.2)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # one group = layer norm over C×H×W; safe with gradient penalties
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def conv_trunk(in_channels: int, hw: tuple[int, int], channels: tuple[int, ...],
               norm: str) -> tuple[nn.Module, int]:
    """DCGAN's D: 4×4 stride-2 convolutions with LeakyReLU(0.2), no norm on the first layer."""
    layers: list[nn.Module] = []
    c = in_channels
    for i, ch in enumerate(channels):
        layers += [nn.Conv2d(c, ch, 4, stride=2, padding=1),
                   _norm("none" if i == 0 else norm, ch), LeakyReLU02()]
        c = ch
    h, w = (_down_sizes(s, len(channels))[-1] for s in hw)
    return nn.Sequential(*layers, nn.Flatten()), c * h * w


def mlp_trunk(in_dim: int, hidden: tuple[int, ...]) -> tuple[nn.Module, int]:
    return nn.Sequential(nn.Flatten(), mlp([in_dim, *hidden], act=LeakyReLU02,
                                           final_act=LeakyReLU02)), hidden[-1]


class MinibatchStdDev(nn.Module):
    """Appends the batch's mean feature standard deviation (Karras et al. 2018): a collapsed
    batch of fakes has a telltale small spread that D can then see."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        std = (h.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        return torch.cat([h, std.expand(h.shape[0], 1)], dim=1)


class Discriminator(nn.Module):
    def __init__(self, trunk: nn.Module, feat_dim: int, minibatch_std: bool):
        super().__init__()
        self.trunk = trunk
        self.mbstd = MinibatchStdDev() if minibatch_std else nn.Identity()
        self.head = nn.Linear(feat_dim + int(minibatch_std), 1)

    def forward(self, x: torch.Tensor, with_features: bool = False):
        h = self.trunk(x)
        out = self.head(self.mbstd(h)).view(-1)
        return (out, h) if with_features else out


def build_discriminator(arch: str, shape: tuple[int, ...], extra_channels: int, pack: int,
                        hidden: tuple[int, ...], channels: tuple[int, ...], norm: str,
                        minibatch_std: bool) -> Discriminator:
    """D for inputs of `shape` with `extra_channels` label planes (cgan), `pack` at a time."""
    if arch == "conv":
        trunk, feat = conv_trunk((shape[0] + extra_channels) * pack, shape[1:], channels, norm)
    else:
        trunk, feat = mlp_trunk((math.prod(shape) + extra_channels) * pack, hidden)
    return Discriminator(trunk, feat, minibatch_std)


def mlp_generator(in_dim: int, hidden: tuple[int, ...], shape: tuple[int, ...]) -> nn.Module:
    """Fully connected G with batch norm and LeakyReLU(0.2) in its hidden layers: without the
    norm this G soon ignores z on MNIST and draws one image for every z."""
    layers: list[nn.Module] = []
    for a, b in zip((in_dim, *hidden), hidden):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b), LeakyReLU02()]
    last = hidden[-1] if hidden else in_dim
    return nn.Sequential(*layers, nn.Linear(last, math.prod(shape)), nn.Unflatten(1, tuple(shape)))


def build_generator(arch: str, in_dim: int, shape: tuple[int, ...], hidden: tuple[int, ...],
                    channels: tuple[int, ...]) -> nn.Module:
    """z (and codes / label) -> raw output shaped like the data (logits for images)."""
    if arch == "conv":
        return ConvDecoder(in_dim, shape, channels)
    return mlp_generator(in_dim, hidden, shape)


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def label_features(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """x with its one-hot label attached: as constant planes to images, as columns to vectors."""
    onehot = F.one_hot(y, num_classes).to(x.dtype)
    if x.dim() == 4:
        return torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
    return torch.cat([x, onehot], dim=1)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN: m consecutive samples side by side (along channels / features) as one D input."""
    if m == 1:
        return x
    if x.shape[0] < m:  # e.g. the last validation batch: fill one pack by repeating samples
        x = x.repeat(math.ceil(m / x.shape[0]), *([1] * (x.dim() - 1)))[:m]
    n = x.shape[0] // m * m  # the remainder that fills no pack is left out
    return x[:n].reshape(n // m, m * x.shape[1], *x.shape[2:])


class FakeReplay(nn.Module):
    """Experience replay: a ring of old fakes (and their labels) shown to D again, so G cannot
    win by hopping back to a mode D has forgotten. Buffers, so checkpoints carry it."""

    def __init__(self, size: int, shape: tuple[int, ...]):
        super().__init__()
        self.register_buffer("images", torch.zeros(size, *shape))
        self.register_buffer("labels", torch.zeros(size, dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def push(self, x, y):
        size = self.images.shape[0]
        n = min(x.shape[0], size)
        slots = (self.count + torch.arange(n, device=x.device)) % size
        self.images[slots] = x[:n].detach()
        if y is not None:
            self.labels[slots] = y[:n]
        self.count += n

    def mix(self, x, y, fraction: float):
        """x with its first `fraction` replaced by random old fakes (once the buffer has any)."""
        filled = int(min(self.count, self.images.shape[0]))
        k = int(round(fraction * x.shape[0]))
        if filled == 0 or k == 0:
            return x, y
        idx = torch.randint(filled, (k,), device=x.device)
        x = torch.cat([self.images[idx], x[k:]])
        if y is not None:
            y = torch.cat([self.labels[idx], y[k:]])
        return x, y
