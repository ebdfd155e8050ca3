"""evaluate_run / evaluate_model: the metrics each kind of model gets, with tiny untrained models
(the metrics' values on real data and noise are tested in test_metrics.py)."""

import numpy as np
import pytest
import torch

from workbench.analysis import metrics as M
from workbench.reports.evaluation import (
    DESCRIPTIONS,
    evaluate_model,
    evaluate_run,
    metric_rows,
)
from workbench.core.errors import ConfigError
from workbench.models.registry import create_model
from workbench.data import load_dataset


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def mnist():
    # 1000 training images: the Fréchet distance classifies them all on every evaluation
    d = load_dataset("mnist5k")
    return type(d)(d.name, d.spec, d.x_train[:1000], d.y_train[:1000], d.x_val, d.y_val,
                   dict(d.source), d.class_names)


@pytest.fixture(scope="module")
def classifier(mnist, tmp_path_factory):
    # a rough classifier is enough to check the plumbing, and takes a second
    return M.digit_classifier(mnist, epochs=1, n_train=1000, cache=tmp_path_factory.mktemp("c"))


def model(name, data, **over):
    torch.manual_seed(0)
    return create_model(name, data=data.spec, **over).eval()


def test_an_autoencoder_gets_validation_and_reconstruction_error_only(mnist):
    r = evaluate_model(model("ae_mlp", mnist, hidden=(32,), latent_dim=4), mnist)
    assert set(r) == {"family", "dataset", "n_val", "val", "reconstruction"}
    assert set(r["reconstruction"]) == {"mse", "bce"}
    assert 0 < r["reconstruction"]["mse"] < 1 and r["reconstruction"]["bce"] > 0
    # ae_mlp trains on BCE summed per image: its validation loss is the same number
    assert r["reconstruction"]["bce"] == pytest.approx(r["val"]["loss"], rel=1e-3)


def test_a_vae_gets_elbo_iwae_reconstruction_and_sample_metrics(mnist, classifier):
    stages = []
    r = evaluate_model(model("vae_mlp", mnist, hidden=(32,), latent_dim=4, iw_samples=5), mnist,
                       n_samples=100, classifier=classifier, progress=stages.append)
    assert {"elbo", "iwae"} <= set(r["val"])
    assert set(r["samples"]) == {"n", "classifier_score", "frechet_distance",
                                 "classes_covered", "class_histogram"}
    assert r["samples"]["n"] == 100 and len(r["samples"]["class_histogram"]) == 10
    assert sum(r["samples"]["class_histogram"]) == pytest.approx(1.0)
    assert 1 <= r["samples"]["classifier_score"] <= 10
    ref = r["reference"]
    assert ref["n"] == 100 and ref["frechet_distance"] < r["samples"]["frechet_distance"]
    assert ref["classifier_accuracy"] > 0.5
    assert any("drawing" in s for s in stages)
    # seeded: the same numbers again
    again = evaluate_model(model("vae_mlp", mnist, hidden=(32,), latent_dim=4, iw_samples=5),
                           mnist, n_samples=100, classifier=classifier)
    assert again["samples"] == r["samples"]


def test_a_conditional_gan_gets_label_accuracy_and_no_reconstruction(mnist, classifier):
    r = evaluate_model(model("cgan", mnist), mnist, n_samples=50, classifier=classifier)
    assert "reconstruction" not in r and "label_accuracy" in r["samples"]
    assert 0 <= r["samples"]["label_accuracy"] <= 1
    r0 = evaluate_model(model("cgan", mnist), mnist, n_samples=0, classifier=classifier)
    assert "samples" not in r0 and any("skipped" in n for n in r0["notes"])


def test_a_toy_gan_on_a_mixture_gets_the_mode_report():
    ring = load_dataset("ring8")
    r = evaluate_model(model("toy_gan", ring), ring, n_samples=300)
    assert set(r["modes"]) >= {"hq_share", "modes_captured", "n_modes", "reverse_kl"}
    assert r["modes"]["n_modes"] == 8 and r["modes"]["n_samples"] == 300
    assert "samples" not in r and "reconstruction" not in r


def test_points_get_mse_but_no_bce_and_unlabelled_images_say_why(mnist):
    ring = load_dataset("ring8")
    r = evaluate_model(model("ae_mlp", ring, hidden=(16,), latent_dim=2, likelihood="mse"),
                       ring)
    assert set(r["reconstruction"]) == {"mse"}
    unlabelled = type(mnist)("blank", mnist.spec, mnist.x_train[:200], None, mnist.x_val[:50],
                             None)
    r = evaluate_model(model("vae_mlp", unlabelled, hidden=(16,), latent_dim=2, iw_samples=2),
                       unlabelled, n_samples=20)
    assert "samples" not in r and any("no labels" in n for n in r["notes"])


def test_rows_cover_every_number_and_have_descriptions(mnist, classifier):
    r = evaluate_model(model("vae_mlp", mnist, hidden=(32,), latent_dim=4, iw_samples=2),
                       mnist, n_samples=40, classifier=classifier)
    rows = metric_rows(r)
    keys = [k for k, _, _ in rows]
    assert len(keys) == len(set(keys))
    assert {"val.elbo", "reconstruction.mse", "samples.frechet_distance",
            "reference.classifier_accuracy"} <= set(keys)
    assert all(k in DESCRIPTIONS for k in keys)
    covered = {k: t for k, _, t in rows}["samples.classes_covered"]
    assert covered.endswith("/ 10")
    labels = {k: label for k, label, _ in rows}  # words, not keys, in the tables
    assert labels["val.iwae"] == "validation: importance-weighted log p(x)"
    assert labels["reference.classifier_accuracy"] == "real images: classifier accuracy"
    assert all(label.split(": ")[1] != k.split(".")[1] for k, label in labels.items()
               if k.split(".")[1] not in ("loss", "elbo"))


def test_evaluate_run_reads_a_run_directory(tmp_path, mnist):
    from workbench.models.registry import get_config
    from workbench.engine.trainer import Trainer, TrainSettings

    small = type(mnist)("mnist5k", mnist.spec, mnist.x_train[:256], mnist.y_train[:256],
                        mnist.x_val, mnist.y_val, dict(mnist.source), mnist.class_names)
    t = Trainer("ae_mlp", small, TrainSettings(batch_size=32, steps=8, epochs=0, device="cpu",
                                               sample_every_s=0.0),
                config=get_config("ae_mlp", hidden=(32,), latent_dim=4), run_dir=tmp_path / "r")
    for _ in t.fit():
        pass
    r = evaluate_run(tmp_path / "r")
    assert r["run"] == str(tmp_path / "r") and r["model"] == "ae_mlp" and r["step"] == 8
    assert r["dataset"] == "mnist5k" and np.isfinite(r["reconstruction"]["mse"])
    with pytest.raises(ValueError):
        evaluate_run()
    with pytest.raises(ConfigError, match="--samples"):
        evaluate_run(tmp_path / "r", n_samples=-1)
