"""Mode metrics for generators of Gaussian mixtures (ring8, grid25): DESIGN.md's definitions,
which are PacGAN's / VEEGAN's, so the numbers compare with their tables.

- A sample is *high quality* when it lies within 3σ of its nearest mean (Euclidean distance).
- A mode is *captured* when it is the nearest mean of at least one high-quality sample.
- The published protocol draws 2500 samples (`N_SAMPLES`).

Qt-free, numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

N_SAMPLES = 2500
QUALITY_SIGMAS = 3.0


@dataclass(frozen=True)
class ModeReport:
    hq_share: float          # share of all samples that are high quality, in [0, 1]
    modes_captured: int      # modes that are the nearest mean of ≥ 1 high-quality sample
    n_modes: int
    reverse_kl: float        # KL(p ‖ uniform) of the high-quality mode histogram, in nats
    counts: np.ndarray       # (n_modes,) int64: high-quality samples per mode
    n_samples: int

    def as_dict(self) -> dict:
        return {"hq_share": self.hq_share, "modes_captured": self.modes_captured,
                "n_modes": self.n_modes, "reverse_kl": self.reverse_kl,
                "counts": self.counts.tolist(), "n_samples": self.n_samples}


def nearest_modes(samples: np.ndarray, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each sample's nearest mean and the distance to it."""
    d2 = ((samples[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    idx = d2.argmin(1)
    return idx, np.sqrt(d2[np.arange(len(samples)), idx])


def reverse_kl_to_uniform(counts: np.ndarray) -> float:
    """KL(p ‖ u) = Σ_k p_k log(K p_k) with p = counts / Σ counts and u uniform over K modes.

    This is the "reverse" direction (generated ‖ true, as PacGAN and VEEGAN report it), and in
    this direction an empty mode needs no smoothing: its p_k = 0 contributes 0 log 0 = 0, while
    the mass it lacks piles up on the other modes and raises their terms. 0 = every mode equally
    filled; log K = everything in one mode. With no high-quality sample at all p is undefined;
    we return log K, the value of total collapse, so that the worst generator scores worst.
    """
    counts = np.asarray(counts, dtype=np.float64)
    k = counts.size
    total = counts.sum()
    if k == 0:
        return 0.0
    if total == 0:
        return math.log(k)
    p = counts[counts > 0] / total
    return float(max(0.0, (p * np.log(k * p)).sum()))  # max: rounding below 0 when uniform


def mode_report(samples, means, sigma: float) -> ModeReport:
    """Mode metrics of `samples` (N, 2) for a mixture with `means` (K, 2) and std `sigma`.

    Non-finite samples (a diverged G) count as low quality.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1, 2) if np.size(samples) else \
        np.zeros((0, 2))
    mu = np.asarray(means, dtype=np.float64).reshape(-1, 2)
    if mu.shape[0] == 0:
        raise ValueError("mode_report needs at least one mean")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    finite = np.isfinite(x).all(1)
    counts = np.zeros(mu.shape[0], dtype=np.int64)
    if x.shape[0]:
        idx, dist = nearest_modes(np.where(finite[:, None], x, 0.0), mu)
        hq = finite & (dist <= QUALITY_SIGMAS * sigma)
        counts = np.bincount(idx[hq], minlength=mu.shape[0]).astype(np.int64)
    n = int(x.shape[0])
    return ModeReport(hq_share=float(counts.sum() / n) if n else 0.0,
                      modes_captured=int((counts > 0).sum()), n_modes=int(mu.shape[0]),
                      reverse_kl=reverse_kl_to_uniform(counts), counts=counts, n_samples=n)


def mixture_of(data) -> tuple[np.ndarray, float] | None:
    """(means, sigma) of a TensorData built from a Gaussian mixture, else None."""
    src = getattr(data, "source", None) or {}
    if "means" not in src or "sigma" not in src:
        return None
    return np.asarray(src["means"], dtype=np.float64).reshape(-1, 2), float(src["sigma"])


def mode_report_for(data, samples) -> ModeReport | None:
    """`mode_report` with the means and σ read from the dataset; None when it is no mixture
    (spiral, two moons, images...)."""
    mix = mixture_of(data)
    if mix is None:
        return None
    return mode_report(samples, *mix)
