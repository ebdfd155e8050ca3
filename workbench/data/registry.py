"""The dataset registry: built-in sets register a loader by name (`@register_dataset`); and one
`load_dataset` for every way of naming data (a built-in name, a torchvision name, a folder path,
or the description a run recorded). Importing `workbench.data` registers the built-in sets."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from workbench.core.errors import DatasetError
from workbench.core.tasks import TaskContext
from workbench.data import folder as F
from workbench.data.spec import DataSpec, TensorData
from workbench.data.split import VAL_FRACTION
from workbench.data.tv import TV_DATASETS, load_tv, tv_name


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    kind: str
    loader: Callable[..., TensorData]


_DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(name: str, description: str, kind: str):
    def deco(fn):
        _DATASETS[name] = DatasetInfo(name, description, kind, fn)
        return fn
    return deco


def list_datasets() -> list[DatasetInfo]:
    return list(_DATASETS.values())


def load_dataset(name, *, image_size: int | None = None, color: str | None = None,
                 fit: str | None = None, data_root=None, download: bool = False,
                 limit: int | None = None, ctx: TaskContext | None = None) -> TensorData:
    """A dataset by built-in name, torchvision name (mnist, fashion-mnist, kmnist, cifar10), or
    image folder path; or from a description dict (a run's recorded `dataset`, or a folder's
    `source`). `image_size`/`color`/`fit` preprocess folders; `data_root`/`download`/`limit`
    apply to torchvision sets; `ctx` hears of a scan's or a download's progress and may stop a
    scan."""
    if isinstance(name, dict):
        return load_described(name, data_root=data_root, download=download, ctx=ctx)
    name = str(name)
    info = _DATASETS.get(name)
    if info is not None:
        return info.loader()
    if tv_name(name):
        return load_tv(name, data_root, download_ok=download, limit=limit,
                       progress=ctx.progress if ctx else None)
    path = Path(name).expanduser()
    if path.exists() or os.sep in name or (os.altsep and os.altsep in name):
        defaults = F.FolderOptions()
        opts = F.FolderOptions(size=image_size or defaults.size, color=color or defaults.color,
                               fit=fit or defaults.fit)
        return F.load_folder(path, opts, ctx=ctx)[0]
    close = difflib.get_close_matches(name, [*_DATASETS, *TV_DATASETS], n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise DatasetError(f"unknown dataset {name!r}{hint}; built-in: {', '.join(_DATASETS)}; "
                       "torchvision: mnist, fashion-mnist, kmnist, cifar10; or a folder of "
                       "images (`genworkbench datasets` lists them)")


def load_described(desc: dict, *, data_root=None, download: bool = False,
                   ctx: TaskContext | None = None) -> TensorData:
    """Load the dataset a run recorded (run.json's `dataset`, i.e. `TensorData.describe()`),
    checking that it still has the shape the run's model was built for."""
    if not isinstance(desc, dict):
        raise DatasetError(f"a dataset description must be a dict, not {type(desc).__name__}")
    if "folder" in desc:
        data = F.load_folder(desc["folder"], F.options_from_source(desc),
                             val_fraction=float(desc.get("val_fraction", VAL_FRACTION)),
                             ctx=ctx)[0]
    elif "torchvision" in desc:
        data = load_tv(desc["torchvision"], data_root or desc.get("root"),
                       download_ok=download, limit=desc.get("limit"),
                       progress=ctx.progress if ctx else None)
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
