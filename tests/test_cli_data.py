"""The command line on image folders and torchvision sets (issue 6): check-folder, train on the
hostile folder, then eval and sample on that run; datasets lists torchvision names."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main

HERE = Path(__file__).resolve().parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


hostile = _load("hostile", HERE / "data" / "hostile.py")
tvfake = _load("tvfake", HERE / "data" / "test_tv.py")


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("GENWORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GENWORKBENCH_DATA", str(tmp_path / "tvdata"))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "hostile"
    good, bad = hostile.build(root)
    return root, good, bad


def test_check_folder_json(capsys, hostile_dir):
    root, good, bad = hostile_dir
    code, out, err = cli(capsys, "check-folder", root, "--json", "--size", "8")
    assert code == 0, err
    d = json.loads(out)
    assert d["root"] == str(root.resolve()) and d["ok"] == len(good)
    assert d["classes"] == ["cats", hostile.DOGS]
    assert {Path(s["path"]).relative_to(root.resolve()).as_posix() for s in d["skipped"]} == bad
    assert all(s["reason"] for s in d["skipped"])
    assert d["empty_classes"] == ["empty_class", "only_bad"] and d["size"] == 8


def test_check_folder_table(capsys, hostile_dir):
    root, good, bad = hostile_dir
    code, out, err = cli(capsys, "check-folder", root)
    assert code == 0, err
    assert f"{len(good)} images loaded as 3×32×32 rgb (2 classes), {len(bad)} skipped" in out
    assert "empty_class" in out and "(empty: no usable image)" in out
    assert "cats/zero.png" in out and "empty file (0 bytes)" in out


def test_check_folder_without_images_or_path(capsys, tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"not really")
    code, out, err = cli(capsys, "check-folder", tmp_path, "--json")
    assert code == 1 and json.loads(out)["ok"] == 0
    assert err.startswith("genworkbench: error: no usable image in") and "x.jpg" in err
    code, out, err = cli(capsys, "check-folder", tmp_path / "missing")
    assert code == 1
    assert err.strip() == f"genworkbench: error: no such folder: {tmp_path / 'missing'}"
    assert "Traceback" not in err


def test_train_eval_sample_on_the_hostile_folder(capsys, hostile_dir, tmp_path):
    root, good, bad = hostile_dir
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", "vae_mlp", "--dataset", root, "--steps", "3",
                         "--batch-size", "4", "--image-size", "12", "--device", "cpu",
                         "--set", "hidden=16", "--set", "latent_dim=2", "--out", run)
    assert code == 0, err
    assert f"{len(bad)} files in {root} were skipped" in err
    meta = json.loads((run / "run.json").read_text())
    assert meta["dataset"]["folder"] == str(root.resolve())
    assert meta["dataset"]["spec"]["shape"] == [3, 12, 12]
    code, out, err = cli(capsys, "eval", run, "--json", "--device", "cpu")
    assert code == 0, err
    res = json.loads(out)
    assert res["dataset"] == "hostile" and res["n_val"] >= 2 and np.isfinite(res["val"]["loss"])
    code, out, err = cli(capsys, "sample", run, "--n", "4", "--out", tmp_path / "s.npz",
                         "--device", "cpu")
    assert code == 0, err
    assert np.load(tmp_path / "s.npz")["x"].shape == (4, 3, 12, 12)
    # --resume continues on the same folder
    code, out, err = cli(capsys, "train", "vae_mlp", "--dataset", root, "--steps", "5",
                         "--batch-size", "4", "--image-size", "12", "--device", "cpu",
                         "--out", run, "--resume")
    assert code == 0, err
    assert "resuming at step 3" in out


def test_train_ae_mlp_on_a_flat_grey_folder(capsys, tmp_path):
    from PIL import Image

    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(10):
        Image.new("L", (20, 14), 20 * i).save(folder / f"{i}.png")
    run = tmp_path / "ae"
    code, out, err = cli(capsys, "train", "ae_mlp", "--dataset", folder, "--steps", "3",
                         "--batch-size", "4", "--image-size", "8", "--device", "cpu",
                         "--out", run)
    assert code == 0, err
    meta = json.loads((run / "run.json").read_text())
    assert meta["dataset"]["spec"] == {"shape": [1, 8, 8], "num_classes": 0, "kind": "image"}
    code, out, err = cli(capsys, "eval", run, "--device", "cpu")
    assert code == 0 and "ae_mlp at step 3 on flat" in out
    # the folder changed shape since: eval says so instead of failing inside the model
    Image.new("RGB", (8, 8), (255, 0, 0)).save(folder / "red.png")
    code, out, err = cli(capsys, "eval", run, "--device", "cpu")
    assert code == 1 and "has changed since the run" in err


def test_train_bad_folder_options(capsys, tmp_path):
    code, out, err = cli(capsys, "train", "ae_mlp", "--dataset", tmp_path, "--steps", "1",
                         "--image-size", "2", "--out", tmp_path / "r")
    assert code == 1 and "image size must lie in 4..1024" in err


def test_torchvision_name_missing_and_present(capsys, tmp_path):
    root = tmp_path / "tv"
    code, out, err = cli(capsys, "train", "ae_mlp", "--dataset", "mnist", "--data-root", root,
                         "--steps", "1", "--out", tmp_path / "r0")
    assert code == 1 and "mnist is not in" in err and "--download" in err
    tvfake.write_mnist(root)
    run = tmp_path / "r1"
    code, out, err = cli(capsys, "train", "ae_mlp", "--dataset", "MNIST", "--data-root", root,
                         "--steps", "2", "--batch-size", "8", "--device", "cpu",
                         "--set", "hidden=16", "--out", run)
    assert code == 0, err
    code, out, err = cli(capsys, "eval", run, "--json", "--device", "cpu")
    assert code == 0, err
    assert json.loads(out)["n_val"] == 12


def test_datasets_lists_torchvision_with_presence(capsys, tmp_path):
    root = tmp_path / "tv"
    tvfake.write_cifar(root)
    code, out, err = cli(capsys, "datasets", "--json", "--data-root", root)
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["mnist5k"]["builtin"] is True
    assert rows["cifar10"]["present"] is True and rows["mnist"]["present"] is False
    code, out, err = cli(capsys, "datasets", "--data-root", root)
    assert "cifar10" in out and "[present]" in out and "[not downloaded" in out


def test_a_folder_of_ten_images_trains_with_the_default_batch(capsys, tmp_path):
    """A user's own small folder just works: the default batch (128) is cut to the 9 training
    images and the run says so once."""
    from PIL import Image

    folder = tmp_path / "ten"
    folder.mkdir()
    for i in range(10):
        Image.new("L", (12, 12), 25 * i).save(folder / f"{i}.png")
    code, out, err = cli(capsys, "train", "vae_mlp", "--dataset", folder, "--steps", "2",
                         "--image-size", "8", "--device", "cpu", "--out", tmp_path / "run")
    assert code == 0, err
    assert err.count("every step uses all 9") == 1
    assert json.loads((tmp_path / "run" / "run.json").read_text())["train"]["batch_size"] == 9
