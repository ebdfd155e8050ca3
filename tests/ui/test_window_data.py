"""Datasets in the window: an image folder opened from the menu path or dropped on the window
is scanned in the background, offered in the dataset list, remembered, shown in the Dataset tab,
and a model trains on it; models made for other data switch the dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from workbench.engine.trainer import TrainSettings


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GENWORKBENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "my shapes"
    rng = np.random.default_rng(0)
    for cls in ("circles", "squares"):
        (root / cls).mkdir(parents=True)
        for i in range(12):
            arr = (rng.random((20, 20)) * 255).astype(np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    (root / "squares" / "broken.png").write_bytes(b"not a png")
    return root


def _load(w, qtbot, path):
    w.dataset_page.folder_size.setCurrentIndex(w.dataset_page.folder_size.findData(28))
    w.dataset_page.open_folder(str(path))
    qtbot.waitUntil(lambda: not w.dataset_page.folder_jobs.busy, timeout=60_000)


def test_open_folder_offers_it_trains_on_it_and_remembers_it(make_window, qtbot, folder,
                                                             settings, message_boxes):
    w = make_window()
    _load(w, qtbot, folder)
    choice = w.setup.dataset_combo.currentData()
    assert isinstance(choice, dict) and choice["folder"] == str(folder)
    assert "my shapes" in w.setup.dataset_combo.currentText()
    assert w.panels.currentWidget() is w.dataset_page
    assert w.dataset_page.dataset_view.grid.array is not None
    assert "1 file skipped (" in w.status_label.text()
    assert not message_boxes
    w.state.select_model("ae_mlp")
    w.setup.train_form.set_config(TrainSettings(steps=4, epochs=0, batch_size=8, log_every=2,
                                                sample_every_s=0.0))
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000) as blocker:
        assert w.session.start()
    assert blocker.args[0] is not None and blocker.args[0].step == 4
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)
    meta = json.loads((w.state.run_dir / "run.json").read_text())
    assert meta["dataset"]["folder"] == str(folder)
    w.close()
    # A new window offers the folder again and has it selected.
    w2 = make_window()
    assert w2.setup.dataset_combo.currentData()["folder"] == str(folder)


def test_dropping_a_folder_on_the_window_loads_it(make_window, qtbot, folder):
    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    ev = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                    Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    w.dropEvent(ev)
    qtbot.waitUntil(lambda: not w.dataset_page.folder_jobs.busy, timeout=60_000)
    assert isinstance(w.setup.dataset_combo.currentData(), dict)


def test_a_folder_without_images_gets_one_clear_message(make_window, qtbot, tmp_path,
                                                        message_boxes, monkeypatch):
    monkeypatch.setenv("GENWORKBENCH_CACHE", str(tmp_path / "cache"))
    empty = tmp_path / "notes"
    empty.mkdir()
    (empty / "readme.txt").write_text("no pictures here")
    w = make_window()
    _load(w, qtbot, empty)
    assert message_boxes and message_boxes[-1][0] == "warning"
    assert "no usable image" in message_boxes[-1][1].lower()
    assert w.setup.dataset_combo.currentData() == "mnist5k"


def test_choosing_a_toy_gan_switches_to_its_2d_data_and_back(make_window):
    w = make_window()
    assert w.setup.dataset_combo.currentData() == "mnist5k"
    w.state.select_model("toy_gan")
    assert w.setup.dataset_combo.currentData() == "grid25"
    w.state.select_model("vae_mlp")
    assert w.setup.dataset_combo.currentData() == "mnist5k"


def test_torchvision_sets_are_listed_missing_ones_say_where_and_present_ones_train(
        make_window, qtbot, tmp_path, monkeypatch, message_boxes):
    from tests.data.test_tv import write_mnist

    root = tmp_path / "tv"
    monkeypatch.setenv("GENWORKBENCH_DATA", str(root))
    w = make_window()
    i = w.state.datasets.find({"torchvision": "mnist", "root": str(root)})
    assert i >= 0 and "not downloaded" in w.setup.dataset_combo.itemText(i)
    w.setup.dataset_combo.setCurrentIndex(i)
    assert not w.dataset_page.download_button.isHidden()
    qtbot.waitUntil(lambda: "is not in" in w.status_label.text(), timeout=10_000)
    assert "train-images-idx3-ubyte" in w.status_label.text()
    write_mnist(root)
    w.dataset_page.refresh_torchvision()
    assert "not downloaded" not in w.setup.dataset_combo.itemText(i)
    qtbot.waitUntil(lambda: w.dataset_page.dataset_view.grid.array is not None, timeout=10_000)
    w.state.select_model("ae_mlp")
    w.setup.train_form.set_config(TrainSettings(steps=3, epochs=0, batch_size=8, log_every=1,
                                                sample_every_s=0.0))
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000) as blocker:
        assert w.session.start()
    assert blocker.args[0] is not None and blocker.args[0].step == 3, message_boxes
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)


def test_a_model_tuned_with_its_own_batch_size_gets_it_and_gives_it_back(make_window):
    w = make_window()
    w.setup.train_form.set_config(TrainSettings(batch_size=100))
    w.state.select_model("dcgan")
    assert w.setup.train_form.value().batch_size == 64
    w.state.select_model("vae_mlp")
    assert w.setup.train_form.value().batch_size == 100
