"""The fixed train/validation split every dataset uses: the same held-out images for every run
and every session."""

from __future__ import annotations

VAL_FRACTION = 0.1
SPLIT_SEED = 20240611  # fixed: the same validation digits for every run and every session


def stratified_split(y, val_fraction: float = VAL_FRACTION, seed: int = SPLIT_SEED):
    """Indices (train, val) with the same share of every class in validation, fixed by `seed`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        k = max(1, int(round(len(idx) * val_fraction)))
        val.append(idx[:k])
        train.append(idx[k:])
    train, val = np.concatenate(train), np.concatenate(val)
    rng.shuffle(train)
    rng.shuffle(val)
    return train, val
