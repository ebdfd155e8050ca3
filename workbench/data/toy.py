"""Toy 2-D sets without discrete modes: a spiral, two moons and GAN Lab's ellipse ring.

They are registered with the dataset registry (registry.py) when `workbench.data` is imported, kind "points",
unlabeled. Unlike ring8 / grid25 they carry no means or sigma in `source`, so the mode metrics
(analysis/modes.py) do not apply to them. Every set is drawn from a fixed seed: the same points
in every run and session.
"""

from __future__ import annotations

import math

from workbench.data.registry import register_dataset
from workbench.data.spec import DataSpec, TensorData

N_POINTS = 50_000
SEED = 0


def _points(name: str, x, params: dict) -> TensorData:
    n_val = x.shape[0] // 10
    return TensorData(name, DataSpec(shape=(2,), num_classes=0, kind="points"),
                      x[n_val:].contiguous(), None, x[:n_val].contiguous(), None,
                      source={"builtin": name, **params})


def _generator():
    import torch

    return torch.Generator().manual_seed(SEED)


@register_dataset("spiral", "one-armed spiral, 1.5 turns out to radius 1, noise σ = 0.02", "points")
def load_spiral() -> TensorData:
    import torch

    g = _generator()
    # Uniform in arc length rather than in angle, so the outer arm is not sparser than the core.
    t = torch.rand(N_POINTS, generator=g).sqrt()
    r = 0.1 + 0.9 * t
    a = 3 * math.pi * t
    x = torch.stack([r * torch.cos(a), r * torch.sin(a)], 1)
    x = x + 0.02 * torch.randn(N_POINTS, 2, generator=g)
    return _points("spiral", x, {"turns": 1.5, "noise": 0.02})


@register_dataset("two_moons", "two interleaved half circles (scikit-learn's moons), noise σ = 0.05",
           "points")
def load_two_moons() -> TensorData:
    import torch

    g = _generator()
    a = math.pi * torch.rand(N_POINTS, generator=g)
    upper = torch.rand(N_POINTS, generator=g) < 0.5
    x = torch.where(upper[:, None], torch.stack([torch.cos(a), torch.sin(a)], 1),
                    torch.stack([1 - torch.cos(a), 0.5 - torch.sin(a)], 1))
    x = x - torch.tensor([0.5, 0.25])  # centred on the origin
    x = x + 0.05 * torch.randn(N_POINTS, 2, generator=g)
    return _points("two_moons", x, {"noise": 0.05})


@register_dataset("ellipse_ring", "GAN Lab's ring: an ellipse with semi-axes 1 and 0.6, noise σ = 0.03",
           "points")
def load_ellipse_ring() -> TensorData:
    import torch

    g = _generator()
    a = 2 * math.pi * torch.rand(N_POINTS, generator=g)
    x = torch.stack([1.0 * torch.cos(a), 0.6 * torch.sin(a)], 1)
    x = x + 0.03 * torch.randn(N_POINTS, 2, generator=g)
    return _points("ellipse_ring", x, {"axes": [1.0, 0.6], "noise": 0.03})
