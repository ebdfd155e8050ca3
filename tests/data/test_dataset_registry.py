"""Tests generated from the dataset registry: every built-in set gets them for free.

Each registered set must load offline, be of the kind and shape it claims, hold out a fixed
validation split that shares no example with training, and carry labels exactly when its spec
says it has classes.
"""

from __future__ import annotations

import pytest
import torch

from workbench.data import list_datasets, load_dataset, load_described
from workbench.data.split import VAL_FRACTION

DATASETS = {d.name: d for d in list_datasets()}


@pytest.fixture(scope="module", params=sorted(DATASETS))
def loaded(request):
    """(registry entry, the set loaded twice): loads are the slow part, so once per module."""
    name = request.param
    return DATASETS[name], load_dataset(name), load_dataset(name)


def test_the_contract_sets_are_registered():
    assert {"mnist5k", "ring8", "grid25"} <= set(DATASETS)  # DESIGN.md's built-in datasets
    for info in DATASETS.values():
        assert info.description.strip() and info.kind in ("image", "points")


def test_loads_with_the_kind_and_shape_it_claims(loaded):
    info, data, _ = loaded
    spec = data.spec
    assert data.name == info.name and spec.kind == info.kind
    if spec.kind == "image":
        assert len(spec.shape) == 3 and spec.shape[0] in (1, 3)
    else:
        assert spec.shape == (2,)
    for x in (data.x_train, data.x_val):
        assert x.dtype == torch.float32 and tuple(x.shape[1:]) == spec.shape
        assert torch.isfinite(x).all()
        if spec.kind == "image":
            assert x.min() >= 0.0 and x.max() <= 1.0


def test_holds_out_a_fixed_validation_split(loaded):
    info, data, again = loaded
    total = data.n_train + data.n_val
    assert data.n_val == pytest.approx(VAL_FRACTION * total, abs=1)
    for a, b in ((data.x_train, again.x_train), (data.x_val, again.x_val),
                 (data.y_train, again.y_train), (data.y_val, again.y_val)):
        assert (a is None and b is None) or torch.equal(a, b), "a second load differs"
    described = load_described(data.describe())  # what a run records loads the same data
    assert torch.equal(described.x_val, data.x_val)
    train = {row.numpy().tobytes() for row in data.x_train.flatten(1)}
    assert not any(row.numpy().tobytes() in train for row in data.x_val.flatten(1)), \
        "an example is in both splits"


def test_has_labels_exactly_where_its_spec_has_classes(loaded):
    _, data, _ = loaded
    k = data.spec.num_classes
    if not k:
        assert data.y_train is None and data.y_val is None
        return
    for x, y in ((data.x_train, data.y_train), (data.x_val, data.y_val)):
        assert y is not None and y.dtype == torch.long and y.shape == (x.shape[0],)
        assert set(y.unique().tolist()) == set(range(k)), "every class in both splits"
    assert not data.class_names or len(data.class_names) == k
