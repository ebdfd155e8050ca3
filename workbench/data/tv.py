"""torchvision's datasets (MNIST, FashionMNIST, KMNIST, CIFAR-10) read from a root folder in
torchvision's own layout, so a folder torchvision filled works here and the reverse:

    ROOT/MNIST/raw/train-images-idx3-ubyte[.gz] …     (FashionMNIST/, KMNIST/ likewise)
    ROOT/cifar-10-batches-py/data_batch_1 … test_batch, batches.meta

The files are parsed here (IDX and the CIFAR pickle batches) rather than through torchvision's
classes: those insist on their own checksums, which rules out small test files, and unpickle
anything. Downloading happens only when asked, with a progress callback and checksums.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from workbench.core.atomic import atomic_writer
from workbench.core.errors import DatasetError
from workbench.core.paths import data_root as default_root
from workbench.data.spec import DataSpec, TensorData
from workbench.data.split import SPLIT_SEED

_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class TVDataset:
    name: str  # our name (lower case)
    folder: str  # torchvision's folder under the root
    description: str
    kind: str  # "idx" | "cifar"
    mirrors: tuple[str, ...]
    files: tuple[tuple[str, str], ...]  # (file name, md5) to download
    class_names: tuple[str, ...]


TV_DATASETS: dict[str, TVDataset] = {d.name: d for d in (
    TVDataset("mnist", "MNIST", "MNIST digits, 60000 + 10000, 28×28 grey (torchvision)", "idx",
              ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"),
              (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
               ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
               ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
               ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
              tuple(str(i) for i in range(10))),
    TVDataset("fashion-mnist", "FashionMNIST",
              "Fashion-MNIST clothes, 60000 + 10000, 28×28 grey (torchvision)", "idx",
              ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
              (("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
               ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
               ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
               ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")),
              ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")),
    TVDataset("kmnist", "KMNIST", "Kuzushiji-MNIST cursive Japanese, 60000 + 10000, 28×28 grey "
              "(torchvision)", "idx", ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
              (("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
               ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
               ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
               ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134")),
              ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")),
    TVDataset("cifar10", "cifar-10-batches-py",
              "CIFAR-10 photos, 50000 + 10000, 3×32×32 colour (torchvision)", "cifar",
              ("https://www.cs.toronto.edu/~kriz/",),
              (("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
              ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")),
)}
_ALIASES = {"fashionmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist",
            "cifar-10": "cifar10", "cifar_10": "cifar10"}


def tv_name(name: str) -> str | None:
    """Our name for a torchvision dataset name in any spelling/case, or None."""
    n = name.strip().lower()
    n = _ALIASES.get(n, n)
    return n if n in TV_DATASETS else None


def data_root(root=None) -> Path:
    return Path(root).expanduser() if root else default_root()


def _dir(ds: TVDataset, root: Path) -> Path:
    return root / ds.folder / "raw" if ds.kind == "idx" else root / ds.folder


def _find(folder: Path, name: str) -> Path | None:
    for p in (folder / name, folder / (name + ".gz")):
        if p.is_file():
            return p
    return None


def is_present(name: str, root=None) -> bool:
    ds = TV_DATASETS[tv_name(name) or name]
    d = _dir(ds, data_root(root))
    if ds.kind == "idx":
        return all(_find(d, f) for f in _IDX_FILES)
    return all((d / f).is_file() for f in (*(f"data_batch_{i}" for i in range(1, 6)),
                                           "test_batch"))


# -- parsing ---------------------------------------------------------------------------------------
def read_idx(path: Path):
    """An IDX file (optionally gzipped) as a numpy array: magic 0x0000 0x08 ndim, big-endian
    dimensions, then uint8 data."""
    import numpy as np

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DatasetError(f"cannot read {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(dims)) if dims else 0
    if len(raw) != header + count:
        raise DatasetError(f"{path} is truncated or padded: its header says {dims}, "
                           f"{count} bytes, but it holds {len(raw) - header}")
    # a writable buffer: torch.from_numpy warns on read-only arrays
    return np.frombuffer(bytearray(raw), dtype=np.uint8, offset=header).reshape(dims)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """CIFAR batches are pickles: allow only what numpy arrays need, never arbitrary code."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray",
                                                            "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"), ("builtins", "bytes"),
                ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_cifar_batch(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            d = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing") from None
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as e:
        raise DatasetError(f"{path} is not a CIFAR batch: {e}") from None
    if not isinstance(d, dict):
        raise DatasetError(f"{path} is not a CIFAR batch (not a dict)")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in d.items()}


def _cifar_arrays(d: dict, path: Path):
    import numpy as np

    try:
        x = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(d.get("labels", d.get("fine_labels")), dtype=np.int64)
    except (KeyError, ValueError, TypeError) as e:
        raise DatasetError(f"{path} is not a CIFAR-10 batch: {e}") from None
    if len(x) != len(y):
        raise DatasetError(f"{path}: {len(x)} images but {len(y)} labels")
    return x, y


