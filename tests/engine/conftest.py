"""Tests of the Qt-free core run tiny models on a 2-core machine: one intra-op thread is both
faster (no OpenMP threads fighting over the cores) and the same for everyone."""

import torch

torch.set_num_threads(1)


import pytest  # noqa: E402

from workbench.data.spec import TensorData  # noqa: E402


@pytest.fixture(scope="session")
def mnist5k():
    from workbench.data import load_dataset

    return load_dataset("mnist5k")


@pytest.fixture(scope="session")
def tiny_mnist(mnist5k):
    """64 training and 32 validation digits: 4 steps per epoch at batch size 16."""
    d = mnist5k
    return TensorData("mnist5k", d.spec, d.x_train[:64].clone(), d.y_train[:64].clone(),
                      d.x_val[:32].clone(), d.y_val[:32].clone(), dict(d.source), d.class_names)


@pytest.fixture(scope="session")
def tiny_ring8():
    """64 training and 32 validation points of ring8, for the models made for 2-D data."""
    from workbench.data import load_dataset

    d = load_dataset("ring8")
    return TensorData("ring8", d.spec, d.x_train[:64].clone(), d.y_train[:64].clone(),
                      d.x_val[:32].clone(), d.y_val[:32].clone(), dict(d.source), d.class_names)
