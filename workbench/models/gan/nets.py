"""The two players' networks, the layers the stabilisers add to D, and the fake replay buffer.

D is a trunk (MLP or strided convolutions) that ends in a feature vector, an optional minibatch
standard-deviation feature, and a linear head giving one logit / critic value per input.
G is an MLP with batch norm, or ConvGenerator (a projection, then transposed convolutions).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from workbench.models.nets import down_sizes, mlp

LeakyReLU02 = partial(nn.LeakyReLU, 0.2)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # one group = layer norm over C×H×W; safe with gradient penalties
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def conv_trunk(in_channels: int, hw: tuple[int, int], channels: tuple[int, ...],
               norm: str, fc: int = 0) -> tuple[nn.Module, int]:
    """DCGAN's D: 4×4 stride-2 convolutions with LeakyReLU(0.2), no norm on the first layer;
    then, when `fc` > 0, a fully connected layer of that width (InfoGAN's MNIST D)."""
    layers: list[nn.Module] = []
    c = in_channels
    for i, ch in enumerate(channels):
        layers += [nn.Conv2d(c, ch, 4, stride=2, padding=1),
                   _norm("none" if i == 0 else norm, ch), LeakyReLU02()]
        c = ch
    h, w = (down_sizes(s, len(channels))[-1] for s in hw)
    layers.append(nn.Flatten())
    if fc:
        norm1d = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}.get(norm)
        layers += [nn.Linear(c * h * w, fc), norm1d(fc) if norm1d else nn.Identity(),
                   LeakyReLU02()]
        return nn.Sequential(*layers), fc
    return nn.Sequential(*layers), c * h * w


def mlp_trunk(in_dim: int, hidden: tuple[int, ...]) -> tuple[nn.Module, int]:
    return nn.Sequential(nn.Flatten(), mlp([in_dim, *hidden], act=LeakyReLU02,
                                           final_act=LeakyReLU02)), hidden[-1]


class MinibatchStdDev(nn.Module):
    """Appends the batch's mean feature standard deviation (Karras et al. 2018): a collapsed
    batch of fakes has a telltale small spread that D can then see."""

    def forward(self, h: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        """`ref`: features of a reference batch whose spread every row of h gets instead."""
        std = (((h if ref is None else ref).var(dim=0, unbiased=False) + 1e-8).sqrt().mean())
        return torch.cat([h, std.expand(h.shape[0], 1)], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, §3.2): each sample's features f (A) are
    projected by a learned tensor T (A×B×C) to B rows M_b of C numbers; sample i gets, per
    kernel b, o_b(i) = Σ_{j≠i} exp(−‖M_b(i) − M_b(j)‖₁), its closeness to the rest of the
    batch. A collapsed batch of fakes scores near n − 1 on every kernel, real digits far less,
    so D can see the collapse and G is pushed to spread out."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    def forward(self, h: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        """`ref`: features of a reference batch; each row of h is then scored as one more
        member of that batch (its closeness to the batch's rows), at O(N·M), not O(N²)."""
        # L1 distances per kernel with cdist (B×N×N): half the time of broadcasting N×N×B×C
        m = (h @ self.T).view(-1, self.kernels, self.kernel_dim).transpose(0, 1)   # B×N×C
        if ref is not None:
            r = (ref @ self.T).view(-1, self.kernels, self.kernel_dim).transpose(0, 1)
            o = torch.exp(-torch.cdist(m, r, p=1)).sum(2).T                        # N×B
            return torch.cat([h, o], dim=1)
        # exp(0) = 1 on the diagonal is each sample's similarity to itself: leave it out.
        o = torch.exp(-torch.cdist(m, m, p=1)).sum(2).T - 1.0                      # N×B
        return torch.cat([h, o], dim=1)


class Discriminator(nn.Module):
    def __init__(self, trunk: nn.Module, feat_dim: int, minibatch_std: bool,
                 mbd_kernels: int = 0, mbd_dim: int = 0):
        super().__init__()
        self.trunk = trunk
        self.feat_dim = feat_dim  # the trunk's features (InfoGAN's Q reads them)
        self.mbstd = MinibatchStdDev() if minibatch_std else nn.Identity()
        width = feat_dim + int(minibatch_std)
        self.mbd = MinibatchDiscrimination(width, mbd_kernels, mbd_dim) \
            if mbd_kernels and mbd_dim else nn.Identity()
        self.head = nn.Linear(width + (mbd_kernels if mbd_kernels and mbd_dim else 0), 1)

    @property
    def batch_dependent(self) -> bool:
        """Whether a sample's score depends on the rest of its batch."""
        return not (isinstance(self.mbstd, nn.Identity) and isinstance(self.mbd, nn.Identity))

    def forward(self, x: torch.Tensor, with_features: bool = False,
                reference: torch.Tensor | None = None):
        """`reference`: a batch of inputs that the minibatch layers compare each row of x with,
        instead of x's own rows (to map D over a grid of points as training batches see it)."""
        h = self.trunk(x)
        if reference is not None and self.batch_dependent:
            r = self.trunk(reference)
            hs = self.mbstd(h, r) if not isinstance(self.mbstd, nn.Identity) else h
            rs = self.mbstd(r) if not isinstance(self.mbstd, nn.Identity) else r
            feats = self.mbd(hs, rs) if not isinstance(self.mbd, nn.Identity) else hs
        else:
            feats = self.mbd(self.mbstd(h))
        out = self.head(feats).view(-1)
        return (out, h) if with_features else out


def build_discriminator(arch: str, shape: tuple[int, ...], extra_channels: int, pack: int,
                        hidden: tuple[int, ...], channels: tuple[int, ...], norm: str,
                        minibatch_std: bool, mbd_kernels: int = 0,
                        mbd_dim: int = 0, fc: int = 0) -> Discriminator:
    """D for inputs of `shape` with `extra_channels` label planes (cgan), `pack` at a time."""
    if arch == "conv":
        trunk, feat = conv_trunk((shape[0] + extra_channels) * pack, shape[1:], channels, norm,
                                 fc)
    else:
        trunk, feat = mlp_trunk((math.prod(shape) + extra_channels) * pack, hidden)
    return Discriminator(trunk, feat, minibatch_std, mbd_kernels, mbd_dim)


def mlp_generator(in_dim: int, hidden: tuple[int, ...], shape: tuple[int, ...]) -> nn.Module:
    """Fully connected G with batch norm and LeakyReLU(0.2) in its hidden layers: without the
    norm this G soon ignores z on MNIST and draws one image for every z."""
    layers: list[nn.Module] = []
    for a, b in zip((in_dim, *hidden), hidden):
        layers += [nn.Linear(a, b), nn.BatchNorm1d(b), LeakyReLU02()]
    last = hidden[-1] if hidden else in_dim
    return nn.Sequential(*layers, nn.Linear(last, math.prod(shape)), nn.Unflatten(1, tuple(shape)))


class ConvGenerator(nn.Module):
    """DCGAN's G: an optional fully connected layer (InfoGAN's MNIST G: 1024 wide), a projection
    to a small feature map, then transposed convolutions that double it; batch norm and ReLU
    after every layer but the last (Radford et al.: the norm on the projection too)."""

    def __init__(self, in_dim: int, shape: tuple[int, int, int], channels: tuple[int, ...],
                 fc: int = 0):
        super().__init__()
        c, h, w = shape
        self.shape = tuple(shape)
        rev = list(reversed(channels))
        self.c0 = rev[0]
        self.h0 = down_sizes(h, len(channels))[-1]
        self.w0 = down_sizes(w, len(channels))[-1]
        layers: list[nn.Module] = []
        if fc:
            layers += [nn.Linear(in_dim, fc), nn.BatchNorm1d(fc), nn.ReLU()]
            in_dim = fc
        width = rev[0] * self.h0 * self.w0
        layers += [nn.Linear(in_dim, width), nn.BatchNorm1d(width), nn.ReLU()]
        self.fc = nn.Sequential(*layers)
        convs: list[nn.Module] = []
        for a, b in zip(rev[:-1], rev[1:]):
            convs += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), nn.BatchNorm2d(b),
                      nn.ReLU()]
        convs.append(nn.ConvTranspose2d(rev[-1], c, 4, stride=2, padding=1))
        self.net = nn.Sequential(*convs)

    def forward(self, z):
        out = self.net(self.fc(z).view(z.shape[0], self.c0, self.h0, self.w0))
        if out.shape[-2:] != self.shape[1:]:  # sizes that are not a power-of-two multiple
            out = F.interpolate(out, size=self.shape[1:], mode="bilinear", align_corners=False)
        return out


