"""Anomaly scores: the ROC curve and AUC against their definitions (ties included), histograms,
and the train-without-digit-k experiment on real digits."""

import numpy as np
import pytest
import torch

from workbench.analysis import anomaly as A
from workbench.core.errors import ConfigError


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
