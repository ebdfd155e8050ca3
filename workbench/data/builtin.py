"""Built-in datasets (contract in DESIGN.md): the embedded `mnist5k`, and the toy 2-D mixtures."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from workbench.core.errors import DatasetError
from workbench.core.resources import resource
from workbench.data.spec import DataSpec, TensorData

VAL_FRACTION = 0.1
SPLIT_SEED = 20240611  # fixed: the same validation digits for every run and every session


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    kind: str
    loader: Callable[..., TensorData]


_DATASETS: dict[str, DatasetInfo] = {}


def _register(name: str, description: str, kind: str):
    def deco(fn):
        _DATASETS[name] = DatasetInfo(name, description, kind, fn)
        return fn
    return deco


def stratified_split(y, val_fraction: float = VAL_FRACTION, seed: int = SPLIT_SEED):
    """Indices (train, val) with the same share of every class in validation, fixed by `seed`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        k = max(1, int(round(len(idx) * val_fraction)))
        val.append(idx[:k])
        train.append(idx[k:])
    train, val = np.concatenate(train), np.concatenate(val)
    rng.shuffle(train)
    rng.shuffle(val)
    return train, val


def _mnist5k_path() -> Path:
    return resource("datasets", "mnist5k.npz")


@_register("mnist5k", "5000 MNIST digits (500 per class, 28×28, labels), embedded: works offline",
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


@_register("ring8", "8 Gaussians on the unit circle, σ = 0.01 (the PacGAN setup)", "points")
def load_ring8() -> TensorData:
    return _mixture("ring8", RING8_MEANS, 0.01)


@_register("grid25", "25 Gaussians on {−4,−2,0,2,4}², σ = 0.05 (the PacGAN setup)", "points")
def load_grid25() -> TensorData:
    return _mixture("grid25", GRID25_MEANS, 0.05)


from workbench.data import toy  # noqa: E402,F401  (registers spiral, two_moons, ellipse_ring)


def list_datasets() -> list[DatasetInfo]:
    return list(_DATASETS.values())


def load_dataset(name, *, image_size: int | None = None, color: str | None = None,
                 fit: str | None = None, data_root=None, download: bool = False,
                 limit: int | None = None, progress=None, cancel=None) -> TensorData:
    """A dataset by built-in name, torchvision name (mnist, fashion-mnist, kmnist, cifar10), or
    image folder path; or from a description dict (a run's recorded `dataset`, or a folder's
    `source`). `image_size`/`color`/`fit` preprocess folders; `data_root`/`download`/`limit`
    apply to torchvision sets; `progress(done, total)` and `cancel` to scans and downloads."""
    from workbench.data import folder as F
    from workbench.data.tv import load_tv, tv_name

    if isinstance(name, dict):
        return load_described(name, data_root=data_root, download=download, progress=progress,
                              cancel=cancel)
    name = str(name)
    info = _DATASETS.get(name)
    if info is not None:
        return info.loader()
    if tv_name(name):
        return load_tv(name, data_root, download_ok=download, limit=limit, progress=progress)
    path = Path(name).expanduser()
    if path.exists() or os.sep in name or (os.altsep and os.altsep in name):
        defaults = F.FolderOptions()
        opts = F.FolderOptions(size=image_size or defaults.size, color=color or defaults.color,
                               fit=fit or defaults.fit)
        return F.load_folder(path, opts, progress=progress, cancel=cancel)[0]
    raise DatasetError(f"unknown dataset {name!r}; built-in: {', '.join(_DATASETS)}; "
                       "torchvision: mnist, fashion-mnist, kmnist, cifar10; or a folder of "
                       "images (`genworkbench datasets` lists them)")


def load_described(desc: dict, *, data_root=None, download: bool = False, progress=None,
                   cancel=None) -> TensorData:
    """Load the dataset a run recorded (run.json's `dataset`, i.e. `TensorData.describe()`),
    checking that it still has the shape the run's model was built for."""
    from workbench.data import folder as F
    from workbench.data.spec import DataSpec
    from workbench.data.tv import load_tv

    if not isinstance(desc, dict):
        raise DatasetError(f"a dataset description must be a dict, not {type(desc).__name__}")
    if "folder" in desc:
        data = F.load_folder(desc["folder"], F.options_from_source(desc),
                             val_fraction=float(desc.get("val_fraction", VAL_FRACTION)),
                             progress=progress, cancel=cancel)[0]
    elif "torchvision" in desc:
        data = load_tv(desc["torchvision"], data_root or desc.get("root"),
                       download_ok=download, limit=desc.get("limit"), progress=progress)
    elif "builtin" in desc or "name" in desc:
        data = load_dataset(desc.get("builtin") or desc["name"])
    else:
        raise DatasetError(f"cannot tell which dataset {desc!r} describes")
    if "spec" in desc:
        want = DataSpec.from_json(desc["spec"])
        if data.spec != want:
            raise DatasetError(
                f"{data.name} has changed since the run was made: it now gives "
                f"{'×'.join(map(str, data.spec.shape))} with {data.spec.num_classes} classes, "
                f"the run's model expects {'×'.join(map(str, want.shape))} with "
                f"{want.num_classes} classes")
    return data
