"""The Runs panel (listing, watcher, rename, delete with confirmation, compare) and its hooks in
the window: the Runs dock, the workspace folder, File → Save / Open recipe."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from workbench.engine.workspace import metric_series
from workbench.ui.panels.runs_panel import RunsPanel


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Two finished tiny runs (different seeds, so different curves) and a torn run.json."""
    import torch

    from workbench.core import config as C
    from workbench.models.registry import get_config
    from workbench.data import load_dataset
    from workbench.data.spec import TensorData
    from workbench.engine.trainer import Trainer, TrainSettings

    torch.set_num_threads(1)
    d = load_dataset("mnist5k")
    tiny = TensorData("mnist5k", d.spec, d.x_train[:64].clone(), d.y_train[:64].clone(),
                      d.x_val[:32].clone(), d.y_val[:32].clone(), dict(d.source), d.class_names)
    ws = tmp_path_factory.mktemp("ws")
    for name, seed in (("alpha", 0), ("beta", 1)):
        s = C.replace(TrainSettings(), batch_size=16, steps=8, epochs=0, device="cpu",
                      log_every=1, checkpoint_every=0, sample_every_s=0.0, seed=seed)
        list(Trainer("ae_mlp", tiny, s, config=C.replace(get_config("ae_mlp"), hidden=(16,)),
                     run_dir=ws / name).fit())
    (ws / "torn").mkdir()
    (ws / "torn" / "run.json").write_text('{"model": ')
    return ws


@pytest.fixture
def ws(prepared, tmp_path):
    dst = tmp_path / "ws"
    shutil.copytree(prepared, dst)
    return dst


def rows(panel):
    t = panel.table
    return {t.item(r, 0).text(): [t.item(r, c).text() for c in range(t.columnCount())]
            for r in range(t.rowCount())}


def test_runs_appear_with_their_columns(qtbot, ws):
    panel = RunsPanel(ws)
    qtbot.addWidget(panel)
    got = rows(panel)
    assert set(got) == {"alpha", "beta", "torn"}
    name, model, dataset, steps, status, created, best = got["alpha"]
    assert (model, dataset, steps, status) == ("ae_mlp", "mnist5k", "8 / 8", "finished")
    assert created and best.startswith("val_loss ")
    assert got["torn"][4] == "unreadable" and got["torn"][6].startswith("unreadable: run.json")
    panel.select(["torn"])  # an unreadable run can be deleted, not opened or compared
    assert not panel.actions["Open"].isEnabled() and panel.actions["Delete"].isEnabled()


def test_the_watcher_refreshes_after_changes(qtbot, ws):
    panel = RunsPanel(ws)
    qtbot.addWidget(panel)
    panel.show()
    shutil.copytree(ws / "alpha", ws / "gamma")
    qtbot.waitUntil(lambda: "gamma" in rows(panel), timeout=5000)
    shutil.rmtree(ws / "torn")
    qtbot.waitUntil(lambda: "torn" not in rows(panel), timeout=5000)
    # hidden (the dock closed): changes are noted, and listed when it is shown again
    panel.hide()
    shutil.rmtree(ws / "gamma")
    qtbot.waitUntil(lambda: panel._stale, timeout=5000)
    assert "gamma" in rows(panel)
    panel.show()
    assert "gamma" not in rows(panel)


def test_rename(qtbot, ws, monkeypatch, message_boxes):
    panel = RunsPanel(ws)
    qtbot.addWidget(panel)
    panel.select(["alpha"])
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("baseline", True))
    panel.actions["Rename"].trigger()
    assert set(rows(panel)) == {"baseline", "beta", "torn"}
    assert (ws / "baseline" / "run.json").exists() and not (ws / "alpha").exists()
    assert panel.selected_paths() == [ws / "baseline"]
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("beta", True))
    panel.actions["Rename"].trigger()  # a collision is refused with a message
    assert message_boxes and "already exists" in message_boxes[-1][1]
    assert (ws / "baseline").exists()


@pytest.mark.parametrize("answer", [QMessageBox.StandardButton.Yes,
                                    QMessageBox.StandardButton.No])
def test_delete_asks_first(qtbot, ws, monkeypatch, answer):
    panel = RunsPanel(ws)
    qtbot.addWidget(panel)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or answer)
    panel.select(["beta", "torn"])
    panel.actions["Delete"].trigger()
    assert asked and "these 2 runs" in asked[0]
    if answer == QMessageBox.StandardButton.Yes:
        assert set(rows(panel)) == {"alpha"}
        assert sorted(p.name.split("-")[0] for p in (ws / ".trash").iterdir()) == \
            ["beta", "torn"]
    else:
        assert set(rows(panel)) == {"alpha", "beta", "torn"}


def test_compare_overlays_the_curves(qtbot, ws):
    panel = RunsPanel(ws)
    qtbot.addWidget(panel)
    panel.show()
    panel.select(["alpha"])
    assert not panel.actions["Compare"].isEnabled()
    panel.select(["alpha", "beta"])
    panel.actions["Compare"].trigger()
    assert panel.compare_box.isVisible()
    assert panel.metric_combo.currentText() == "val_loss"
    items = [panel.metric_combo.itemText(i) for i in range(panel.metric_combo.count())]
    assert set(items) == {"loss", "val_loss"}
    panel.metric_combo.setCurrentText("loss")
    assert set(panel.curves) == {ws / "alpha", ws / "beta"}
    for path, curve in panel.curves.items():
        x, y = curve.getData()
        steps, values = metric_series(path, "loss")
        assert list(x) == steps == list(range(1, 9)) and list(y) == values
    a, b = (panel.curves[ws / n] for n in ("alpha", "beta"))
    assert a.opts["pen"].color() != b.opts["pen"].color()
    assert list(a.getData()[1]) != list(b.getData()[1])  # different seeds, different curves


