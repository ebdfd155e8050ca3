"""DatasetView (grid per class, counts, summary, empty state) and FolderReportDialog (sortable
skipped-files table, copy to clipboard, empty classes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from workbench.data.folder import FolderOptions, FolderReport, load_folder
from workbench.data.spec import DataSpec, TensorData


@pytest.fixture
def folder_data(tmp_path, monkeypatch):
    monkeypatch.setenv("GENWORKBENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "pets"
    for c, level, n in (("cats", 30, 5), ("dogs", 220, 3)):
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (10, 10), level).save(root / c / f"{i}.png")
    (root / "dogs" / "bad.png").write_bytes(b"oops")
    (root / "dogs" / "zero.jpg").write_bytes(b"")
    (root / "birds").mkdir()
    return load_folder(root, FolderOptions(size=8))


def test_empty_state(qtbot):
    from workbench.ui.panels.dataset_view import EMPTY_TEXT, DatasetView

    v = DatasetView()
    qtbot.addWidget(v)
    assert v.grid.array is None and v.grid.text() == EMPTY_TEXT
    assert not v.class_combo.isEnabled() and v.report_button.isHidden()


def test_grid_per_class_counts_and_summary(qtbot, folder_data):
    from workbench.ui.panels.dataset_view import ALL, DatasetView

    data, report = folder_data
    v = DatasetView()
    qtbot.addWidget(v)
    v.show()
    v.set_data(data, report)
    s = v.summary.text()
    assert "pets" in s and "8×8 grey" in s and "2 classes" in s and "2 files skipped" in s
    assert "empty classes: birds" in s and "PNG" in s
    assert [v.class_combo.itemText(i) for i in range(3)] == ["All classes", "cats (5)",
                                                             "dogs (3)"]
    counts = {v.counts.item(r, 0).text(): int(v.counts.item(r, 3).text()) for r in range(2)}
    assert counts == {"cats": 5, "dogs": 3}
    all_grid = v.grid.array.copy()
    with qtbot.waitSignal(v.class_changed) as sig:
        v.select_class(1)  # dogs: bright images only
    assert sig.args == [1]
    dogs = v.grid.array
    assert dogs.ndim == 2 and not np.array_equal(dogs, all_grid)
    assert set(np.unique(dogs)) <= {220, 255}  # the dogs' grey level and the grid's white padding
    v.select_class(0)
    assert set(np.unique(v.grid.array)) <= {30, 255}
    v.select_class(ALL)
    assert np.array_equal(v.grid.array, all_grid)
    assert not v.report_button.isHidden() and "(2)" in v.report_button.text()
    v.set_data(None)
    assert v.grid.array is None and v.class_combo.count() == 0


def test_unlabeled_rgb_and_points(qtbot):
    from workbench.ui.panels.dataset_view import DatasetView

    x = torch.rand(12, 3, 6, 6)
    data = TensorData("flat", DataSpec(shape=(3, 6, 6)), x[:10], None, x[10:], None)
    v = DatasetView()
    qtbot.addWidget(v)
    v.set_data(data)
    assert "unlabeled" in v.summary.text() and "6×6 RGB" in v.summary.text()
    assert v.grid.array.shape[2] == 3 and not v.class_combo.isEnabled()
    assert v.counts.isHidden() and v.report_button.isHidden()
    pts = TensorData("ring", DataSpec(shape=(2,), num_classes=2, kind="points"),
                     torch.rand(10, 2), torch.arange(10) % 2, torch.rand(4, 2),
                     torch.arange(4) % 2, class_names=("a", "b"))
    v.set_data(pts)
    assert v.grid.array is None and "2-D points" in v.grid.text()


def test_report_dialog_sorts_and_copies(qtbot, folder_data):
    from PySide6.QtWidgets import QApplication

    from workbench.ui.panels.dataset_view import FolderReportDialog

    _, report = folder_data
    dlg = FolderReportDialog(report)
    qtbot.addWidget(dlg)
    t = dlg.table
    assert t.rowCount() == 2 and t.isSortingEnabled()
    assert [t.item(r, 0).text() for r in range(2)] == ["dogs/bad.png", "dogs/zero.jpg"]
    reasons = {t.item(r, 0).text(): t.item(r, 1).text() for r in range(2)}
    assert "0 bytes" in reasons["dogs/zero.jpg"] and "not an image" in reasons["dogs/bad.png"]
    from PySide6.QtCore import Qt

    t.sortItems(0, Qt.SortOrder.DescendingOrder)
    assert t.item(0, 0).text() == "dogs/zero.jpg"
    t.sortItems(0, Qt.SortOrder.AscendingOrder)
    assert t.item(0, 0).text() == "dogs/bad.png"
    assert [dlg.empty.item(i).text() for i in range(dlg.empty.count())] == ["birds"]
    dlg.copy_to_clipboard()  # nothing selected: every row
    text = QApplication.clipboard().text()
    lines = text.strip().split("\n")
    assert lines[0] == "path\treason" and len(lines) == 3
    assert lines[1].startswith(report.root) and lines[1].endswith(t.item(0, 1).text())
    t.selectRow(1)
    dlg.copy_to_clipboard()
    assert QApplication.clipboard().text().strip().split("\n")[1].split("\t")[0].endswith(
        "zero.jpg")


def test_report_dialog_with_nothing_skipped(qtbot):
    from workbench.ui.panels.dataset_view import FolderReportDialog

    r = FolderReport(root="/data/x", classes=["a"], ok=3, skipped=[], size=8, color="grey",
                     channels=1, class_counts={"a": 3})
    dlg = FolderReportDialog(r)
    qtbot.addWidget(dlg)
    assert dlg.table.isHidden() and dlg.empty.isHidden()
    from PySide6.QtWidgets import QLabel

    assert "3 images loaded as 1×8×8 grey" in dlg.findChild(QLabel, "report_summary").text()


def _pets(tmp_path):
    root = tmp_path / "pets2"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (9, 9), (40 * i, 0, 200 if c == "b" else 0)).save(
                root / c / f"{i}.png")
    return root


def _run(qtbot, task, work, **callbacks):
    """Submit `work` and wait until its outcome is delivered; (kind, value) of the outcome."""
    out = []
    task.submit(work, on_done=lambda r: out.append(("done", r)),
                on_error=lambda e: out.append(("error", e)),
                on_cancelled=lambda: out.append(("cancelled", None)), **callbacks)
    qtbot.waitUntil(lambda: bool(out), timeout=30_000)
    return out[0]


def test_folder_task_loads_in_a_thread(qtbot, qasync_loop, tmp_path, monkeypatch):
    from workbench.ui.panels.dataset_view import DatasetView, load_folder_dataset
    from workbench.ui.tasks import Task

    monkeypatch.setenv("GENWORKBENCH_CACHE", str(tmp_path / "cache"))
    task, seen = Task("folder"), []
    root = _pets(tmp_path)
    kind, (data, report) = _run(qtbot, task,
                                lambda ctx: load_folder_dataset(ctx, root, FolderOptions(size=8)),
                                on_progress=lambda d, t, _s: seen.append((d, t)))
    assert kind == "done"
    assert data.spec.shape == (3, 8, 8) and report.ok == 8 and seen[-1] == (8, 8)
    v = DatasetView()
    qtbot.addWidget(v)
    v.set_data(data, report)
    assert v.class_combo.count() == 3
    assert task.shutdown(10)


def test_folder_task_cancel_and_failure(qtbot, qasync_loop, tmp_path, monkeypatch):
    import threading

    from workbench.ui.panels.dataset_view import folder_failure, load_folder_dataset
    from workbench.ui.tasks import Task

    monkeypatch.setenv("GENWORKBENCH_CACHE", str(tmp_path / "cache"))
    task = Task("folder")
    root = _pets(tmp_path)
    gate = threading.Event()

    def scan_after_the_gate(ctx):
        gate.wait(10)
        return load_folder_dataset(ctx, root, FolderOptions(size=8))

    out = []
    task.submit(scan_after_the_gate, on_done=lambda r: out.append("done"),
                on_cancelled=lambda: out.append("cancelled"))
    task.cancel()  # the user's Cancel, before the scan got going
    gate.set()
    qtbot.waitUntil(lambda: bool(out), timeout=30_000)
    assert out == ["cancelled"]
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_bytes(b"nope")
    kind, e = _run(qtbot, task, lambda ctx: load_folder_dataset(ctx, tmp_path / "junk",
                                                                FolderOptions(size=8)))
    msg, report = folder_failure(e)
    assert kind == "error" and msg.startswith("no usable image in") and report.skipped
    kind, e = _run(qtbot, task, lambda ctx: load_folder_dataset(ctx, tmp_path / "nope"))
    msg, report = folder_failure(e)
    assert kind == "error" and msg.startswith("no such folder") and report is None
    assert task.shutdown(10)


def test_dropping_a_folder_on_the_view(qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtCore import Qt

    from workbench.ui.panels.dataset_view import DatasetView

    v = DatasetView()
    qtbot.addWidget(v)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path))])
    ev = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(v.folder_dropped) as sig:
        v.dropEvent(ev)
    assert sig.args == [str(tmp_path)]
    f = tmp_path / "file.png"
    f.write_bytes(b"x")
    mime2 = QMimeData()
    mime2.setUrls([QUrl.fromLocalFile(str(f))])
    assert DatasetView.dropped_folder(mime2) is None  # a file is not a folder
