"""`genworkbench eval` with the per-kind metrics, and `genworkbench anomaly`."""

import json

import pytest

from workbench.cli import main


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_eval_of_an_autoencoder_and_a_toy_gan(tmp_path, capsys):
    ae, gan = tmp_path / "ae", tmp_path / "gan"
    assert cli(capsys, "train", "ae_mlp", "--dataset", "mnist5k", "--steps", 5, "--batch-size",
               32, "--device", "cpu", "--out", ae, "--set", "hidden=32",
               "--set", "latent_dim=4")[0] == 0
    code, out, err = cli(capsys, "eval", ae, "--json", "--device", "cpu")
    assert code == 0, err
    r = json.loads(out)
    assert r["step"] == 5 and set(r["reconstruction"]) == {"mse", "bce"}
    assert "samples" not in r and "modes" not in r
    code, out, _ = cli(capsys, "eval", ae, "--device", "cpu")
    assert code == 0 and "reconstruction: mean squared error" in out

    assert cli(capsys, "train", "toy_gan", "--dataset", "ring8", "--steps", 5, "--device", "cpu",
               "--out", gan)[0] == 0
    code, out, err = cli(capsys, "eval", gan, "--json", "--device", "cpu", "--samples", 500)
    assert code == 0, err
    r = json.loads(out)
    assert r["modes"]["n_samples"] == 500 and r["modes"]["n_modes"] == 8
    code, out, _ = cli(capsys, "eval", gan, "--device", "cpu", "--samples", 500)
    assert "modes captured" in out and "/ 8" in out


def test_anomaly_prints_the_auc(capsys):
    code, out, err = cli(capsys, "anomaly", "--model", "ae_mlp", "--dataset", "mnist5k",
                         "--holdout", 3, "--steps", 150, "--device", "cpu", "--json",
                         "--set", "hidden=128", "--set", "latent_dim=16")
    assert code == 0, err
    r = json.loads(out)
    assert r["holdout"] == 3 and r["steps"] == 150 and r["auc"] > 0.6  # 0.69-0.78 over seeds
    assert r["roc"]["fpr"][0] == 0 and r["roc"]["tpr"][-1] == 1


@pytest.mark.parametrize("argv, match", [
    (["--model", "gan_mlp", "--holdout", 3], "cannot reconstruct"),
    (["--model", "ae_mlp", "--holdout", 12], "0..9"),
    (["--model", "cvae", "--holdout", 1], "conditional"),
    (["--model", "ae_mlp", "--holdout", 1, "--steps", 0], "at least 1"),
])
def test_anomaly_user_errors_are_one_line(capsys, argv, match):
    code, _out, err = cli(capsys, "anomaly", "--dataset", "mnist5k", "--device", "cpu", *argv)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("genworkbench: error: ")
    assert match in lines[0] and "Traceback" not in err
