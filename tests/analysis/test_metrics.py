"""Classifier score and Fréchet distance: closed forms, extremes, real data, and the cache."""

import numpy as np
import pytest
import torch

from workbench.analysis import metrics as M
from workbench.data import load_dataset

EPOCHS = 3  # enough for ~96% validation accuracy in a few seconds


@pytest.fixture(scope="module")
def data():
    return load_dataset("mnist5k")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def classifier(data, cache):
    return M.digit_classifier(data, epochs=EPOCHS, cache=cache)


def test_uniform_predictions_score_one():
    assert M.classifier_score(np.full((100, 10), 0.1)) == pytest.approx(1.0)


def test_a_single_confident_class_scores_one_and_balanced_classes_score_k():
    one = np.eye(10)[np.zeros(50, dtype=int)]
    assert M.classifier_score(one) == pytest.approx(1.0)
    balanced = np.eye(10)[np.arange(100) % 10]
    assert M.classifier_score(balanced) == pytest.approx(10.0, rel=1e-6)
    assert M.class_histogram(balanced).tolist() == [0.1] * 10


def test_frechet_distance_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(400, 8))
    assert M.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.5, 2, size=5), rng.uniform(0.5, 2, size=5)  # variances
    # Sets whose sample means and covariances are exactly the target ones.
    z = rng.normal(size=(2000, 5))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
    a, b = mu1 + z * np.sqrt(s1), mu2 + z * np.sqrt(s2)
    expected = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    assert M.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_with_a_full_covariance_is_symmetric_and_positive():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + 1
    assert M.frechet_distance(a, b) == pytest.approx(M.frechet_distance(b, a), rel=1e-6)
    assert M.frechet_distance(a, b) > 0


def test_real_data_scores_high_and_noise_is_far(data, classifier):
    probs, feats = M.predict(classifier, data.x_val)
    assert (probs.argmax(1) == data.y_val.numpy()).mean() > 0.94
    assert M.classifier_score(probs) >= 8
    _, half_a = M.predict(classifier, data.x_train[:2000])
    _, half_b = M.predict(classifier, data.x_train[2000:4000])
    _, noise = M.predict(classifier, torch.rand(2000, 1, 28, 28))
    real_vs_real = M.frechet_distance(half_a, half_b)
    assert real_vs_real < 0.05 * M.frechet_distance(half_a, noise)


def test_one_digit_only_scores_about_one(data, classifier):
    sevens = data.x_val[data.y_val == 7]
    result = M.evaluate_samples(sevens, data, classifier)
    assert result["classifier_score"] < 1.3
    assert result["class_histogram"][7] > 0.9
    assert result["n"] == len(sevens)


def test_cache_round_trip_and_a_corrupt_file_is_retrained(data, classifier, cache):
    files = list((cache / "classifiers").glob("mnist5k-*.safetensors"))
    assert len(files) == 1
    again = M.digit_classifier(data, epochs=EPOCHS, cache=cache)
    x = data.x_val[:64]
    assert torch.equal(again(x), classifier(x))
    files[0].write_bytes(b"not a safetensors file")
    rebuilt = M.digit_classifier(data, epochs=EPOCHS, cache=cache)
    torch.testing.assert_close(rebuilt(x), classifier(x))  # same seed: same weights
    assert M.digit_classifier(data, epochs=EPOCHS, cache=cache)  # the file was rewritten
    assert files[0].read_bytes()[:8] != b"not a sa"
