"""The `genworkbench` command, called in-process (`workbench.cli.main([...])`) for speed, plus two
subprocess checks of `python -m workbench`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.cli import main

REPO = Path(__file__).resolve().parents[1]


def cli(capsys, *argv):
    """Run the command; return (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(capsys, *argv, match: str | None = None) -> str:
    code, out, err = cli(capsys, *argv)
    assert code != 0, (argv, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("genworkbench: error: "), err
    assert "Traceback" not in err + out
    if match is not None:
        assert match in lines[0], lines[0]
    return lines[0]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "vae"
    assert main(["train", "vae_mlp", "--dataset", "mnist5k", "--steps", "20", "--batch-size",
                 "32", "--device", "cpu", "--out", str(out), "--set", "hidden=64",
                 "--set", "latent_dim=4"]) == 0
    return out


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "ae"
    assert main(["train", "ae_mlp", "--dataset", "mnist5k", "--steps", "3", "--batch-size",
                 "16", "--device", "cpu", "--out", str(out), "--set", "hidden=32"]) == 0
    return out


# -- models / datasets ---------------------------------------------------------------------------
def test_models_text(capsys):
    from workbench.models.registry import list_models

    code, out, err = cli(capsys, "models")
    assert code == 0 and err == ""
    first_words = [line.split()[0] for line in out.strip().splitlines()]
    assert first_words == list_models()


def test_models_pattern_and_verbose(capsys):
    code, out, _ = cli(capsys, "models", "vae*", "-v")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines() if line and not line[0].isspace()]
    assert names == ["vae_conv", "vae_mlp"]
    assert "beta=1.0" in out and "latent_dim=" in out


def test_models_json(capsys):
    from workbench.models.registry import list_models

    code, out, _ = cli(capsys, "models", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == list_models()
    for r in rows:
        assert {"name", "family", "description", "config"} <= set(r)
        assert r["description"]
        assert r["config"], r["name"]
        for f in r["config"]:
            assert {"name", "kind", "default", "help", "min", "max", "choices"} <= set(f)
    vae = {r["name"]: r for r in rows}["vae_mlp"]
    assert vae["family"] == "vae"
    fields = {f["name"]: f for f in vae["config"]}
    assert fields["latent_dim"]["default"] == 20 and fields["latent_dim"]["min"] == 1
    assert fields["likelihood"]["choices"] == ["bce", "mse"]
    assert fields["hidden"]["default"] == [400]
    assert "sample" in vae["capabilities"]
    assert "sample" not in {r["name"]: r for r in rows}["ae_mlp"]["capabilities"]


def test_datasets_json(capsys):
    code, out, _ = cli(capsys, "datasets", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert {"mnist5k", "ring8", "grid25"} <= set(rows)
    assert rows["mnist5k"]["kind"] == "image" and rows["ring8"]["kind"] == "points"
    code, out, _ = cli(capsys, "datasets")
    assert code == 0 and "mnist5k" in out and "grid25" in out


# -- train / sample / eval -----------------------------------------------------------------------
def test_train_writes_a_run(vae_run):
    meta = json.loads((vae_run / "run.json").read_text())
    assert meta["model"] == "vae_mlp"
    assert meta["config"]["hidden"] == [64] and meta["config"]["latent_dim"] == 4
    assert meta["dataset"]["name"] == "mnist5k"
    records = [json.loads(line) for line in (vae_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [10, 20]
    assert (vae_run / "checkpoints" / "step-00000020.safetensors").exists()
    assert (vae_run / "samples" / "samples-step-00000020.png").exists()


def test_train_prints_progress(capsys, tmp_path):
    code, out, err = cli(capsys, "train", "ae_mlp", "--dataset", "ring8", "--steps", "2",
                         "--batch-size", "8", "--device", "cpu", "--out", tmp_path / "r",
                         "--set", "likelihood=mse", "--set", "log_every=1")
    assert code == 0, err
    assert "ae_mlp on ring8" in out
    assert "step 1 epoch 0 loss" in out and "step 2 epoch 0 loss" in out
    assert "finished at step 2 of 2" in out
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert meta["train"]["log_every"] == 1 and meta["config"]["likelihood"] == "mse"


def test_sample_png(vae_run, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "x.png"
    code, stdout, err = cli(capsys, "sample", vae_run, "--n", 16, "--out", out, "--device", "cpu")
    assert code == 0, err
    assert "16 samples" in stdout and "step 20" in stdout
    with Image.open(out) as im:
        im.load()
        assert im.format == "PNG"
        assert im.size == (4 * 30 + 2, 4 * 30 + 2)  # 4×4 grid of 28-px digits, 2-px padding


def test_sample_npz(vae_run, tmp_path, capsys):
    out = tmp_path / "x.npz"
    code, _, err = cli(capsys, "sample", vae_run, "--n", 16, "--out", out, "--device", "cpu")
    assert code == 0, err
    with np.load(out) as f:
        assert set(f.files) == {"x"}  # no `y`: vae_mlp is not conditional
        x = f["x"]
    assert x.dtype == np.float32 and x.shape == (16, 1, 28, 28)
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert x.std() > 0  # not a constant image


def test_sample_seed_is_reproducible(vae_run, tmp_path, capsys):
    def draw(name, seed):
        out = tmp_path / name
        assert cli(capsys, "sample", vae_run, "--n", 8, "--out", out, "--seed", seed,
                   "--device", "cpu")[0] == 0
        with np.load(out) as f:
            return f["x"]

    a, b, c = draw("a.npz", 3), draw("b.npz", 3), draw("c.npz", 4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_eval_json(vae_run, capsys):
    # --samples 0: the sample metrics have their own tests (tests/test_cli_metrics.py)
    code, out, err = cli(capsys, "eval", vae_run, "--json", "--device", "cpu", "--samples", "0")
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == "vae_mlp" and result["step"] == 20
    assert result["dataset"] == "mnist5k" and result["n_val"] == 500
    assert set(result["val"]) == {"loss", "recon", "kl", "elbo", "iwae"}
    assert all(np.isfinite(v) for v in result["val"].values())
    assert result["val"]["loss"] == pytest.approx(result["val"]["recon"] + result["val"]["kl"],
                                                  rel=1e-5)
    assert result["val"]["elbo"] == pytest.approx(-result["val"]["loss"], rel=1e-5)
    assert result["val"]["iwae"] > result["val"]["elbo"]
    # the same numbers on a second call (evaluation is seeded)
    assert json.loads(cli(capsys, "eval", vae_run, "--json", "--device", "cpu", "--samples",
                          "0")[1]) == result
    code, out, _ = cli(capsys, "eval", vae_run, "--device", "cpu", "--samples", "0")
    assert code == 0 and "vae_mlp at step 20 on mnist5k" in out


def test_train_resume_extends_the_run(vae_run, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(vae_run, run)
    code, out, err = cli(capsys, "train", "vae_mlp", "--dataset", "mnist5k", "--steps", 30,
                         "--out", run, "--resume", "--device", "cpu")
    assert code == 0, err
    assert "resuming at step 20" in out
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [10, 20, 30]
    code, out, _ = cli(capsys, "eval", run, "--json", "--device", "cpu")
    assert json.loads(out)["step"] == 30
    meta = json.loads((run / "run.json").read_text())
    assert meta["train"]["batch_size"] == 32  # the run's own batch size is kept


# -- bad input: one line on stderr, non-zero exit, no traceback ----------------------------------
def test_unknown_model(capsys, tmp_path):
    line = assert_user_error(capsys, "train", "vae_mpl", "--dataset", "mnist5k", "--steps", 1,
                             "--out", tmp_path / "r", match="unknown model 'vae_mpl'")
    assert "vae_mlp" in line
    assert not (tmp_path / "r").exists()


def test_unknown_dataset(capsys, tmp_path):
    assert_user_error(capsys, "train", "vae_mlp", "--dataset", "mnist6k", "--steps", 1,
                      "--out", tmp_path / "r", match="unknown dataset 'mnist6k'")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("assignment, words", [
    ("nope=1", ["unknown setting 'nope'", "latent_dim"]),
    ("latent_dim=0", ["latent_dim must be at least 1"]),
    ("lr=5", ["lr must be at most 1.0"]),
    ("latent_dim=two", ["latent_dim must be a whole number", "'two'"]),
    ("latent_dim=2.5", ["latent_dim must be a whole number"]),
    ("latent_dim=inf", ["latent_dim must be a whole number"]),
    ("beta=nan", ["beta must be finite"]),
    ("hidden=64,x", ["hidden must be a list of whole numbers"]),
    ("likelihood=poisson", ["likelihood must be one of bce, mse"]),
    ("log_every=0", ["log_every must be at least 1"]),
    ("latent_dim", ["--set expects key=value", "'latent_dim'"]),
])
def test_bad_set(capsys, tmp_path, assignment, words):
    line = assert_user_error(capsys, "train", "vae_mlp", "--dataset", "mnist5k", "--steps", 1,
                             "--out", tmp_path / "r", "--set", assignment)
    for w in words:
        assert w in line, line
    assert not (tmp_path / "r").exists()


def test_bad_set_for_conv(capsys, tmp_path):
    assert_user_error(capsys, "train", "vae_conv", "--dataset", "mnist5k", "--steps", 1,
                      "--out", tmp_path / "r", "--set", "channels=", match="channels")


def test_bad_steps_and_batch(capsys, tmp_path):
    assert_user_error(capsys, "train", "ae_mlp", "--dataset", "mnist5k", "--steps", -1,
                      "--out", tmp_path / "r", match="steps must be at least 0")
    assert_user_error(capsys, "train", "ae_mlp", "--dataset", "mnist5k", "--steps", 0,
                      "--out", tmp_path / "r", match="epochs or steps")
    assert not (tmp_path / "r" / "run.json").exists()


def test_a_batch_larger_than_the_data_trains_and_says_so_once(capsys, tmp_path):
    assert main(["train", "ae_mlp", "--dataset", "ring8", "--steps", "1", "--set",
                 "likelihood=mse", "--set", "hidden=8", "--batch-size", "50000", "--device",
                 "cpu", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: batch size 50000 is larger than the 45000 training examples: "
                     "every step uses all 45000") == 1


def test_bce_on_points(capsys, tmp_path):
    assert_user_error(capsys, "train", "ae_mlp", "--dataset", "ring8", "--steps", 1,
                      "--device", "cpu", "--out", tmp_path / "r", match="likelihood=mse")


def test_nonexistent_run_dir(capsys, tmp_path):
    missing = tmp_path / "missing"
    assert_user_error(capsys, "sample", missing, "--n", 4, "--out", tmp_path / "x.png",
                      match="not a run directory")
    assert_user_error(capsys, "eval", missing, match="not a run directory")
    assert_user_error(capsys, "eval", tmp_path, match="no run.json")


def test_existing_run_without_resume(vae_run, capsys):
    before = (vae_run / "run.json").read_text()
    assert_user_error(capsys, "train", "vae_mlp", "--dataset", "mnist5k", "--steps", 1,
                      "--device", "cpu", "--out", vae_run, match="--resume")
    assert (vae_run / "run.json").read_text() == before


def test_resume_without_a_run(capsys, tmp_path):
    assert_user_error(capsys, "train", "vae_mlp", "--dataset", "mnist5k", "--steps", 1,
                      "--device", "cpu", "--out", tmp_path / "none", "--resume",
                      match="not a run directory")
    (tmp_path / "empty").mkdir()
    assert_user_error(capsys, "train", "vae_mlp", "--dataset", "mnist5k", "--steps", 1,
                      "--device", "cpu", "--out", tmp_path / "empty", "--resume",
                      match="no run.json")


def test_resume_with_set_is_refused(vae_run, capsys):
    assert_user_error(capsys, "train", "vae_mlp", "--dataset", "mnist5k", "--steps", 40,
                      "--device", "cpu", "--out", vae_run, "--resume", "--set", "beta=2",
                      match="drop --set")


def test_resume_with_another_model(vae_run, capsys):
    assert_user_error(capsys, "train", "ae_mlp", "--dataset", "mnist5k", "--steps", 40,
                      "--device", "cpu", "--out", vae_run, "--resume",
                      match="holds a vae_mlp run")


def test_sample_an_autoencoder(ae_run, capsys, tmp_path):
    assert_user_error(capsys, "sample", ae_run, "--n", 4, "--out", tmp_path / "x.png",
                      "--device", "cpu", match="ae_mlp cannot draw samples")
    assert not (tmp_path / "x.png").exists()


def test_sample_label_on_unconditional_model(vae_run, capsys, tmp_path):
    assert_user_error(capsys, "sample", vae_run, "--n", 4, "--out", tmp_path / "x.png",
                      "--label", 3, "--device", "cpu", match="not conditional")


@pytest.mark.parametrize("name", ["x.jpg", "x", "x.npy"])
def test_sample_bad_out_suffix(vae_run, capsys, tmp_path, name):
    assert_user_error(capsys, "sample", vae_run, "--n", 4, "--out", tmp_path / name,
                      match="--out must end in .png or .npz")
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("n", [0, -3])
def test_sample_n_must_be_positive(vae_run, capsys, tmp_path, n):
    assert_user_error(capsys, "sample", vae_run, "--n", n, "--out", tmp_path / "x.png",
                      match="--n must be at least 1")


def test_device_cuda_without_cuda(capsys, tmp_path, vae_run):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert_user_error(capsys, "train", "vae_mlp", "--dataset", "mnist5k", "--steps", 1,
                      "--device", "cuda", "--out", tmp_path / "r", match="cuda")
    assert_user_error(capsys, "sample", vae_run, "--n", 2, "--out", tmp_path / "x.png",
                      "--device", "cuda", match="no CUDA GPU")
    assert_user_error(capsys, "eval", vae_run, "--device", "cuda", match="no CUDA GPU")


def test_unknown_device(capsys, tmp_path):
    assert_user_error(capsys, "train", "vae_mlp", "--dataset", "mnist5k", "--steps", 1,
                      "--device", "tpu", "--out", tmp_path / "r", match="device")


def test_corrupt_run_json(capsys, tmp_path):
    (tmp_path / "run.json").write_text("{not json")
    assert_user_error(capsys, "eval", tmp_path, match="corrupt")


def test_run_whose_only_checkpoint_is_corrupt(vae_run, capsys, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(vae_run, run)
    for p in (run / "checkpoints").glob("*.safetensors"):
        p.write_bytes(p.read_bytes()[:100])
    assert_user_error(capsys, "sample", run, "--n", 2, "--out", tmp_path / "x.png",
                      "--device", "cpu", match="no readable checkpoint")


# -- subprocesses --------------------------------------------------------------------------------
def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_python_m_workbench_help():
    p = subprocess.run([sys.executable, "-m", "workbench", "--help"], capture_output=True,
                       text=True, timeout=120, cwd=REPO, env=_env())
    assert p.returncode == 0, p.stderr
    assert "usage: genworkbench" in p.stdout
    for command in ("train", "sample", "eval", "models", "datasets", "gui"):
        assert command in p.stdout


def test_bad_train_in_a_subprocess_prints_no_traceback(tmp_path):
    p = subprocess.run([sys.executable, "-m", "workbench", "train", "vae_mlp", "--dataset",
                        "mnist5k", "--steps", "1", "--out", str(tmp_path / "r"), "--set",
                        "latent_dim=1e400"], capture_output=True, text=True, timeout=120,
                       cwd=REPO, env=_env())
    assert p.returncode == 1
    assert "Traceback" not in p.stderr + p.stdout
    assert p.stderr.strip().splitlines() == [
        "genworkbench: error: latent_dim must be a whole number, not '1e400'"]


def test_models_that_match_nothing_is_one_clear_error(capsys):
    assert main(["models", "zz*"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "genworkbench: error: no model matches 'zz*'; `genworkbench models` lists them"
    assert main(["models", "vae_mpl"]) == 1  # a misspelt name: did you mean…
    assert "did you mean vae_mlp" in capsys.readouterr().err


def test_a_misspelt_dataset_gets_a_did_you_mean(capsys):
    assert main(["train", "vae_mlp", "--dataset", "mnist5", "--steps", "1"]) == 1
    err = capsys.readouterr().err
    assert "unknown dataset 'mnist5' (did you mean mnist5k" in err and err.count("\n") == 1


def test_no_display_is_one_line_not_a_core_dump():
    from workbench.cli import no_display_reason

    assert "no display" in no_display_reason({}, "linux")
    assert no_display_reason({"DISPLAY": ":0"}, "linux") is None
    assert no_display_reason({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert no_display_reason({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert no_display_reason({}, "darwin") is None and no_display_reason({}, "win32") is None
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    p = subprocess.run([sys.executable, "-m", "workbench"], capture_output=True, text=True,
                       env=env, timeout=60, cwd=Path(__file__).resolve().parents[1])
    if sys.platform.startswith("linux"):
        assert p.returncode == 1, p.stderr
        assert p.stderr.strip().startswith("genworkbench: error: no display")
        assert p.stderr.count("\n") == 1 and "xcb" not in p.stderr