def test_requests_and_workspace_change(qtbot, ws, tmp_path, monkeypatch):
    panel = RunsPanel(ws)
    qtbot.addWidget(panel)
    panel.select(["beta"])
    with qtbot.waitSignal(panel.open_requested) as sig:
        panel.actions["Open"].trigger()
    assert sig.args == [ws / "beta"]
    with qtbot.waitSignal(panel.resume_requested) as sig:
        panel.actions["Resume"].trigger()
    assert sig.args == [ws / "beta"]
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(other))
    with qtbot.waitSignal(panel.workspace_changed) as sig:
        panel.btn_folder.click()
    assert sig.args == [other] and rows(panel) == {}
    assert panel.empty_label.text().startswith("No runs here yet")


# -- in the window --------------------------------------------------------------------------------
def test_window_runs_dock_opens_and_changes_workspace(make_window, ws, tmp_path, monkeypatch,
                                                      settings):
    w = make_window()
    names = [a.text() for a in w.menuBar().actions()[2].menu().actions()]  # View
    assert "Runs" in names
    w.runs.toggleViewAction().trigger()
    assert w.runs.isVisible()
    w.runs.panel.set_workspace(ws)
    assert w.state.workspace == ws and settings.value("workspace") == str(ws)
    w.runs.panel.select(["beta"])
    w.runs.panel.actions["Open"].trigger()
    assert w.state.opened_run == ws / "beta" and w.state.model == "ae_mlp"
    assert w.setup.model_form.value().hidden == (16,)
    from workbench.core.paths import new_run_dir
    assert new_run_dir("x", w.state.workspace).parent == ws


def test_window_save_and_open_recipe(make_window, tmp_path):
    from workbench.core import config as C
    from workbench.engine.recipes import load_recipe

    w = make_window()
    w.state.select_model("vae_mlp")
    w.setup.model_form.set_config(C.replace(w.setup.model_form.value(), latent_dim=3))
    form = w.setup.train_form
    form.set_config(C.replace(form.value(), seed=42, steps=77, epochs=0, batch_size=32))
    assert w.runs.save_recipe(tmp_path / "e.toml")
    exp = load_recipe(tmp_path / "e.toml")
    assert exp.model == "vae_mlp" and exp.dataset == "mnist5k"
    assert exp.config["latent_dim"] == 3
    assert (exp.train["seed"], exp.train["steps"], exp.train["batch_size"]) == (42, 77, 32)

    (tmp_path / "other.json").write_text(json.dumps({
        "model": "ae_mlp", "dataset": "mnist5k", "seed": 9, "steps": 12, "batch_size": 24,
        "config": {"latent_dim": 5, "hidden": [48]}, "train": {"log_every": 3}}))
    assert w.runs.open_recipe(tmp_path / "other.json")
    assert w.state.model == "ae_mlp"
    cfg, s = w.setup.model_form.value(), w.setup.train_form.value()
    assert cfg.latent_dim == 5 and cfg.hidden == (48,)
    assert (s.seed, s.steps, s.epochs, s.batch_size, s.log_every) == (9, 12, 0, 24, 3)
    assert w.setup.dataset_combo.currentData() == "mnist5k"


def test_window_open_recipe_errors(make_window, tmp_path, message_boxes):
    w = make_window()
    (tmp_path / "bad.toml").write_text('model = "ae_mlp"\ndataset = "mnist5k"\n[config]\nzz = 1\n')
    before = w.state.model
    assert not w.runs.open_recipe(tmp_path / "bad.toml")
    assert message_boxes[-1][0] == "warning" and "'zz'" in message_boxes[-1][1]
    assert w.state.model == before


def test_window_resume_from_the_panel(make_window, ws, qtbot):
    from workbench.core import config as C
    from workbench.engine.workspace import read_run

    w = make_window(in_process=False)
    w.runs.show()  # a hidden Runs dock does not refresh until shown
    w.runs.panel.set_workspace(ws)
    w.runs.panel.select(["alpha"])
    w.setup.train_form.set_config(C.replace(w.setup.train_form.value(), steps=12, epochs=0))
    with qtbot.waitSignal(w.session.training_finished, timeout=60000):
        w.runs.panel.actions["Resume"].trigger()
    info = read_run(ws / "alpha")
    assert (info.status, info.step, info.checkpoint_step) == ("finished", 12, 12)
    qtbot.waitUntil(lambda: rows(w.runs.panel)["alpha"][3] == "12 / 12", timeout=5000)


def test_runs_made_in_a_workspace_created_later_are_listed_when_shown(qtbot, ws, tmp_path):
    """A workspace folder that did not exist at start had nothing to watch: showing the panel
    lists it again (the Runs dock used to open empty until Refresh)."""
    later = tmp_path / "later"
    panel = RunsPanel(later)
    qtbot.addWidget(panel)
    assert rows(panel) == {}
    shutil.copytree(ws / "alpha", later / "alpha")
    panel.show()
    qtbot.waitUntil(lambda: "alpha" in rows(panel), timeout=5_000)
