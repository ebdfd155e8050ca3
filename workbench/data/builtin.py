"""Built-in datasets (contract in DESIGN.md): the embedded `mnist5k`, and the PacGAN mixtures
ring8 and grid25."""

from __future__ import annotations

import math
from pathlib import Path

from workbench.core.errors import DatasetError
from workbench.core.resources import resource
from workbench.data.registry import register_dataset
from workbench.data.spec import DataSpec, TensorData
from workbench.data.split import stratified_split

def _mnist5k_path() -> Path:
    return resource("datasets", "mnist5k.npz")


@register_dataset("mnist5k", "5000 MNIST digits (500 per class, 28×28, labels), embedded: works offline",
           "image")
def load_mnist5k() -> TensorData:
    import numpy as np
    import torch

    path = _mnist5k_path()
    try:
        with np.load(path) as f:
            x, y = f["x"], f["y"]
    except (OSError, KeyError, ValueError) as e:
        raise DatasetError(f"cannot read the embedded dataset {path}: {e}") from None
    tr, va = stratified_split(y)
    xt = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    yt = torch.from_numpy(y.astype(np.int64))
    return TensorData("mnist5k", DataSpec.mnist(), xt[tr], yt[tr], xt[va], yt[va],
                      source={"builtin": "mnist5k"}, class_names=tuple(str(i) for i in range(10)))


def _mixture(name: str, means, sigma: float, n: int = 50_000, seed: int = 0) -> TensorData:
    import torch

    g = torch.Generator().manual_seed(seed)
    means = torch.tensor(means, dtype=torch.float32)
    k = torch.randint(len(means), (n,), generator=g)
    x = means[k] + sigma * torch.randn(n, 2, generator=g)
    n_val = n // 10
    return TensorData(name, DataSpec(shape=(2,), num_classes=len(means), kind="points"),
                      x[n_val:], k[n_val:], x[:n_val], k[:n_val],
                      source={"builtin": name, "sigma": sigma, "means": means.tolist()},
                      class_names=tuple(f"mode {i}" for i in range(len(means))))


RING8_MEANS = [(math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)) for k in range(8)]
GRID25_MEANS = [(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)]


@register_dataset("ring8", "8 Gaussians on the unit circle, σ = 0.01 (the PacGAN setup)", "points")
def load_ring8() -> TensorData:
    return _mixture("ring8", RING8_MEANS, 0.01)


@register_dataset("grid25", "25 Gaussians on {−4,−2,0,2,4}², σ = 0.05 (the PacGAN setup)", "points")
def load_grid25() -> TensorData:
    return _mixture("grid25", GRID25_MEANS, 0.05)
