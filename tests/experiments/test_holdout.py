"""The train-without-digit-k study on real digits: the held-out digit scores as anomalous, the
run can be cancelled, and models that cannot reconstruct are refused with a clear message."""

import pytest
import torch

from workbench.core.tasks import TaskContext
from workbench.analysis.anomaly import roc_auc
from workbench.core.errors import ConfigError, DatasetError
from workbench.core.tasks import Cancelled
from workbench.data import load_dataset
from workbench.experiments import holdout as H
from workbench.models.registry import get_config


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist5k")


def test_without_class_removes_it_from_training_only(mnist):
    d = H.without_class(mnist, 3)
    assert (d.y_train != 3).all() and d.n_train == mnist.n_train - int((mnist.y_train == 3).sum())
    assert d.n_val == mnist.n_val and (d.y_val == 3).any()
    assert d.source["without_class"] == 3
    with pytest.raises(ConfigError, match="0..9"):
        H.without_class(mnist, 10)


def test_holdout_experiment_detects_the_unseen_digit(mnist):
    torch.set_num_threads(1)
    seen = []
    res = H.holdout_experiment("ae_mlp", mnist, 3, 150, seed=0,
                               config=get_config("ae_mlp", hidden=(128,), latent_dim=16),
                               ctx=TaskContext(lambda d, t, _: seen.append((d, t))))
    # 150 steps give 0.69-0.78 over seeds 0-3 (ae_mlp and vae_mlp alike); chance is 0.5
    assert res.auc > 0.6
    assert seen[0] == (0, 150) and seen[-1] == (150, 150)
    d = res.as_dict()
    assert d["n_anomalous"] == int((mnist.y_val == 3).sum()) and d["holdout"] == 3
    assert d["mean_error_anomalous"] > d["mean_error_normal"]
    assert len(d["roc"]["fpr"]) == len(d["roc"]["tpr"]) and set(d["per_class_mean_error"]) == {
        str(k) for k in range(10)}
    assert d["auc"] == pytest.approx(roc_auc(res.errors, res.labels == 3))  # tested by brute force in tests/analysis


def test_holdout_experiment_can_be_cancelled_and_refuses_models_without_an_encoder(mnist):
    import threading

    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        H.holdout_experiment("ae_mlp", mnist, 1, 1000, ctx=TaskContext(should_stop=stop.is_set),
                             config=get_config("ae_mlp", hidden=(32,), latent_dim=4))
    with pytest.raises(ConfigError, match="cannot reconstruct"):
        H.holdout_experiment("gan_mlp", mnist, 1, 10)
    with pytest.raises(ConfigError, match="conditional"):
        H.holdout_experiment("cvae", mnist, 1, 10)
    with pytest.raises(DatasetError, match="no labels"):
        H.without_class(type(mnist)("x", mnist.spec, mnist.x_train, None, mnist.x_val, None), 1)
