"""Shared network blocks: MLPs and a convolutional encoder/decoder pair for small images."""

from __future__ import annotations

import math

from torch import nn
from torch.nn import functional as F

from workbench.core.errors import ConfigError


def mlp(sizes: list[int], act=nn.ReLU, final_act=None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    if final_act is not None:
        layers.append(final_act())
    return nn.Sequential(*layers)


def down_sizes(size: int, n: int) -> list[int]:
    """An image side's size before and after each of n stride-2 convolutions (halved, rounded
    up): the encoders and D shrink by it, the decoders and G grow back along it."""
    sizes = [size]
    for _ in range(n):
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


class ConvEncoder(nn.Module):
    """Strided 4×4 convolutions that halve the image each time, then a linear head."""

    def __init__(self, shape: tuple[int, int, int], channels: tuple[int, ...], out_dim: int):
        super().__init__()
        c, h, w = shape
        layers: list[nn.Module] = []
        for ch in channels:
            layers += [nn.Conv2d(c, ch, 4, stride=2, padding=1), nn.BatchNorm2d(ch), nn.ReLU()]
            c = ch
        self.features = nn.Sequential(*layers)
        hs, ws = down_sizes(h, len(channels))[-1], down_sizes(w, len(channels))[-1]
        self.head = nn.Linear(c * hs * ws, out_dim)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class ConvDecoder(nn.Module):
    """A linear layer to a small feature map, then transposed convolutions that double it."""

    def __init__(self, in_dim: int, shape: tuple[int, int, int], channels: tuple[int, ...]):
        super().__init__()
        c, h, w = shape
        self.shape = shape
        rev = list(reversed(channels))
        self.h0 = down_sizes(h, len(channels))[-1]
        self.w0 = down_sizes(w, len(channels))[-1]
        self.fc = nn.Sequential(nn.Linear(in_dim, rev[0] * self.h0 * self.w0), nn.ReLU())
        layers: list[nn.Module] = []
        for a, b in zip(rev[:-1], rev[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), nn.BatchNorm2d(b),
                       nn.ReLU()]
        layers.append(nn.ConvTranspose2d(rev[-1], c, 4, stride=2, padding=1))
        self.net = nn.Sequential(*layers)
        self.c0 = rev[0]

    def forward(self, z):
        out = self.net(self.fc(z).view(z.shape[0], self.c0, self.h0, self.w0))
        if out.shape[-2:] != self.shape[1:]:  # sizes that are not a power-of-two multiple
            out = F.interpolate(out, size=self.shape[1:], mode="bilinear", align_corners=False)
        return out


def flat_encoder(arch: str, shape: tuple[int, ...], hidden: tuple[int, ...],
                 channels: tuple[int, ...], out_dim: int) -> nn.Module:
    """Data -> vector: an MLP on the flattened input, one linear map, or the convolutional encoder."""
    if arch == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), out_dim))
    if arch == "conv":
        if len(shape) != 3:
            raise ConfigError("arch=conv needs image data; use arch=mlp for 2-D points")
        return ConvEncoder(shape, channels, out_dim)
    dim = math.prod(shape)
    return nn.Sequential(nn.Flatten(), mlp([dim, *hidden, out_dim]))


def flat_decoder(arch: str, in_dim: int, shape: tuple[int, ...], hidden: tuple[int, ...],
                 channels: tuple[int, ...]) -> nn.Module:
    """Vector -> raw network output shaped like the data (logits for images)."""
    if arch == "linear":
        return nn.Sequential(nn.Linear(in_dim, math.prod(shape)), nn.Unflatten(1, tuple(shape)))
    if arch == "conv":
        return ConvDecoder(in_dim, shape, channels)
    return nn.Sequential(mlp([in_dim, *reversed(hidden), math.prod(shape)]),
                         nn.Unflatten(1, tuple(shape)))


def reconstruction_nll(out, x, likelihood: str, squash: bool):
    """Negative log-likelihood of each example, summed over pixels: a tensor of shape (N,).

    `out` is the raw decoder output. Bernoulli (bce) reads it as logits; Gaussian (mse) compares
    sigmoid(out) (when `squash`, i.e. images) or out itself with x as a squared error
    (unit variance, ×½; the constant ½·D·log 2π is left out).
    """
    if likelihood == "bce":
        per_pixel = F.binary_cross_entropy_with_logits(out, x, reduction="none")
    else:
        pred = out.sigmoid() if squash else out
        per_pixel = 0.5 * (pred - x).pow(2)
    return per_pixel.flatten(1).sum(1)


def one_hot(y, num_classes: int):
    """int64 labels (N,) -> float one-hot rows (N, num_classes)."""
    return F.one_hot(y.long(), num_classes).float()
