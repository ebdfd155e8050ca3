"""torchvision datasets from small fake files in their own formats (IDX, CIFAR pickle batches).
Nothing is downloaded: the download path is exercised through file:// URLs."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.core.tasks import TaskContext
from workbench.core.errors import DatasetError
from workbench.data import load_dataset, load_described
from workbench.data import tv


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    return (bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
            + arr.tobytes())


def mnist_arrays(n_train=30, n_test=12, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            (np.arange(n_train) % 10).astype(np.uint8),
            rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            (np.arange(n_test) % 10).astype(np.uint8))


def write_mnist(root: Path, folder="MNIST", gz=False, seed=0):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    arrays = mnist_arrays(seed=seed)
    for name, arr in zip(tv._IDX_FILES, arrays):
        data = idx_bytes(arr)
        if gz:
            (raw / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (raw / name).write_bytes(data)
    return arrays


def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    return {"batch_label": "fake", "labels": [int(i % 10) for i in range(n)],
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}


def write_cifar(root: Path, per_batch=4):
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    batches = {}
    for i in range(1, 6):
        batches[f"data_batch_{i}"] = cifar_batch(per_batch, i)
    batches["test_batch"] = cifar_batch(per_batch, 9)
    for name, b in batches.items():
        (d / name).write_bytes(pickle.dumps(b, protocol=2))
    (d / "batches.meta").write_bytes(pickle.dumps({"label_names": ["x"] * 10}))
    return batches


def test_names_and_aliases():
    assert tv.tv_name("MNIST") == "mnist" and tv.tv_name("FashionMNIST") == "fashion-mnist"
    assert tv.tv_name("CIFAR-10") == "cifar10" and tv.tv_name("kmnist") == "kmnist"
    assert tv.tv_name("mnist5k") is None


def test_missing_dataset_says_where_to_put_the_files(tmp_path):
    with pytest.raises(DatasetError) as ei:
        load_dataset("mnist", data_root=tmp_path)
    msg = str(ei.value)
    assert str(tmp_path / "MNIST" / "raw") in msg and "train-images-idx3-ubyte" in msg
    assert "--download" in msg and "--data-root" in msg
    with pytest.raises(DatasetError, match="cifar-10-python.tar.gz"):
        load_dataset("cifar10", data_root=tmp_path)
    assert not tv.is_present("kmnist", tmp_path)


@pytest.mark.parametrize("folder,name", [("MNIST", "mnist"), ("FashionMNIST", "fashion-mnist"),
                                         ("KMNIST", "kmnist")])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_family_from_idx_files(tmp_path, folder, name, gz):
    xtr, ytr, xte, yte = write_mnist(tmp_path, folder, gz)
    assert tv.is_present(name, tmp_path)
    data = load_dataset(folder, data_root=tmp_path)
    assert data.name == name and data.spec.shape == (1, 28, 28) and data.spec.num_classes == 10
    assert data.n_train == 30 and data.n_val == 12
    assert torch.equal(data.x_train[:, 0], torch.from_numpy(xtr).float() / 255)
    assert data.y_val.tolist() == yte.tolist() and data.y_train.dtype == torch.int64
    assert len(data.class_names) == 10
    assert data.source == {"torchvision": name, "root": str(tmp_path)}


def test_cifar10_from_pickle_batches(tmp_path):
    batches = write_cifar(tmp_path)
    data = load_dataset("cifar10", data_root=tmp_path)
    assert data.spec.shape == (3, 32, 32) and data.n_train == 20 and data.n_val == 4
    first = batches["data_batch_1"]["data"][0].reshape(3, 32, 32)
    assert torch.equal(data.x_train[0], torch.from_numpy(first).float() / 255)
    assert data.class_names[0] == "airplane"


def test_cifar_pickle_cannot_run_code(tmp_path):
    write_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(DatasetError, match="refusing to load builtins.print"):
        load_dataset("cifar10", data_root=tmp_path)


def test_corrupt_idx_files_are_dataset_errors(tmp_path):
    write_mnist(tmp_path)
    f = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(DatasetError, match="truncated"):
        load_dataset("mnist", data_root=tmp_path)
    f.write_bytes(b"\x12\x34\x56\x78")
    with pytest.raises(DatasetError, match="bad magic"):
        load_dataset("mnist", data_root=tmp_path)


def test_limit_takes_a_fixed_subset(tmp_path):
    write_mnist(tmp_path)
    a = load_dataset("mnist", data_root=tmp_path, limit=12)
    b = load_dataset("mnist", data_root=tmp_path, limit=12)
    assert a.n_train == 12 and a.n_val == 2 and torch.equal(a.x_train, b.x_train)
    assert a.source["limit"] == 12
    again = load_described(a.describe())  # a run's description reloads the same subset
    assert torch.equal(again.x_train, a.x_train)


def test_env_var_sets_the_root(tmp_path, monkeypatch):
    write_mnist(tmp_path)
    monkeypatch.setenv("GENWORKBENCH_DATA", str(tmp_path))
    assert load_dataset("mnist").n_train == 30


def _serve(monkeypatch, ds_name, files: dict[str, bytes], tmp_path):
    """Point the dataset's mirror at a local folder (file:// URL) with these files."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in files.items():
        (mirror / name).write_bytes(data)
    old = tv.TV_DATASETS[ds_name]
    new = tv.TVDataset(old.name, old.folder, old.description, old.kind,
                       (mirror.as_uri() + "/",),
                       tuple((n, hashlib.md5(d).hexdigest()) for n, d in files.items()),
                       old.class_names)
    monkeypatch.setitem(tv.TV_DATASETS, ds_name, new)


