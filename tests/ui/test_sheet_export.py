"""The sheet export dialog: the preview follows rows × columns, Save writes a PNG with its
provenance and a sidecar, kinds a model cannot draw are disabled, and a saved sheet is the same
picture `genworkbench sample` draws with the same options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from workbench.cli import main
from workbench.ui.state import Snapshot


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sheetui") / "vae"
    assert main(["train", "vae_mlp", "--dataset", "mnist5k", "--steps", "6", "--batch-size",
                 "32", "--device", "cpu", "--out", str(out), "--set", "hidden=32",
                 "--set", "latent_dim=3"]) == 0
    return out


def _snapshot(run_dir):
    """What the window holds after opening a run."""
    from safetensors.torch import load_file

    from workbench.engine.runs import RunDir

    run = RunDir.open(run_dir)
    ck = run.checkpoints()[-1]
    return Snapshot(run.model_name, run.config(), run.data_spec(), load_file(str(ck.weights)),
                    ck.step, run.meta["dataset"])


def _dialog(qtbot, source, run=None):
    from workbench.ui.panels.sheet_export import SheetExportDialog

    d = SheetExportDialog(source, run=run)
    qtbot.addWidget(d)
    with qtbot.waitSignal(d.rendered, timeout=20000):
        d.show()
    return d


def _rerender(qtbot, d, change):
    with qtbot.waitSignal(d.rendered, timeout=20000):
        change()
    return d.array.shape


def test_preview_follows_rows_and_cols_and_save_writes_provenance(qtbot, qasync_loop, vae_run,
                                                                   tmp_path, capsys):
    d = _dialog(qtbot, _snapshot(vae_run), run=vae_run)
    assert "Cannot" not in d.info.text(), d.info.text()
    h0, w0 = d.array.shape[:2]
    assert (h0, w0) == (8 * 30 + 2, 8 * 30 + 2)  # 28-px digits, 2-px padding
    h1, w1 = _rerender(qtbot, d, lambda: d.rows.setValue(3))[:2]
    assert (h1, w1) == (3 * 30 + 2, w0)
    h2, w2 = _rerender(qtbot, d, lambda: d.cols.setValue(5))[:2]
    assert (h2, w2) == (h1, 5 * 30 + 2)
    h3, w3 = _rerender(qtbot, d, lambda: d.upscale.setValue(2))[:2]
    assert (h3, w3) == (2 * h2, 2 * w2)
    assert not d.label_rows.isEnabled()  # an unconditional VAE

    d.seed.setValue(7)
    d.background.setCurrentText("black")
    d.caption.setChecked(True)
    out = tmp_path / "sheet.png"
    with qtbot.waitSignal(d.saved, timeout=20000):
        d.save_to(out)
    assert out.exists() and (tmp_path / "sheet.png.json").exists()
    side = json.loads((tmp_path / "sheet.png.json").read_text())
    with Image.open(out) as im:
        chunk = json.loads(im.text["genworkbench"])
        pixels = np.asarray(im)
    assert chunk == side
    assert side["model"] == "vae_mlp" and side["step"] == 6 and side["seed"] == 7
    assert side["spec"]["background"] == "black" and side["spec"]["caption"] is True
    assert side["checkpoint"] == "step-6" and side["command"]

    # the CLI, given the same options, draws the same pixels
    cli_out = tmp_path / "cli.png"
    assert main(["sample", str(vae_run), "--rows", "3", "--cols", "5", "--upscale", "2",
                 "--seed", "7", "--background", "black", "--caption", "--out",
                 str(cli_out)]) == 0
    with Image.open(cli_out) as im:
        assert np.array_equal(np.asarray(im), pixels)
    d.close()


def test_kinds_the_model_cannot_draw_are_disabled_and_traversal_renders(qtbot, qasync_loop,
                                                                        vae_run):
    d = _dialog(qtbot, vae_run)  # a run directory works as the source too
    model = d.kind.model()
    assert all(model.item(i).isEnabled() for i in range(d.kind.count()))  # a VAE does all
    shape = _rerender(qtbot, d, lambda: d.kind.setCurrentIndex(d.kind.findData("traversal")))
    assert shape[0] == 3 * 30 + 2  # one row per latent dimension (3), whatever rows says
    assert d.provenance["spec"]["dims"] and d.provenance["kind"] == "traversal"
    d.close()


def test_autoencoder_has_no_samples_kind(qtbot, qasync_loop):
    from workbench.models.registry import get_config
    from workbench.data import DataSpec
    from workbench.ui.panels.sheet_export import SheetExportDialog

    from workbench.models.registry import create_model

    state = {k: v.numpy() for k, v in create_model("ae_mlp").state_dict().items()}
    d = SheetExportDialog(Snapshot("ae_mlp", get_config("ae_mlp"), DataSpec.mnist(), state, 0,
                                   "mnist5k"))
    qtbot.addWidget(d)
    assert not d.kind.model().item(d.kind.findData("samples")).isEnabled()
    assert d.kind.currentData() == "reconstructions"
    with qtbot.waitSignal(d.rendered, timeout=20000):
        d.show()
    assert d.array is not None and d.array.shape[0] == 2 * 8 * 30 + 2  # 8 pairs of rows
    d.close()


def test_window_export_sheet_from_opened_run(make_window, qtbot, vae_run, tmp_path,
                                             message_boxes):
    w = make_window()
    w.export_sheet()  # no weights yet: a plain message, no dialog
    assert message_boxes and "no weights" in message_boxes[-1][1]
    assert w.session.open_run(vae_run)
    w.export_sheet()
    d = w.sheet_dialog
    qtbot.waitUntil(lambda: d.array is not None, timeout=20000)
    assert d.provenance["run"] == str(vae_run.resolve())
    path = d.save_to(tmp_path / "from-window.png")
    assert path is not None and path.exists()
    assert str(path) in w.status_label.text()
    d.close()