def build_generator(arch: str, in_dim: int, shape: tuple[int, ...], hidden: tuple[int, ...],
                    channels: tuple[int, ...], fc: int = 0) -> nn.Module:
    """z (and codes / label) -> raw output shaped like the data (logits for images)."""
    if arch == "conv":
        return ConvGenerator(in_dim, shape, channels, fc)
    return mlp_generator(in_dim, hidden, shape)


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
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


def augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """Differentiable augmentation (Zhao et al. 2020, DiffAugment) of images N×C×H×W: every
    sample shifted by up to 1/8 of its size with zero fill ("translation"), and also a square
    of half its size blanked ("translation_cutout"). Applied alike to the real and fake images
    D sees, and inside G's step, so D cannot memorise a small training set and G still gets
    gradients through it."""
    if policy == "none" or x.dim() != 4:
        return x
    n, _, h, w = x.shape
    dev = x.device

    def shift_matrices(size: int) -> torch.Tensor:
        # One 0/1 matrix per sample: row i picks pixel i − s (none when out of range), so
        # `S @ x` shifts by s with zero fill; two small matmuls beat gather/scatter on CPUs.
        r = max(1, size // 8)
        s = torch.randint(-r, r + 1, (n, 1, 1), device=dev)
        i = torch.arange(size, device=dev)
        return (i.view(1, 1, size) == i.view(1, size, 1) - s).to(x.dtype)

    x = shift_matrices(h).unsqueeze(1) @ x @ shift_matrices(w).transpose(1, 2).unsqueeze(1)
    if policy == "translation_cutout":
        ch, cw = h // 2, w // 2
        cy = torch.randint(0, h - ch + 1, (n, 1, 1), device=dev)
        cx = torch.randint(0, w - cw + 1, (n, 1, 1), device=dev)
        ys = torch.arange(h, device=dev).view(1, h, 1)
        xs = torch.arange(w, device=dev).view(1, 1, w)
        keep = ~((ys >= cy) & (ys < cy + ch) & (xs >= cx) & (xs < cx + cw))
        x = x * keep.unsqueeze(1).to(x.dtype)
    return x
