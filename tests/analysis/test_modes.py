"""Mode metrics (DESIGN.md / PacGAN): perfect samples, collapse onto one mode, off-mode noise."""

import math

import numpy as np
import pytest

from workbench.analysis.modes import (N_SAMPLES, mode_report, mode_report_for,
                                      reverse_kl_to_uniform)
from workbench.data import load_dataset
from workbench.data.builtin import GRID25_MEANS, RING8_MEANS

RNG = np.random.default_rng(0)


def _mixture(means, sigma, n=N_SAMPLES, rng=RNG):
    means = np.asarray(means)
    k = np.arange(n) % len(means)  # every mode equally often
    return means[k] + sigma * rng.standard_normal((n, 2))


@pytest.mark.parametrize("means,sigma", [(RING8_MEANS, 0.01), (GRID25_MEANS, 0.05)])
def test_perfect_samples(means, sigma):
    r = mode_report(_mixture(means, sigma), means, sigma)
    assert r.n_modes == len(means) and r.modes_captured == len(means)
    # The mass of a 2-D Gaussian within 3σ is 1 − e^{−4.5} = 98.9 %.
    assert abs(r.hq_share - (1 - math.exp(-4.5))) < 0.01
    assert r.reverse_kl < 0.01
    assert r.counts.dtype == np.int64 and r.counts.shape == (len(means),)
    assert r.counts.sum() == round(r.hq_share * N_SAMPLES)


def test_exact_mode_centres_are_all_high_quality():
    means = np.asarray(GRID25_MEANS)
    r = mode_report(np.repeat(means, 100, axis=0), means, 0.05)
    assert r.hq_share == 1.0 and r.modes_captured == 25 and r.reverse_kl == 0.0
    assert r.counts.tolist() == [100] * 25


def test_collapsed_to_one_mode():
    means = np.asarray(RING8_MEANS)
    samples = means[3] + 0.01 * RNG.standard_normal((N_SAMPLES, 2))
    r = mode_report(samples, means, 0.01)
    assert r.modes_captured == 1
    assert r.counts.argmax() == 3 and r.counts[3] == r.counts.sum()
    assert r.hq_share > 0.97
    assert r.reverse_kl == pytest.approx(math.log(8))  # everything in one of 8 modes


def test_off_mode_noise_is_low_quality():
    means = np.asarray(GRID25_MEANS)
    # Half the samples sit midway between neighbouring modes (1 unit = 20σ away), half on modes.
    between = means[:, None, :] + np.array([[1.0, 0.0]])
    samples = np.concatenate([np.repeat(means, 50, 0), np.repeat(between[:, 0], 50, 0)])
    r = mode_report(samples, means, 0.05)
    assert r.hq_share == pytest.approx(0.5)
    assert r.modes_captured == 25
    # Broad noise over the plane: a few land within 3σ by chance, most do not.
    noise = RNG.uniform(-5, 5, (N_SAMPLES, 2))
    rn = mode_report(noise, means, 0.05)
    expected = 25 * math.pi * 0.15 ** 2 / 100  # area of the 3σ discs over the area of the box
    assert rn.hq_share == pytest.approx(expected, abs=0.01)


def test_boundary_and_non_finite_samples():
    means = np.zeros((1, 2))
    r = mode_report([[0.03, 0.0], [0.0301, 0.0], [np.nan, 0.0], [np.inf, 1.0]], means, 0.01)
    assert r.counts.tolist() == [1]  # exactly 3σ counts; beyond it or non-finite do not
    assert r.hq_share == 0.25 and r.n_samples == 4


def test_reverse_kl_definition():
    assert reverse_kl_to_uniform([5, 5, 5, 5]) == pytest.approx(0.0)
    assert reverse_kl_to_uniform([10, 0, 0, 0]) == pytest.approx(math.log(4))
    # two of four modes equally filled: Σ ½ log(4 · ½) = log 2
    assert reverse_kl_to_uniform([3, 3, 0, 0]) == pytest.approx(math.log(2))
    assert reverse_kl_to_uniform([0, 0, 0]) == pytest.approx(math.log(3))  # no HQ sample at all
    p = np.array([1, 2, 3, 4]) / 10
    assert reverse_kl_to_uniform([1, 2, 3, 4]) == pytest.approx(float((p * np.log(4 * p)).sum()))


def test_empty_samples_and_bad_arguments():
    r = mode_report(np.zeros((0, 2)), RING8_MEANS, 0.01)
    assert r.hq_share == 0.0 and r.modes_captured == 0 and r.n_samples == 0
    with pytest.raises(ValueError):
        mode_report(np.zeros((3, 2)), RING8_MEANS, 0.0)
    with pytest.raises(ValueError):
        mode_report(np.zeros((3, 2)), np.zeros((0, 2)), 0.1)


def test_mode_report_for_reads_the_mixture_from_the_dataset():
    ring = load_dataset("ring8")
    r = mode_report_for(ring, ring.x_val[:N_SAMPLES].numpy())
    assert r.n_modes == 8 and r.modes_captured == 8 and r.hq_share > 0.97
    assert mode_report_for(load_dataset("spiral"), np.zeros((10, 2))) is None
    assert r.as_dict()["counts"] == r.counts.tolist()
