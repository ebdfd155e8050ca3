"""Anomaly scores: the ROC curve and AUC against their definitions (ties included), histograms,
and the train-without-digit-k experiment on real digits."""

import numpy as np
import pytest
import torch

from workbench.analysis import anomaly as A
from workbench.core.errors import ConfigError, DatasetError
from workbench.core.registry import get_config
from workbench.data import load_dataset


def mann_whitney(scores, positive):
    """P(score of a random positive > that of a random negative) + ½ P(tie), by brute force."""
    s, p = np.asarray(scores, float), np.asarray(positive, bool)
    diff = s[p][:, None] - s[~p][None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def test_a_perfect_separator_has_auc_one_and_a_reversed_one_zero():
    scores = np.r_[np.linspace(0, 1, 50), np.linspace(2, 3, 20)]
    positive = np.r_[np.zeros(50, bool), np.ones(20, bool)]
    assert A.roc_auc(scores, positive) == 1.0
    assert A.roc_auc(-scores, positive) == 0.0
    fpr, tpr, thr = A.roc_curve(scores, positive)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert thr[0] == np.inf and np.all(np.diff(thr[1:]) < 0)


def test_a_random_score_has_auc_near_one_half():
    rng = np.random.default_rng(0)
    scores, positive = rng.normal(size=20000), rng.random(20000) < 0.1
    assert A.roc_auc(scores, positive) == pytest.approx(0.5, abs=0.02)


def test_ties_count_one_half_whatever_the_order():
    # every score equal: one diagonal step, AUC exactly ½ (a staircase would depend on order)
    positive = np.array([1, 0, 1, 0, 0, 1, 0], bool)
    fpr, tpr, _ = A.roc_curve(np.ones(7), positive)
    assert fpr.tolist() == [0, 1] and tpr.tolist() == [0, 1]
    assert A.roc_auc(np.ones(7), positive) == 0.5
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 5, size=300).astype(float)  # many ties
    positive = rng.random(300) < 0.3 + 0.1 * scores
    expected = mann_whitney(scores, positive)
    assert A.roc_auc(scores, positive) == pytest.approx(expected, abs=1e-12)
    perm = rng.permutation(300)
    assert A.roc_auc(scores[perm], positive[perm]) == pytest.approx(expected, abs=1e-12)


def test_roc_refuses_one_sided_labels_and_bad_scores():
    with pytest.raises(ValueError, match="both positive and negative"):
        A.roc_curve([1.0, 2.0], [True, True])
    with pytest.raises(ValueError, match="finite"):
        A.roc_curve([1.0, np.nan], [True, False])


def test_histogram_worst_and_per_class_means():
    errors = np.array([0.1, 0.5, 0.2, 0.9, 0.3])
    anomalous = np.array([0, 1, 0, 1, 0], bool)
    edges, normal, anom = A.error_histogram(errors, anomalous, bins=4)
    assert len(edges) == 5 and normal.sum() == 3 and anom.sum() == 2
    assert anom[-1] == 1  # 0.9 lies in the last bin
    assert A.worst(errors, 2).tolist() == [3, 1]


class _Identity(torch.nn.Module):
    """A stand-in model whose reconstruction is a fixed blend: errors known in closed form."""

    conditional = False

    def __init__(self, spec, blur=0.0):
        super().__init__()
        self.data, self.blur, self.w = spec, blur, torch.nn.Parameter(torch.zeros(1))

    device = torch.device("cpu")

    def can(self, what):
        return what == "reconstruct"

    def reconstruct(self, x):
        return (1 - self.blur) * x + self.blur * 0.5


def test_reconstruction_errors_match_their_definitions():
    from workbench.data.spec import DataSpec

    spec = DataSpec((1, 2, 2), 0, "image")
    x = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]])
    perfect = A.reconstruction_errors(_Identity(spec), x, "mse")
    assert perfect.tolist() == [0.0]
    half = _Identity(spec, blur=1.0)  # every pixel reconstructed as 0.5
    assert A.reconstruction_errors(half, x, "mse")[0] == pytest.approx(0.25)
    assert A.reconstruction_errors(half, x, "bce")[0] == pytest.approx(4 * np.log(2), rel=1e-5)
    with pytest.raises(ConfigError, match="unknown error kind"):
        A.reconstruction_errors(half, x, "l1")


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist5k")


def test_without_class_removes_it_from_training_only(mnist):
    d = A.without_class(mnist, 3)
    assert (d.y_train != 3).all() and d.n_train == mnist.n_train - int((mnist.y_train == 3).sum())
    assert d.n_val == mnist.n_val and (d.y_val == 3).any()
    assert d.source["without_class"] == 3
    with pytest.raises(ConfigError, match="0..9"):
        A.without_class(mnist, 10)


def test_holdout_experiment_detects_the_unseen_digit(mnist):
    torch.set_num_threads(1)
    seen = []
    res = A.holdout_experiment("ae_mlp", mnist, 3, 150, seed=0,
                               config=get_config("ae_mlp", hidden=(128,), latent_dim=16),
                               progress=lambda d, t: seen.append((d, t)))
    # 150 steps give 0.69-0.78 over seeds 0-3 (ae_mlp and vae_mlp alike); chance is 0.5
    assert res.auc > 0.6
    assert seen[0] == (0, 150) and seen[-1] == (150, 150)
    d = res.as_dict()
    assert d["n_anomalous"] == int((mnist.y_val == 3).sum()) and d["holdout"] == 3
    assert d["mean_error_anomalous"] > d["mean_error_normal"]
    assert len(d["roc"]["fpr"]) == len(d["roc"]["tpr"]) and set(d["per_class_mean_error"]) == {
        str(k) for k in range(10)}
    assert d["auc"] == pytest.approx(mann_whitney(res.errors, res.labels == 3))


def test_holdout_experiment_can_be_cancelled_and_refuses_models_without_an_encoder(mnist):
    import threading

    stop = threading.Event()
    stop.set()
    with pytest.raises(A.Cancelled):
        A.holdout_experiment("ae_mlp", mnist, 1, 1000, stop=stop,
                             config=get_config("ae_mlp", hidden=(32,), latent_dim=4))
    with pytest.raises(ConfigError, match="cannot reconstruct"):
        A.holdout_experiment("gan_mlp", mnist, 1, 10)
    with pytest.raises(ConfigError, match="conditional"):
        A.holdout_experiment("cvae", mnist, 1, 10)
    with pytest.raises(DatasetError, match="no labels"):
        A.without_class(type(mnist)("x", mnist.spec, mnist.x_train, None, mnist.x_val, None), 1)
