"""The 2-D toy GANs: points in and out, the registry's data defaults, the CLI on the toy sets, and
mode collapse of plain training against the stable recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from workbench.analysis.modes import mode_report_for
from workbench.cli import main
from workbench.core import config as C
from workbench.core.errors import ConfigError
from workbench.data.spec import DataSpec
from workbench.models.registry import create_model, get_config, get_model_info
from workbench.data import load_dataset
from workbench.engine.trainer import Trainer, TrainSettings

POINTS = DataSpec(shape=(2,), kind="points")


@pytest.mark.parametrize("name", ["toy_gan", "toy_gan_stable"])
def test_registry_declares_points_data(name):
    info = get_model_info(name)
    assert info.default_dataset == "grid25" and info.data_kinds == ("points",)
    assert info.batch_size and info.batch_size >= 64
    assert get_model_info("vae_mlp").default_dataset == "mnist5k"
    with pytest.raises(ConfigError, match="trains on points data"):
        create_model(name)  # MNIST's shape


def test_generator_is_a_plain_mlp_without_batch_norm():
    data = load_dataset("ring8")
    model = create_model("toy_gan", data.spec)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.G.modules())
    assert model.G[0].in_features == get_config("toy_gan").latent_dim
    x = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert x.shape == (7, 2) and x.dtype == torch.float32


def test_g_hidden_and_lr_decay():
    data = load_dataset("ring8")
    model = create_model("toy_gan", data.spec, hidden=(16,), g_hidden=(8, 8),
                         lr_decay_start=2, lr_decay_end=4, lr_decay_final=0.25)
    assert [m.out_features for m in model.G if isinstance(m, torch.nn.Linear)] == [8, 8, 2]
    model.setup_optimizers()
    lrs = []
    for _ in range(6):
        model.train_step(data.x_train[:16])
        lrs.append(model.optimizers["G"].param_groups[0]["lr"] / model.config.lr_g)
    assert lrs == pytest.approx([1.0, 1.0, 1.0, 0.625, 0.25, 0.25])
    with pytest.raises(ConfigError, match="lr_decay_end"):
        create_model("toy_gan", data.spec, lr_decay_start=5, lr_decay_end=5)


@pytest.mark.parametrize("dataset", ["spiral", "two_moons", "ellipse_ring"])
def test_toy_sets_are_points_without_modes(dataset):
    d = load_dataset(dataset)
    assert d.spec.kind == "points" and d.spec.shape == (2,) and d.y_train is None
    assert d.n_train == 45_000 and d.n_val == 5_000
    assert torch.isfinite(d.x_train).all() and d.x_train.abs().max() < 2.5
    assert mode_report_for(d, d.x_val.numpy()) is None
    again = load_dataset(dataset)
    assert torch.equal(d.x_train, again.x_train)  # fixed seed: the same points every time


def _player_shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()
            if k.split(".")[0] in ("G", "D", "Q")}


@pytest.mark.parametrize("name", ["toy_gan", "toy_gan_stable"])
def test_fields_that_reshape_a_player_say_so(name):
    """The GAN lab rebuilds the networks for the fields marked param(rebuild=...) and changes
    every other field in place: so no unmarked field may change a player's shape."""
    marked = C.field_metadata(get_config(name), "rebuild")
    base = _player_shapes(create_model(name, POINTS))
    tried = 0
    for spec in C.fields_of(get_config(name)):
        if spec.name in marked:
            continue
        if spec.kind == "bool":
            other = not spec.default
        elif spec.kind == "int":
            other = spec.default + 1
        elif spec.kind == "choice":
            other = next(c for c in spec.choices if c != spec.default)
        else:
            continue  # floats and lists of widths: the widths are all marked
        try:
            model = create_model(name, POINTS, **{spec.name: other})
        except ConfigError:
            continue  # e.g. arch=conv on points, or a decay that would end before it starts
        tried += 1
        assert _player_shapes(model) == base, spec.name
    assert tried >= 10


def test_cli_trains_toy_gan_on_spiral_and_samples(capsys, tmp_path):
    run = tmp_path / "run"
    code = main(["train", "toy_gan", "--dataset", "spiral", "--steps", "30", "--device", "cpu",
                 "--out", str(run), "--set", "log_every=10"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "toy_gan on spiral" in out and "finished at step 30 of 30" in out
    meta = json.loads((run / "run.json").read_text())
    assert meta["train"]["batch_size"] == get_model_info("toy_gan").batch_size  # the model's
    assert meta["dataset"]["name"] == "spiral"
    code = main(["sample", str(run), "--n", "50", "--out", str(tmp_path / "s.npz")])
    assert code == 0, capsys.readouterr().err
    with np.load(tmp_path / "s.npz") as f:
        assert f["x"].shape == (50, 2) and f["x"].dtype == np.float32
    code = main(["eval", str(run), "--json"])
    assert code == 0


def test_cli_refuses_a_toy_gan_on_images(capsys, tmp_path):
    code = main(["train", "toy_gan", "--dataset", "mnist5k", "--steps", "1", "--device", "cpu",
                 "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1
    assert err[0].startswith("genworkbench: error: toy_gan trains on points data")
    assert not (tmp_path / "r" / "run.json").exists()


def _train_and_score(name: str, steps: int, seed: int = 0, **overrides):
    """Train on grid25 through the Trainer (as the CLI does) and score 2500 samples."""
    data = load_dataset("grid25")
    info = get_model_info(name)
    settings = TrainSettings(batch_size=info.batch_size, steps=steps, epochs=0, seed=seed,
                             device="cpu", sample_every_s=0.0, checkpoint_every=0,
                             log_every=100, val_every=10 * steps)
    trainer = Trainer(name, data, settings, config=get_config(name, **overrides))
    for _ in trainer.fit():
        pass
    with torch.no_grad():
        x = trainer.model.eval().sample(2500, generator=torch.Generator().manual_seed(1))
    return mode_report_for(data, x.numpy())


def test_plain_gan_loses_modes_on_grid25_while_the_stable_recipe_keeps_them():
    """A short run (1200 steps, about 20 s of CPU; the stable recipe's learning-rate decay is
    squeezed into it, its default 4000 steps being too long for a test), with loose bounds: a
    mode counts as kept when it holds at least a fifth of its fair share (2500 / 25) of
    high-quality samples. At 900 steps we measured plain 18 modes touched, 0 kept, 1.9 % high
    quality; stable 24, 15 kept, 28 %."""
    steps = 1200
    plain = _train_and_score("toy_gan", steps)
    stable = _train_and_score("toy_gan_stable", steps, lr_decay_start=steps // 2,
                              lr_decay_end=steps)
    fair = 2500 / 25

    def kept(r):
        return int((r.counts >= 0.2 * fair).sum())

    assert stable.modes_captured >= 23 and kept(stable) >= 15, stable
    assert plain.modes_captured <= 23, plain
    assert kept(plain) <= kept(stable) - 8, (plain, stable)
    assert plain.hq_share < stable.hq_share - 0.15, (plain, stable)
