"""`genworkbench sample` sheets: the options, the sidecar, exact re-rendering (--from-sidecar, and
the command a sheet records), the same pixels as the window's exporter, and --gif."""

from __future__ import annotations

import json
import shlex
import shutil

import numpy as np
import pytest
from PIL import Image

from workbench.cli import main


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def user_error(capsys, *argv) -> str:
    code, out, err = cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("genworkbench: error: "), err
    assert "Traceback" not in out + err
    return lines[0]


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sheets") / "vae"
    assert main(["train", "vae_mlp", "--dataset", "mnist5k", "--steps", "6", "--batch-size",
                 "32", "--device", "cpu", "--out", str(out), "--set", "hidden=32",
                 "--set", "latent_dim=3", "--set", "iw_samples=1", "--checkpoint-every", "2",
                 "--frame-every", "2"]) == 0
    return out


def test_default_sheet_and_sidecar(run, tmp_path, capsys):
    code, out, _ = cli(capsys, "sample", run, "--out", tmp_path / "s.png")
    assert code == 0 and "s.png.json" in out
    assert pixels(tmp_path / "s.png").shape == (8 * 30 + 2, 8 * 30 + 2)  # --n 64: 8 × 8
    side = json.loads((tmp_path / "s.png.json").read_text())
    assert side["spec"]["rows"] == side["spec"]["cols"] == 8 and side["step"] == 6
    code, _, _ = cli(capsys, "sample", run, "--n", "10", "--out", tmp_path / "ten.png")
    assert pixels(tmp_path / "ten.png").shape == (3 * 30 + 2, 4 * 30 + 2)  # 4 wide, 3 rows
    assert json.loads((tmp_path / "ten.png.json").read_text())["spec"]["n"] == 10


def test_window_exporter_and_cli_give_identical_pixels(run, tmp_path, capsys):
    """What the dialog does (render_sheet on the window's snapshot, then save), and the CLI
    with the same options (the command the sheet records)."""
    from safetensors.torch import load_file

    from workbench.reports.export import SheetSpec, render_sheet, save_sheet_with_provenance
    from workbench.engine.runs import RunDir

    r = RunDir.open(run)
    ck = r.checkpoints()[-1]
    snap = {"model": r.model_name, "config": r.config(), "spec": r.data_spec(),
            "state": load_file(str(ck.weights)), "step": ck.step, "run": run,
            "dataset": r.meta["dataset"]}
    for spec in (SheetSpec(rows=3, cols=7, seed=9, padding=4, background="grey", upscale=2,
                           caption=True),
                 SheetSpec(kind="reconstructions", rows=2, cols=5, seed=1, background="black"),
                 SheetSpec(kind="traversal", cols=6, span=2.5, caption=True),
                 SheetSpec(kind="interpolation", rows=2, cols=5, index_a=4, index_b=7,
                           method="slerp")):
        gui = tmp_path / f"gui-{spec.kind}.png"
        arr, prov = render_sheet(snap, spec)
        save_sheet_with_provenance(gui, arr, prov)
        argv = shlex.split(prov["command"])
        assert argv[:2] == ["genworkbench", "sample"] and argv[-1] == "FILE.png"
        out = tmp_path / f"cli-{spec.kind}.png"
        code, _, err = cli(capsys, *argv[1:-1], out)
        assert code == 0, err
        assert np.array_equal(pixels(gui), pixels(out)), spec.kind
        a = json.loads((tmp_path / f"gui-{spec.kind}.png.json").read_text())
        b = json.loads((tmp_path / f"cli-{spec.kind}.png.json").read_text())
        assert a["spec"] == b["spec"] and a["step"] == b["step"] and a["run"] == b["run"]


def test_from_sidecar_reproduces_pixel_for_pixel(run, tmp_path, capsys):
    first = tmp_path / "first.png"
    assert cli(capsys, "sample", run, "--kind", "interpolation", "--rows", "3", "--cols", "6",
               "--index-a", "10", "--index-b", "20", "--seed", "4", "--caption", "--upscale",
               "2", "--step", "4", "--out", first)[0] == 0
    for src in (tmp_path / "first.png.json", first):  # the sidecar, or the PNG's own chunk
        again = tmp_path / "again.png"
        code, out, err = cli(capsys, "sample", "--from-sidecar", src, "--out", again)
        assert code == 0, err
        assert "pixel-identical" in out
        assert np.array_equal(pixels(first), pixels(again))
        prov = json.loads((tmp_path / "again.png.json").read_text())
        assert prov == json.loads((tmp_path / "first.png.json").read_text())
        assert prov["step"] == 4


def test_gif_from_frames_and_from_checkpoints(run, tmp_path, capsys):
    code, out, _ = cli(capsys, "sample", run, "--gif", tmp_path / "a.gif", "--caption")
    assert code == 0 and "3 frames" in out
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 3
    bare = tmp_path / "bare"
    shutil.copytree(run, bare)
    shutil.rmtree(bare / "samples" / "frames")
    code, out, _ = cli(capsys, "sample", bare, "--gif", tmp_path / "b.gif", "--rows", "2",
                       "--cols", "2")
    assert code == 0 and "3 kept checkpoints" in out
    with Image.open(tmp_path / "b.gif") as im:
        assert im.n_frames == 3 and im.size == (2 * 30 + 2, 2 * 30 + 2)


def test_npz_still_follows_the_contract(run, tmp_path, capsys):
    assert cli(capsys, "sample", run, "--n", "5", "--step", "2", "--out", tmp_path / "x.npz",
               "--device", "cpu")[0] == 0
    with np.load(tmp_path / "x.npz") as z:
        assert z["x"].shape == (5, 1, 28, 28) and z["x"].dtype == np.float32


def test_bad_sheet_options_are_one_line_errors(run, tmp_path, capsys):
    png = tmp_path / "x.png"
    assert "--n applies to samples" in user_error(capsys, "sample", run, "--kind",
                                                  "traversal", "--n", "4", "--out", png)
    assert "--dims" in user_error(capsys, "sample", run, "--kind", "traversal", "--dims", "a,b",
                                  "--out", png)
    assert "outside 0..2" in user_error(capsys, "sample", run, "--kind", "traversal",
                                        "--dims", "0,5", "--out", png)
    assert "upscale" in user_error(capsys, "sample", run, "--upscale", "0", "--out", png)
    assert "not conditional" in user_error(capsys, "sample", run, "--label-rows", "--out", png)
    assert "no checkpoint at step 5" in user_error(capsys, "sample", run, "--step", "5",
                                                   "--out", png)
    assert ".gif" in user_error(capsys, "sample", run, "--gif", tmp_path / "x.png")
    assert "run directory" in user_error(capsys, "sample", "--out", png)
    assert "--out" in user_error(capsys, "sample", run)
    assert "--out NEW.png" in user_error(capsys, "sample", "--from-sidecar",
                                         tmp_path / "nothing.png.json")
    assert "does not exist" in user_error(capsys, "sample", "--from-sidecar",
                                          tmp_path / "nothing.png.json", "--out", png)
    assert not png.exists()