def _load_arrays(ds: TVDataset, root: Path):
    """(x_train, y_train, x_test, y_test) as uint8 N×C×H×W and int64 N."""
    import numpy as np

    d = _dir(ds, root)
    if ds.kind == "idx":
        arrs = []
        for f in _IDX_FILES:
            p = _find(d, f)
            if p is None:
                raise DatasetError(f"{d / f} is missing")
            arrs.append(read_idx(p))
        xtr, ytr, xte, yte = arrs
        for x, y, which in ((xtr, ytr, "train"), (xte, yte, "t10k")):
            if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                raise DatasetError(f"{d}: {which} images {x.shape} and labels {y.shape} "
                                   "do not match")
        return xtr[:, None], ytr.astype(np.int64), xte[:, None], yte.astype(np.int64)
    parts = [_cifar_arrays(_read_cifar_batch(d / f"data_batch_{i}"), d / f"data_batch_{i}")
             for i in range(1, 6)]
    xte, yte = _cifar_arrays(_read_cifar_batch(d / "test_batch"), d / "test_batch")
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            xte, yte)


# -- download --------------------------------------------------------------------------------------
def _download_file(urls, md5: str, dest: Path, progress, total_done: list) -> None:
    import urllib.error
    import urllib.request

    errors = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                size = int(r.headers.get("Content-Length") or 0)
                h = hashlib.md5()
                with atomic_writer(dest) as out:
                    done = 0
                    while True:
                        block = r.read(1 << 16)
                        if not block:
                            break
                        out.write(block)
                        h.update(block)
                        done += len(block)
                        if progress:
                            progress(total_done[0] + done, total_done[0] + max(size, done))
                    if h.hexdigest() != md5:
                        raise ValueError(f"checksum mismatch for {url}")
                total_done[0] += done
                return
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', None) or e}")
    raise DatasetError("download failed (offline?) — " + "; ".join(errors))


def download(name: str, root=None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Fetch a torchvision dataset into `root` in torchvision's layout; checksums verified."""
    import tarfile

    ds = TV_DATASETS[tv_name(name) or name]
    root = data_root(root)
    done = [0]
    if ds.kind == "idx":
        raw = _dir(ds, root)
        for fname, md5 in ds.files:
            if not (raw / fname).is_file():
                _download_file([m + fname for m in ds.mirrors], md5, raw / fname, progress, done)
        return raw
    (fname, md5), = ds.files
    archive = root / fname
    if not archive.is_file():
        _download_file([m + fname for m in ds.mirrors], md5, archive, progress, done)
    try:
        with tarfile.open(archive, "r:gz") as t:
            t.extractall(root, filter="data")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DatasetError(f"cannot unpack {archive}: {e}") from None
    return _dir(ds, root)


def _missing_message(ds: TVDataset, root: Path) -> str:
    d = _dir(ds, root)
    if ds.kind == "idx":
        files = ", ".join(_IDX_FILES)
        what = f"put {files} (or the .gz files) into {d}"
    else:
        what = (f"unpack cifar-10-python.tar.gz into {root} (it makes {d} with data_batch_1..5 "
                "and test_batch)")
    return (f"{ds.name} is not in {root}: {what}; or allow downloading (--download in the CLI); "
            "another root folder can be chosen with --data-root or $GENWORKBENCH_DATA")


def load_tv(name: str, root=None, *, download_ok: bool = False, limit: int | None = None,
            progress: Callable[[int, int], None] | None = None):
    """A torchvision dataset as TensorData: the official test set is the validation set.

    `limit` keeps a fixed seeded subset of `limit` training images (and limit // 6 test
    images): CIFAR-10 in full is 600 MB as float32."""
    import numpy as np
    import torch

    key = tv_name(name)
    if key is None:
        raise DatasetError(f"unknown torchvision dataset {name!r}; known: "
                           f"{', '.join(TV_DATASETS)}")
    ds = TV_DATASETS[key]
    root = data_root(root)
    if not is_present(key, root):
        if not download_ok:
            raise DatasetError(_missing_message(ds, root))
        download(key, root, progress)
    xtr, ytr, xte, yte = _load_arrays(ds, root)
    if limit is not None:
        if limit < 1:
            raise DatasetError("limit must be at least 1")
        rng = np.random.default_rng(SPLIT_SEED)
        tr = np.sort(rng.permutation(len(xtr))[:limit])
        te = np.sort(rng.permutation(len(xte))[:max(1, limit // 6)])
        xtr, ytr, xte, yte = xtr[tr], ytr[tr], xte[te], yte[te]
    n_classes = len(ds.class_names)
    if ytr.size and (ytr.min() < 0 or max(ytr.max(), yte.max(initial=0)) >= n_classes):
        raise DatasetError(f"{_dir(ds, root)}: labels outside 0..{n_classes - 1}")

    def f(x):
        return torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0)

    spec = DataSpec(shape=tuple(int(s) for s in xtr.shape[1:]), num_classes=n_classes,
                    kind="image")
    source = {"torchvision": key, "root": str(root)}
    if limit is not None:
        source["limit"] = int(limit)
    return TensorData(key, spec, f(xtr), torch.from_numpy(ytr), f(xte), torch.from_numpy(yte),
                      source=source, class_names=ds.class_names)
