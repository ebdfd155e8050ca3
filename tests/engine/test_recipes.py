"""Recipe files: TOML/JSON round trips, errors that name the key, and a run repeated exactly."""

from __future__ import annotations

import json
import tomllib

import pytest

from workbench.cli import main
from workbench.core.errors import ConfigError
from workbench.engine.recipes import (Recipe, load_recipe, save_recipe,
                                         to_toml)
from workbench.engine.runs import RunDir

EXP = """
model = "ae_mlp"
dataset = "mnist5k"
seed = 7
steps = 6
batch_size = 32

[config]
hidden = [16]
latent_dim = 4

[train]
log_every = 2
device = "cpu"
"""


def test_toml_writer_round_trips():
    d = {"a": 1, "b": 1e-5, "c": "x \"quoted\" \\ ü\n", "d": [1, 2], "e": True, "f": None,
         "g": float("inf"), "t": {"x": 0.1, "odd key": [0.5, "s"], "sub": {"y": 2}}}
    back = tomllib.loads(to_toml(d))
    assert back == {k: v for k, v in d.items() if k != "f"}


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_save_and_load(tmp_path, suffix):
    exp = Recipe("vae_mlp", "mnist5k", {"latent_dim": 2, "hidden": [64]},
                     {"seed": 3, "steps": 100, "epochs": 0, "batch_size": 64})
    path = save_recipe(exp, tmp_path / f"e{suffix}")
    back = load_recipe(path)
    assert (back.model, back.dataset, back.config, back.train) == \
        (exp.model, exp.dataset, exp.config, exp.train)
    cfg, s = back.model_config(), back.settings()
    assert cfg.latent_dim == 2 and cfg.hidden == (64,)
    assert (s.seed, s.steps, s.epochs, s.batch_size) == (3, 100, 0, 64)


@pytest.mark.parametrize("text, match", [
    ('model = "ae_mlp"\ndataset = "mnist5k"\nstepz = 3\n', "unknown key 'stepz'"),
    ('model = "ae_mlp"\n', "missing key 'dataset'"),
    ('model = "nope"\ndataset = "mnist5k"\n', "nope"),
    ('model = "ae_mlp"\ndataset = "mnist5k"\n[config]\nlatent_dimm = 2\n', "latent_dimm"),
    ('model = "ae_mlp"\ndataset = "mnist5k"\n[config]\nlatent_dim = -2\n', "latent_dim"),
    ('model = "ae_mlp"\ndataset = "mnist5k"\n[train]\nbatchsize = 2\n', "batchsize"),
    ('model = "ae_mlp"\ndataset = "mnist5k"\nseed = 1\n[train]\nseed = 2\n', "'seed' is set both"),
    ('model = "ae_mlp"\ndataset = \n', "not valid TOML"),
])
def test_errors_name_the_bad_key(tmp_path, text, match):
    f = tmp_path / "e.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_recipe(f)


def test_other_suffixes_and_missing_files(tmp_path):
    with pytest.raises(ConfigError, match=r"\.toml or \.json"):
        load_recipe(tmp_path / "e.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(tmp_path / "e.toml")


def _values(run_dir):
    return [{k: v for k, v in r.items() if k != "time"} for r in RunDir.open(run_dir).read_metrics()]


def test_the_same_file_reproduces_the_metrics_exactly(tmp_path, capsys):
    f = tmp_path / "e.toml"
    f.write_text(EXP)
    # --experiment and --save-experiment: the flags' names before recipes had their own word
    assert main(["train", "--experiment", str(f), "--out", str(tmp_path / "a"),
                 "--save-experiment", str(tmp_path / "again.json")]) == 0
    assert main(["train", "--recipe", str(f), "--out", str(tmp_path / "b")]) == 0
    a, b = _values(tmp_path / "a"), _values(tmp_path / "b")
    assert len([r for r in a if "loss" in r]) == 3 and a == b
    meta = RunDir.open(tmp_path / "a").meta
    assert meta["seed"] == 7 and meta["config"]["hidden"] == [16]
    assert meta["train"]["batch_size"] == 32 and meta["train"]["steps"] == 6

    # the file written from the run repeats it too, and flags still override the file
    assert main(["train", "--recipe", str(tmp_path / "again.json"),
                 "--out", str(tmp_path / "c")]) == 0
    assert _values(tmp_path / "c") == a
    assert main(["recipe", str(tmp_path / "a"), "--out", str(tmp_path / "x.toml")]) == 0
    assert load_recipe(tmp_path / "x.toml").train["seed"] == 7
    assert main(["train", "--recipe", str(f), "--out", str(tmp_path / "d"), "--seed", "8",
                 "--steps", "2", "--set", "latent_dim=3"]) == 0
    meta = RunDir.open(tmp_path / "d").meta
    assert (meta["seed"], meta["train"]["steps"], meta["config"]["latent_dim"]) == (8, 2, 3)


def test_cli_errors_are_one_line(tmp_path, capsys):
    f = tmp_path / "e.json"
    f.write_text(json.dumps({"model": "ae_mlp", "dataset": "mnist5k", "train": {"sed": 1}}))
    assert main(["train", "--recipe", str(f), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("genworkbench: error:") and "'sed'" in err and "\n" not in err
    f.write_text(json.dumps({"model": "ae_mlp", "dataset": "mnist5k"}))
    assert main(["train", "vae_mlp", "--recipe", str(f)]) == 1
    assert "not vae_mlp" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "r")]) == 1
    assert "name a model" in capsys.readouterr().err
    for command in ("recipe", "experiment"):  # the subcommand's old name still works
        assert main([command, str(tmp_path / "nothing"), "--out", str(tmp_path / "x.toml")]) == 1
        assert "not a run directory" in capsys.readouterr().err
