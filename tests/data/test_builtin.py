"""Built-in datasets (contract in DESIGN.md): mnist5k embedded, ring8 and grid25 (PacGAN)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from workbench.core.errors import DatasetError
from workbench.data import list_datasets, load_dataset
from workbench.data.split import stratified_split
from workbench.data.spec import DataSpec


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist5k")


def test_list_datasets_names_and_kinds():
    kinds = {d.name: d.kind for d in list_datasets()}
    assert kinds["mnist5k"] == "image"
    assert kinds["ring8"] == "points" and kinds["grid25"] == "points"
    assert all(d.description for d in list_datasets())


def test_mnist5k_split_sizes_and_types(mnist):
    assert (mnist.n_train, mnist.n_val) == (4500, 500)
    assert mnist.spec == DataSpec(shape=(1, 28, 28), num_classes=10, kind="image")
    for x in (mnist.x_train, mnist.x_val):
        assert x.dtype == torch.float32 and tuple(x.shape[1:]) == (1, 28, 28)
    for y in (mnist.y_train, mnist.y_val):
        assert y.dtype == torch.int64
    assert mnist.class_names == tuple(str(i) for i in range(10))


def test_mnist5k_values_are_in_unit_range(mnist):
    for x in (mnist.x_train, mnist.x_val):
        assert x.min().item() == 0.0
        assert x.max().item() == 1.0  # 255 maps to exactly 1: scaled once, not twice
    # grey levels are multiples of 1/255
    levels = mnist.x_val * 255
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    # digits are mostly background: a sanity check that x is not transposed noise
    assert 0.05 < mnist.x_train.mean().item() < 0.25


def test_mnist5k_split_is_stratified(mnist):
    assert torch.bincount(mnist.y_val, minlength=10).tolist() == [50] * 10
    assert torch.bincount(mnist.y_train, minlength=10).tolist() == [450] * 10


def test_mnist5k_split_is_shuffled(mnist):
    # the file is sorted by label; the splits must not be
    assert len(torch.unique_consecutive(mnist.y_val)) > 100
    assert len(torch.unique_consecutive(mnist.y_train[:500])) > 100


def test_mnist5k_train_and_val_do_not_overlap(mnist):
    train = {bytes(r) for r in (mnist.x_train.flatten(1) * 255).round().to(torch.uint8).numpy()}
    val = [bytes(r) for r in (mnist.x_val.flatten(1) * 255).round().to(torch.uint8).numpy()]
    assert sum(v in train for v in val) <= 2  # MNIST holds a handful of exact duplicates at most


def test_mnist5k_split_is_identical_across_loads(mnist):
    again = load_dataset("mnist5k")
    assert torch.equal(again.x_val, mnist.x_val) and torch.equal(again.y_val, mnist.y_val)
    assert torch.equal(again.x_train, mnist.x_train)
    assert torch.equal(again.y_train, mnist.y_train)


def test_stratified_split_indices():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    tr, va = stratified_split(y, val_fraction=0.1, seed=1)
    assert len(set(tr) & set(va)) == 0
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(100))
    assert np.bincount(y[va]).tolist() == [1, 2, 3, 4]
    tr2, va2 = stratified_split(y, val_fraction=0.1, seed=1)
    assert np.array_equal(tr, tr2) and np.array_equal(va, va2)
    _, va3 = stratified_split(y, val_fraction=0.1, seed=2)
    assert not np.array_equal(np.sort(va), np.sort(va3))


def test_mnist5k_describe_goes_into_run_json(mnist):
    d = mnist.describe()
    assert d["name"] == "mnist5k" and d["n_train"] == 4500 and d["n_val"] == 500
    assert DataSpec.from_json(d["spec"]) == mnist.spec


def _mixture_check(data, means, sigma):
    means = torch.tensor(means, dtype=torch.float32)
    assert data.spec == DataSpec(shape=(2,), num_classes=len(means), kind="points")
    for x, y in ((data.x_train, data.y_train), (data.x_val, data.y_val)):
        assert x.dtype == torch.float32 and x.shape[1] == 2
        assert x.shape[0] == y.shape[0]
        # every mode is used, roughly equally
        counts = torch.bincount(y, minlength=len(means)).float()
        assert counts.min() > 0.8 * counts.mean()
        # the labels are the mode each point was drawn from
        resid = x - means[y]
        assert resid.mean(0).abs().max().item() < 0.05 * sigma
        std = resid.std(0)
        assert torch.allclose(std, torch.full((2,), sigma), rtol=0.05), std
        # per-mode empirical means sit on the contract's means
        for k in range(len(means)):
            mk = x[y == k].mean(0)
            assert (mk - means[k]).norm().item() < 5 * sigma / math.sqrt((y == k).sum().item())
        # the nearest mean is the point's own mode; P(r < 3σ) = 1 - exp(-4.5) ≈ 0.989 in 2-D
        d = torch.cdist(x, means)
        assert torch.equal(d.argmin(1), y)
        within = (d.min(1).values < 3 * sigma).float().mean().item()
        assert abs(within - (1 - math.exp(-4.5))) < 0.005, within


def test_ring8_matches_the_contract():
    data = load_dataset("ring8")
    means = [(math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)) for k in range(8)]
    _mixture_check(data, means, 0.01)
    assert data.source["sigma"] == 0.01
    assert np.allclose(np.linalg.norm(np.array(data.source["means"]), axis=1), 1.0)


def test_grid25_matches_the_contract():
    data = load_dataset("grid25")
    means = [(a, b) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)]
    _mixture_check(data, means, 0.05)
    assert data.source["sigma"] == 0.05


def test_toy_sets_are_deterministic():
    a, b = load_dataset("ring8"), load_dataset("ring8")
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.x_val, b.x_val)


def test_unknown_dataset():
    with pytest.raises(DatasetError) as ei:
        load_dataset("mnist6k")
    msg = str(ei.value)
    assert "unknown dataset 'mnist6k'" in msg
    assert "mnist5k" in msg and "ring8" in msg and "grid25" in msg


def test_path_without_images_is_a_dataset_error(tmp_path):
    # a path is an image folder (tests/data/test_folder.py); one without images says so
    with pytest.raises(DatasetError, match="no usable image in"):
        load_dataset(str(tmp_path))


def test_missing_embedded_file_is_a_dataset_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GENWORKBENCH_RESOURCES", str(tmp_path))
    with pytest.raises(DatasetError, match="cannot read the embedded dataset"):
        load_dataset("mnist5k")