def test_download_with_progress_and_checksums(tmp_path, monkeypatch):
    arrays = mnist_arrays()
    files = {n + ".gz": gzip.compress(idx_bytes(a)) for n, a in zip(tv._IDX_FILES, arrays)}
    _serve(monkeypatch, "kmnist", files, tmp_path)
    root = tmp_path / "root"
    seen = []
    data = load_dataset("kmnist", data_root=root, download=True,
                        ctx=TaskContext(lambda d, t, _text: seen.append((d, t))))
    assert data.n_train == 30 and (root / "KMNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file()
    total = sum(len(b) for b in files.values())
    assert seen[-1] == (total, total)
    assert all(d <= t for d, t in seen)


def test_download_refuses_a_bad_checksum(tmp_path, monkeypatch):
    files = {n + ".gz": gzip.compress(b"x") for n in tv._IDX_FILES}
    _serve(monkeypatch, "mnist", files, tmp_path)
    bad = tv.TV_DATASETS["mnist"]
    monkeypatch.setitem(tv.TV_DATASETS, "mnist", tv.TVDataset(
        bad.name, bad.folder, bad.description, bad.kind, bad.mirrors,
        tuple((n, "0" * 32) for n, _ in bad.files), bad.class_names))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_dataset("mnist", data_root=tmp_path / "root", download=True)
    assert not list((tmp_path / "root").rglob("*.gz"))  # nothing half-written is left


def test_download_offline_is_a_clear_error(tmp_path, monkeypatch):
    files = {n + ".gz": b"" for n in tv._IDX_FILES}
    _serve(monkeypatch, "mnist", files, tmp_path)
    for f in (tmp_path / "mirror").iterdir():  # the mirror cannot be reached
        f.unlink()
    with pytest.raises(DatasetError, match="download failed"):
        load_dataset("mnist", data_root=tmp_path / "root", download=True)


def test_cifar_download_unpacks_the_archive(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write_cifar(src)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        t.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    _serve(monkeypatch, "cifar10", {"cifar-10-python.tar.gz": buf.getvalue()}, tmp_path)
    data = load_dataset("cifar10", data_root=tmp_path / "root", download=True)
    assert data.n_train == 20 and tv.is_present("cifar10", tmp_path / "root")
