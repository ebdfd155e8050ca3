"""Anomaly detection by reconstruction error.

An autoencoder trained on normal data reconstructs normal inputs well and unusual ones badly, so
the per-image reconstruction error is an anomaly score. `score_set` scores every validation
image of a trained model and measures how well the score separates one class from the rest
(the lecture's "train without digit k, score all digits"; experiments/holdout.py trains): the
ROC curve and its AUC, computed here in numpy with ties handled (a block of equal scores moves
the curve diagonally, which makes the AUC the Mann-Whitney statistic with ties counted as one
half).

Pure: never trains. The CLI (`genworkbench anomaly`), the GUI's anomaly panel and the tests use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from workbench.core.errors import ConfigError, DatasetError

ERROR_KINDS = ("mse", "bce")


# == scores ========================================================================================
@torch.inference_mode()
def reconstruction_errors(model, x, kind: str = "mse", batch_size: int = 500) -> np.ndarray:
    """Per-example reconstruction error of `model` (in eval mode, no labels) on x: (N,) float64.

    mse: mean squared error per pixel (or coordinate) of the reconstruction in data space;
    bce: binary cross-entropy summed over the pixels of an image (nats; images only).
    A VAE reconstructs from its posterior mean, so the score is deterministic."""
    if kind not in ERROR_KINDS:
        raise ConfigError(f"unknown error kind {kind!r}; choose one of {', '.join(ERROR_KINDS)}")
    if kind == "bce" and model.data.kind != "image":
        raise ConfigError("bce needs images in [0, 1]; use mse for points")
    if not model.can("reconstruct"):
        raise ConfigError(f"{type(model).__name__} cannot reconstruct (a GAN has no encoder): "
                          "reconstruction errors need an autoencoder or a VAE")
    if model.conditional:
        raise ConfigError("a conditional model needs the label to reconstruct, which an anomaly "
                          "score must not know; use an unconditional AE or VAE")
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x)
    out = []
    dev = model.device
    for chunk in x.split(batch_size):
        c = chunk.float().to(dev)
        r = model.reconstruct(c).float().clamp(0.0, 1.0) if model.data.kind == "image" \
            else model.reconstruct(c).float()
        if kind == "mse":
            e = (r - c).pow(2).flatten(1).mean(1)
        else:
            r = r.clamp(1e-6, 1 - 1e-6)  # a saturated sigmoid must not give an infinite score
            e = -(c * r.log() + (1 - c) * (1 - r).log()).flatten(1).sum(1)
        out.append(e.double().cpu())
    return torch.cat(out).numpy() if out else np.zeros(0)


def roc_curve(scores, positive) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds) of "score ≥ t means positive".

    The curve starts at (0, 0) and ends at (1, 1); there is one point per distinct score, so a
    block of tied scores is one diagonal step rather than an order-dependent staircase."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    p = np.asarray(positive, dtype=bool).ravel()
    if s.shape != p.shape:
        raise ValueError(f"{s.size} scores but {p.size} labels")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    n_pos, n_neg = int(p.sum()), int((~p).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("a ROC curve needs both positive and negative examples")
    order = np.argsort(-s, kind="mergesort")
    s, p = s[order], p[order]
    last_of_block = np.r_[s[1:] != s[:-1], True]  # cut only between distinct scores
    tp = np.cumsum(p)[last_of_block]
    fp = np.cumsum(~p)[last_of_block]
    tpr = np.r_[0.0, tp / n_pos]
    fpr = np.r_[0.0, fp / n_neg]
    thresholds = np.r_[np.inf, s[last_of_block]]
    return fpr, tpr, thresholds


def auc(fpr, tpr) -> float:
    """Area under a curve given by its points (trapezoids)."""
    x, y = np.asarray(fpr, np.float64), np.asarray(tpr, np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def roc_auc(scores, positive) -> float:
    """AUC of the ROC curve: the probability that a random positive scores above a random
    negative, ties counting one half."""
    return auc(*roc_curve(scores, positive)[:2])


def error_histogram(errors, anomalous=None, bins: int = 40):
    """Shared bin edges and the counts of normal and anomalous examples in each bin:
    (edges (bins+1,), normal counts, anomalous counts). `anomalous` None = all normal."""
    e = np.asarray(errors, np.float64)
    a = np.zeros(e.shape, bool) if anomalous is None else np.asarray(anomalous, bool)
    lo, hi = (float(e.min()), float(e.max())) if e.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1e-9
    edges = np.linspace(lo, hi, bins + 1)
    return (edges, np.histogram(e[~a], edges)[0], np.histogram(e[a], edges)[0])


def worst(errors, k: int = 16) -> np.ndarray:
    """Indices of the k largest errors, largest first."""
    e = np.asarray(errors)
    return np.argsort(-e, kind="mergesort")[:k]


# == the set-up: score a set, with one class as the anomaly ==========================================
@dataclass
class AnomalyResult:
    errors: np.ndarray        # (N,) reconstruction error of each scored image
    labels: np.ndarray | None  # (N,) class of each image
    images: np.ndarray        # (N, C, H, W) the scored images (float32 in [0, 1])
    holdout: int | None       # the anomalous class, or None (just a histogram)
    kind: str                 # "mse" | "bce"
    model: str = ""
    dataset: str = ""
    steps: int = 0
    class_names: tuple[str, ...] = ()
    fpr: np.ndarray | None = None
    tpr: np.ndarray | None = None
    auc: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def anomalous(self) -> np.ndarray | None:
        if self.holdout is None or self.labels is None:
            return None
        return self.labels == self.holdout

    def per_class_mean(self) -> dict[str, float]:
        if self.labels is None:
            return {}
        names = self.class_names or tuple(str(k) for k in range(int(self.labels.max()) + 1))
        return {names[k]: float(self.errors[self.labels == k].mean())
                for k in np.unique(self.labels)}

    def as_dict(self, roc: bool = True) -> dict:
        a = self.anomalous
        d = {"model": self.model, "dataset": self.dataset, "holdout": self.holdout,
             "steps": self.steps, "error": self.kind, "auc": self.auc,
             "n_normal": int(len(self.errors) - (0 if a is None else a.sum())),
             "n_anomalous": int(0 if a is None else a.sum()),
             "mean_error_normal": float(self.errors[~a].mean()) if a is not None
             else float(self.errors.mean()),
             "mean_error_anomalous": float(self.errors[a].mean()) if a is not None else None,
             "per_class_mean_error": self.per_class_mean(),
             "worst": worst(self.errors).tolist()}
        if roc and self.fpr is not None:
            d["roc"] = {"fpr": self.fpr.tolist(), "tpr": self.tpr.tolist()}
        if self.notes:
            d["notes"] = list(self.notes)
        return d


def score_set(model, data, holdout: int | None = None, kind: str = "mse",
              split: str = "val") -> AnomalyResult:
    """Reconstruction errors of `model` on a split of `data`; with `holdout`, the ROC curve and
    AUC of the error as a detector of that class."""
    x, y = (data.x_val, data.y_val) if split == "val" else (data.x_train, data.y_train)
    errors = reconstruction_errors(model, x, kind)
    labels = None if y is None else y.cpu().numpy().astype(np.int64)
    res = AnomalyResult(errors, labels, x.cpu().numpy(), holdout, kind,
                        dataset=data.name, class_names=tuple(data.class_names))
    if holdout is not None:
        if labels is None:
            raise DatasetError(f"{data.name} has no labels: there is no class to hold out")
        pos = labels == holdout
        if pos.all() or not pos.any():
            raise DatasetError(f"the {split} split needs images of class {holdout} and of others")
        res.fpr, res.tpr, _ = roc_curve(errors, pos)
        res.auc = auc(res.fpr, res.tpr)
    return res
