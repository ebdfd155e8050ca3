"""Every offline metric a model's kind allows, in one dict: `genworkbench eval` prints it and the
GUI's metrics panel shows it (one column per run).

- all models: the validation losses (a VAE's ELBO, and the importance-weighted log p(x) bound);
- models that reconstruct (AEs, VAEs): reconstruction error on the validation set, per image;
- models that sample on a labelled image set: classifier score, Fréchet distance to the real
  training set and class histogram, measured with the dataset's small classifier (metrics.py),
  next to the same numbers for real held-out images, so a value can be read against what real
  data scores with the same classifier and the same number of images;
- models that sample 2-D points from a Gaussian mixture (ring8, grid25): the mode report.

What does not apply is left out and said in `notes`, never filled with a placeholder.
Qt-free; `progress(text)` reports the stage (the classifier's first training takes a while).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from workbench.analysis import metrics as M
from workbench.analysis.anomaly import reconstruction_errors
from workbench.analysis.modes import N_SAMPLES, mixture_of, mode_report
from workbench.core.device import resolve_device
from workbench.core.errors import ConfigError
from workbench.data import load_described
from workbench.engine.runs import RunDir
from workbench.engine.trainer import evaluate

DEFAULT_IMAGE_SAMPLES = 1000

# Shown beside each number (the CLI's text output and the GUI's tooltips): what it is, which way
# is better.
DESCRIPTIONS = {
    "val.loss": "validation loss (lower is better)",
    "val.recon": "reconstruction term of the loss, nats per image (lower is better)",
    "val.kl": "KL(q(z|x) ‖ p(z)), nats per image",
    "val.elbo": "evidence lower bound on log p(x), nats per image (higher is better)",
    "val.iwae": "importance-weighted bound on log p(x), nats per image (higher, tighter)",
    "reconstruction.mse": "mean squared error per pixel of the validation reconstructions "
                          "(lower is better)",
    "reconstruction.bce": "binary cross-entropy summed over an image's pixels, nats (lower is "
                          "better)",
    "samples.classifier_score": "exp(E KL(p(y|x) ‖ p(y))) of the samples: 1 = one class or "
                                "unsure, up to the number of classes (higher is better)",
    "samples.frechet_distance": "Fréchet distance between the classifier's features of the "
                                "samples and of the real training images (lower is better)",
    "samples.label_accuracy": "share of samples the classifier assigns to the label they were "
                              "drawn for (conditional models; higher is better)",
    "samples.classes_covered": "classes predicted for at least 1% of the samples",
    "samples.class_histogram": "share of samples predicted as each class",
    "reference.classifier_score": "the same score for real held-out images: the ceiling",
    "reference.frechet_distance": "the same distance for real held-out images: the floor for "
                                  "this number of images",
    "reference.classifier_accuracy": "the classifier's accuracy on the held-out images: how far "
                                     "to trust the classifier metrics",
    "modes.hq_share": "share of samples within 3σ of a mode (higher is better)",
    "modes.modes_captured": "modes that hold at least one high-quality sample",
    "modes.reverse_kl": "KL(mode histogram ‖ uniform), nats (0 = every mode equally filled)",
}


# Features of the real training images under the cached classifier: comparing runs on one
# dataset classifies them once (4500 MNIST images take seconds on one core).
_REAL_FEATURES: dict[str, np.ndarray] = {}


def _say(progress, text: str) -> None:
    if progress is not None:
        progress(text)


@torch.inference_mode()
def _draw(model, n: int, seed: int, batch: int = 500):
    """n samples (CPU float) and the labels they were drawn for (conditional models), from a
    seeded generator so a second evaluation draws the same samples."""
    g = torch.Generator().manual_seed(seed)
    labels = model.cycling_labels(n)
    xs = []
    for a in range(0, n, batch):
        lab = None if labels is None else labels[a:a + batch]
        xs.append(model.sample(min(batch, n - a), labels=lab, generator=g).float().cpu())
    return torch.cat(xs), (None if labels is None else labels.cpu().numpy())


def evaluate_model(model, data, n_samples: int | None = None, seed: int = 0, *,
                   classifier=None, progress: Callable[[str], None] | None = None) -> dict:
    """The metrics of `model` (on its device, any mode) against `data` (a TensorData on the same
    device). `n_samples` None: 2500 for mixtures (the published protocol), else as many as the
    validation images, at most 1000."""
    if n_samples is not None and n_samples < 0:
        raise ConfigError("--samples must be 0 or more")
    device = model.device
    model.eval()
    notes: list[str] = []
    out: dict = {"family": model.family, "dataset": data.name, "n_val": data.n_val}

    _say(progress, "validation losses")
    out["val"] = evaluate(model, data, device, seed=seed, full=True)

    image = data.spec.kind == "image"
    if model.can("reconstruct"):
        if model.conditional:
            notes.append("reconstruction error is measured with the true labels given")
        _say(progress, "reconstruction error")
        with torch.inference_mode():
            if model.conditional:
                r = torch.cat([model.reconstruct(data.x_val[a:a + 500], data.y_val[a:a + 500])
                               for a in range(0, data.n_val, 500)]).float()
                x = data.x_val.float()
                if image:
                    r = r.clamp(0, 1)
                mse = (r - x).pow(2).flatten(1).mean(1).double().cpu().numpy()
                bce = None
                if image:
                    rc = r.clamp(1e-6, 1 - 1e-6)
                    bce = (-(x * rc.log() + (1 - x) * (1 - rc).log())).flatten(1).sum(1) \
                        .double().cpu().numpy()
            else:
                mse = reconstruction_errors(model, data.x_val, "mse")
                bce = reconstruction_errors(model, data.x_val, "bce") if image else None
        out["reconstruction"] = {"mse": float(mse.mean())}
        if bce is not None:
            out["reconstruction"]["bce"] = float(bce.mean())

    if model.can("sample"):
        mix = mixture_of(data) if not image else None
        if image and data.y_train is not None and data.spec.num_classes >= 2:
            # by default as many as the held-out images: the Fréchet distance depends on the
            # count, so the samples' and the real reference's values then compare directly
            n = min(DEFAULT_IMAGE_SAMPLES, data.n_val) if n_samples is None else n_samples
            if n < 2:
                notes.append("sample metrics skipped (--samples below 2)")
            else:
                key = None
                if classifier is None:
                    path = M.classifier_cache_path(data)
                    key = str(path)
                    _say(progress, f"loading the {data.name} classifier" if path.exists() else
                         f"training the {data.name} classifier (once per dataset, then cached)")
                    classifier = M.digit_classifier(data)
                _say(progress, f"drawing and classifying {n} samples")
                x, labels = _draw(model, n, seed)
                probs, feats = M.predict(classifier, x)
                real = _REAL_FEATURES.get(key) if key is not None else None
                if real is None:
                    _say(progress, f"features of the {data.n_train} real training images")
                    _, real = M.predict(classifier, data.x_train)
                    if key is not None:  # the path names the classifier and the data's hash
                        _REAL_FEATURES.clear()
                        _REAL_FEATURES[key] = real
                hist = M.class_histogram(probs)
                s = {"n": n, "classifier_score": M.classifier_score(probs),
                     "frechet_distance": M.frechet_distance(feats, real),
                     "classes_covered": int((hist >= 0.01).sum()),
                     "class_histogram": hist.tolist()}
                if labels is not None:
                    s["label_accuracy"] = float((probs.argmax(1) == labels).mean())
                out["samples"] = s
                vp, vf = M.predict(classifier, data.x_val[:n])
                out["reference"] = {
                    "n": len(vp), "classifier_score": M.classifier_score(vp),
                    "frechet_distance": M.frechet_distance(vf, real),
                    "classifier_accuracy": float(
                        (vp.argmax(1) == data.y_val[:n].cpu().numpy()).mean())}
                if len(vp) < n:
                    notes.append(f"the real reference uses all {len(vp)} held-out images; "
                                 f"the Fréchet distance shrinks as the count grows, so compare "
                                 "at equal counts")
        elif image:
            notes.append(f"{data.name} has no labels: the classifier metrics need a labelled "
                         "image set")
        elif mix is not None:
            n = N_SAMPLES if n_samples is None else n_samples
            _say(progress, f"mode report on {n} samples")
            x, _ = _draw(model, n, seed)
            out["modes"] = mode_report(x.numpy(), *mix).as_dict()
        else:
            notes.append(f"{data.name} is not a Gaussian mixture: no mode report")
    if notes:
        out["notes"] = notes
    return out


def evaluate_run(run_dir: Path | str | None = None, n_samples: int | None = None,
                 seed: int | None = None, *, model=None, data=None, name: str = "",
                 device: str = "cpu", data_root=None, classifier=None,
                 progress: Callable[[str], None] | None = None) -> dict:
    """`evaluate_model` for a run directory's newest checkpoint (its dataset reloaded from
    run.json, its seed as default), or for a given `model` and `data`. The dict adds run,
    model, step and, for a run, load warnings."""
    dev = resolve_device(device)
    head: dict = {}
    if run_dir is not None:
        run = RunDir.open(Path(run_dir))
        _say(progress, "loading the checkpoint")
        model = run.load_model(dev)
        _say(progress, "loading the dataset")
        data = load_described(run.meta["dataset"], data_root=data_root)
        seed = int(run.meta.get("seed", 0)) if seed is None else seed
        head = {"run": str(run.path), "model": run.model_name, "step": model.loaded_step}
        if model.load_warnings:
            head["warnings"] = list(model.load_warnings)
    elif model is None or data is None:
        raise ValueError("evaluate_run needs a run directory, or a model and its data")
    else:
        model = model.to(dev)
        head = {"run": None, "model": name or type(model).__name__,
                "step": getattr(model, "loaded_step", None)}
    result = evaluate_model(model, data.to(dev), n_samples, 0 if seed is None else seed,
                            classifier=classifier, progress=progress)
    return {**head, **result}


# How a row reads in a table (the window's Metrics tab, `genworkbench eval`): words, not keys.
SECTION_LABELS = {"val": "validation", "reconstruction": "reconstruction", "samples": "samples",
                  "reference": "real images", "modes": "modes"}
NAME_LABELS = {"loss": "loss", "recon": "reconstruction term", "kl": "KL to the prior",
               "elbo": "ELBO", "iwae": "importance-weighted log p(x)", "mse": "mean squared error",
               "bce": "binary cross-entropy", "classifier_score": "classifier score",
               "frechet_distance": "classifier-FD", "label_accuracy": "label accuracy",
               "classes_covered": "classes covered", "class_histogram": "classes",
               "classifier_accuracy": "classifier accuracy", "hq_share": "high-quality share",
               "modes_captured": "modes captured", "reverse_kl": "reverse KL to uniform"}


def metric_rows(result: dict) -> list[tuple[str, str, str]]:
    """(key, label, value as text) for each number in an evaluation, in a stable order: the
    rows of the CLI's text output and of the GUI's table. Keys are "section.name"."""
    rows = []
    for section in ("val", "reconstruction", "samples", "reference", "modes"):
        block = result.get(section)
        if not block:
            continue
        for name, v in block.items():
            if name in ("n", "counts", "n_samples", "n_modes"):
                continue
            key = f"{section}.{name}"
            if name == "class_histogram":
                text = "  ".join(f"{k}: {100 * p:.0f} %" for k, p in enumerate(v))
            elif name == "modes_captured":
                text = f"{v} / {block['n_modes']}"
            elif name == "classes_covered":
                text = f"{v} / {len(block['class_histogram'])}"
            elif isinstance(v, float):
                text = f"{v:.4g}"
            else:
                text = str(v)
            label = NAME_LABELS.get(name, name.replace("_", " "))
            if section == "samples" and "n" in block:
                label += f" ({block['n']} samples)" if name in (
                    "classifier_score", "frechet_distance") else ""
            elif section == "reference" and "n" in block:
                label += f" ({block['n']} real images)" if name in (
                    "classifier_score", "frechet_distance") else ""
            rows.append((key, f"{SECTION_LABELS.get(section, section)}: {label}", text))
    return rows
