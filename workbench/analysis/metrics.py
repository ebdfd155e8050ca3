"""Sample quality on labelled image sets, measured with a small digit classifier.

`digit_classifier(data)` trains a compact CNN on the dataset's training images (once: the weights
are cached on disk as safetensors, keyed by the dataset name, a hash of its training data and
CLASSIFIER_VERSION). With it:

- `classifier_score(probs)`: exp(E_x KL(p(y|x) ‖ p(y))), the "inception score" computed with this
  classifier: 1 when every image gets the same prediction, up to the number of classes when every
  image is confidently one class and the classes are balanced;
- `frechet_distance(feat_a, feat_b)`: the Fréchet distance between Gaussians fitted to the
  classifier's penultimate features (the FID recipe, with this classifier instead of Inception);
- `class_histogram(probs)`: how often each class is predicted (mode coverage at a glance).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn
from torch.nn import functional as F

from workbench.core.atomic import atomic_write_bytes
from workbench.core.paths import cache_dir  # noqa: F401  (re-exported: bench/zoo.py names it)

CLASSIFIER_VERSION = "digitcnn-1"
FEATURE_DIM = 64


class DigitClassifier(nn.Module):
    """Two conv layers, a FEATURE_DIM-wide penultimate layer (`features`) and a linear head."""

    def __init__(self, in_channels: int = 1, size: int = 28, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * (size // 4) ** 2, FEATURE_DIM)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))




def _data_key(data, epochs: int, n_train: int | None) -> str:
    h = hashlib.sha256(f"{CLASSIFIER_VERSION}|{epochs}|{n_train}".encode())
    for t in (data.x_train, data.y_train):
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _fit(data, epochs: int, n_train: int | None, seed: int = 0) -> DigitClassifier:
    x, y = data.x_train.float().cpu(), data.y_train.cpu()
    if n_train is not None:
        x, y = x[:n_train], y[:n_train]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitClassifier(x.shape[1], x.shape[-1], data.spec.num_classes)
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=3e-3, total_steps=epochs * ((len(x) + 63) // 64))
        model.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(x)).split(64):
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return model.eval()


def classifier_cache_path(data, epochs: int = 6, n_train: int | None = None,
                          cache: Path | None = None) -> Path:
    """Where `digit_classifier` keeps the weights for these arguments (exists = no training)."""
    return Path(cache or cache_dir()) / "classifiers" / (
        f"{data.name}-{_data_key(data, epochs, n_train)}.safetensors")


def digit_classifier(data, epochs: int = 6, n_train: int | None = None,
                     cache: Path | None = None) -> DigitClassifier:
    """The classifier for a labelled image TensorData: loaded from the cache, else trained (on
    the CPU, `epochs` passes over the first `n_train` training images) and cached. A cache file
    that cannot be read is replaced, not trusted."""
    if data.y_train is None:
        raise ValueError(f"dataset {data.name!r} has no labels: cannot train a classifier")
    path = classifier_cache_path(data, epochs, n_train, cache)
    model = DigitClassifier(data.spec.shape[0], data.spec.shape[-1], data.spec.num_classes)
    if path.exists():
        try:
            model.load_state_dict(load_file(path))
            return model.eval()
        except (SafetensorError, OSError, RuntimeError, ValueError):
            pass  # corrupt or stale: retrain below
    model = _fit(data, epochs, n_train)
    atomic_write_bytes(path, save({k: v.contiguous() for k, v in model.state_dict().items()}))
    return model


@torch.inference_mode()
def predict(classifier: DigitClassifier, images, batch_size: int = 500):
    """(probabilities N×K, features N×FEATURE_DIM) as float64 numpy arrays."""
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    probs, feats = [], []
    for chunk in x.float().cpu().split(batch_size):
        f = classifier.features(chunk)
        probs.append(F.softmax(classifier.head(f), dim=1))
        feats.append(f)
    return torch.cat(probs).double().numpy(), torch.cat(feats).double().numpy()


def classifier_score(probs) -> float:
    """exp(E_x KL(p(y|x) ‖ p(y))) with p(y) the mean prediction over the set."""
    p = np.asarray(probs, dtype=np.float64)
    eps = 1e-12
    marginal = p.mean(axis=0, keepdims=True)
    kl = (p * (np.log(p + eps) - np.log(marginal + eps))).sum(axis=1)
    return float(np.exp(kl.mean()))


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative eigenvalues from
    round-off are clipped to 0)."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(feat_a, feat_b) -> float:
    """‖μa − μb‖² + tr(Ca + Cb − 2 (Ca^½ Cb Ca^½)^½) between Gaussians fitted to two feature
    sets (rows are examples). The symmetric form keeps the matrix root real and stable."""
    a = np.asarray(feat_a, dtype=np.float64)
    b = np.asarray(feat_b, dtype=np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    ra = _sqrt_psd(ca)
    cross = np.trace(_sqrt_psd(ra @ cb @ ra))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * cross)


def class_histogram(probs) -> np.ndarray:
    """Fraction of the set predicted as each class (argmax)."""
    p = np.asarray(probs)
    return np.bincount(p.argmax(axis=1), minlength=p.shape[1]) / max(len(p), 1)


def evaluate_samples(images, data, classifier: DigitClassifier | None = None,
                     reference: str = "train") -> dict:
    """Classifier score, class histogram and Fréchet distance to the real `reference` images
    ("train" or "val") of a set of N×C×H×W images in [0, 1]."""
    classifier = classifier or digit_classifier(data)
    probs, feats = predict(classifier, images)
    _, real = predict(classifier, data.x_train if reference == "train" else data.x_val)
    return {"classifier_score": classifier_score(probs),
            "frechet_distance": frechet_distance(feats, real),
            "class_histogram": class_histogram(probs).tolist(), "n": int(len(probs))}
