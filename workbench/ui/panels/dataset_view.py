"""A look at the training data: an image grid per class, class counts, image size and colour mode
(`DatasetView`); and the folder scan's report of skipped files and empty classes
(`FolderReportDialog`)."""

from __future__ import annotations

import os
import traceback

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QComboBox, QDialog,
                               QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QListWidget,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.analysis.sheets import image_grid
from workbench.core.errors import DatasetError, WorkbenchError
from workbench.core.tasks import TaskContext
from workbench.data.folder import no_image_message, scan_folder, to_tensordata
from workbench.ui.panels.image_grid import ImageGridView

GRID_IMAGES = 64  # 8×8: enough to judge a class at a glance, cheap to draw
ALL = -1

EMPTY_TEXT = ("No dataset to show yet.\n\nPick a dataset, or open a folder of images: "
              "sub-folders become classes, a flat folder is one unlabeled set.")


def _shape_text(spec) -> str:
    if spec.kind != "image":
        return f"{spec.shape[0]}-D points"
    c, h, w = spec.shape
    return f"{w}×{h} {'grey' if c == 1 else 'RGB'}"


class DatasetView(QWidget):
    """Call `set_data(data, report)` with a TensorData (and the FolderReport when it came from a
    folder; None otherwise); `set_data(None)` shows the empty state."""

    class_changed = Signal(int)  # label shown in the grid, or -1 for all classes
    folder_dropped = Signal(str)  # a folder dragged onto the view: load it

    def __init__(self, parent=None):
        super().__init__(parent)
        self._data = None
        self._report = None
        self.setAcceptDrops(True)
        self.summary = QLabel(objectName="dataset_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.class_combo = QComboBox(objectName="dataset_class")
        self.class_combo.setToolTip("Show the images of one class")
        self.class_combo.currentIndexChanged.connect(self._on_class)
        self.report_button = QPushButton("Skipped files…", objectName="dataset_report")
        self.report_button.setToolTip("Files the scan could not use, each with its reason")
        self.report_button.clicked.connect(self.show_report)
        row = QHBoxLayout()
        row.addWidget(QLabel("Class"))
        row.addWidget(self.class_combo, 1)
        row.addWidget(self.report_button)
        self.grid = ImageGridView(EMPTY_TEXT)
        self.grid.setObjectName("dataset_grid")
        self.counts = QTableWidget(0, 4, objectName="dataset_counts")
        self.counts.setHorizontalHeaderLabels(["class", "train", "validation", "total"])
        self.counts.verticalHeader().hide()
        self.counts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.counts.setMaximumHeight(180)
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addLayout(row)
        lay.addWidget(self.grid, 1)
        lay.addWidget(self.counts)
        self.set_data(None)

    # -- data --------------------------------------------------------------------------------------
    @Slot(object, object)
    def set_data(self, data, report=None) -> None:
        self._data, self._report = data, report
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.counts.setRowCount(0)
        self.report_button.setVisible(bool(report is not None and (report.skipped
                                                                    or report.empty_classes)))
        if report is not None:
            self.report_button.setText(f"Skipped files ({len(report.skipped)})…")
        if data is None:
            self.summary.setText("")
            self.class_combo.setEnabled(False)
            self.class_combo.blockSignals(False)
            self.grid.set_empty_text(EMPTY_TEXT)
            self.grid.clear_image()
            self.counts.hide()
            return
        spec = data.spec
        labeled = data.y_train is not None and spec.num_classes > 0
        parts = [f"<b>{data.name}</b>: {data.n_train + data.n_val} examples "
                 f"({data.n_train} train, {data.n_val} validation), {_shape_text(spec)}",
                 f"{spec.num_classes} classes" if labeled else "unlabeled"]
        if report is not None:
            if report.source_formats:
                parts.append("files: " + ", ".join(f"{k} {v}" for k, v in
                                                   report.source_formats.items()))
            if report.source_modes:
                parts.append("modes: " + ", ".join(f"{k} {v}" for k, v in
                                                   report.source_modes.items()))
            if report.source_min_size and report.source_max_size:
                lo, hi = report.source_min_size, report.source_max_size
                parts.append(f"source sizes {lo[0]}×{lo[1]} to {hi[0]}×{hi[1]}")
            if report.skipped:
                parts.append(report.skipped_text)
            if report.empty_classes:
                parts.append(f"empty classes: {', '.join(report.empty_classes)}")
        self.summary.setText("; ".join(parts))
        self.class_combo.addItem("All classes" if labeled else "All images", ALL)
        if labeled:
            train = np.bincount(np.asarray(data.y_train.cpu()), minlength=spec.num_classes)
            val = (np.bincount(np.asarray(data.y_val.cpu()), minlength=spec.num_classes)
                   if data.y_val is not None else np.zeros_like(train))
            names = list(data.class_names) or [str(k) for k in range(spec.num_classes)]
            self.counts.setRowCount(spec.num_classes)
            for k in range(spec.num_classes):
                self.class_combo.addItem(f"{names[k]} ({train[k] + val[k]})", k)
                for col, v in enumerate((names[k], train[k], val[k], train[k] + val[k])):
                    item = QTableWidgetItem()
                    item.setData(Qt.ItemDataRole.DisplayRole, v if col == 0 else int(v))
                    self.counts.setItem(k, col, item)
            self.counts.show()
        else:
            self.counts.hide()
        self.class_combo.setEnabled(labeled)
        self.class_combo.blockSignals(False)
        self._show(ALL)

    def _images_of(self, label: int):
        x, y = self._data.x_train, self._data.y_train
        if label != ALL:
            idx = (y == label).nonzero().flatten()[:GRID_IMAGES]
            if len(idx) < GRID_IMAGES and self._data.y_val is not None:  # tiny classes
                more = (self._data.y_val == label).nonzero().flatten()
                pick = x[idx], self._data.x_val[more[:GRID_IMAGES - len(idx)]]
                return np.concatenate([p.cpu().numpy() for p in pick])
            return x[idx].cpu().numpy()
        return x[:GRID_IMAGES].cpu().numpy()

    def _show(self, label: int) -> None:
        if self._data is None:
            return
        if self._data.spec.kind != "image":
            self.grid.set_empty_text("A set of 2-D points: the training plots show it.")
            self.grid.clear_image()
            return
        imgs = self._images_of(label)
        if not len(imgs):
            self.grid.set_empty_text("No images in this class.")
            self.grid.clear_image()
            return
        self.grid.set_array(image_grid(imgs, nrow=8))

    @Slot(int)
    def _on_class(self, index: int) -> None:
        label = self.class_combo.itemData(index)
        if label is None:
            return
        self._show(label)
        self.class_changed.emit(label)

    def select_class(self, label: int) -> None:
        i = self.class_combo.findData(label)
        if i >= 0:
            self.class_combo.setCurrentIndex(i)

    @staticmethod
    def dropped_folder(mime) -> str | None:
        for url in mime.urls() if mime.hasUrls() else []:
            path = url.toLocalFile()
            if path and os.path.isdir(path):
                return path
        return None

    def dragEnterEvent(self, event):
        if self.dropped_folder(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        path = self.dropped_folder(event.mimeData())
        if path:
            event.acceptProposedAction()
            self.folder_dropped.emit(path)

    @Slot()
    def show_report(self) -> None:
        if self._report is None:
            return
        dlg = FolderReportDialog(self._report, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()


class FolderReportDialog(QDialog):
    """What a folder scan skipped (sortable table, copy to clipboard) and its empty classes."""

    def __init__(self, report, parent=None):
        super().__init__(parent)
        self.report = report
        self.setWindowTitle(f"Folder report — {os.path.basename(report.root) or report.root}")
        self.resize(760, 460)
        head = QLabel(f"<b>{report.root}</b><br>{report.summary()}", objectName="report_summary")
        head.setWordWrap(True)
        head.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(len(report.skipped), 2, objectName="report_table")
        self.table.setHorizontalHeaderLabels(["file", "reason"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        for r, (path, reason) in enumerate(report.skipped):
            rel = os.path.relpath(path, report.root)
            item = QTableWidgetItem(rel)
            item.setToolTip(path)
            self.table.setItem(r, 0, item)
            why = QTableWidgetItem(reason)
            why.setToolTip(reason)
            self.table.setItem(r, 1, why)
        self.table.setSortingEnabled(True)
        self.table.sortItems(0, Qt.SortOrder.AscendingOrder)  # Qt's default indicator descends
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        self.table.resizeColumnToContents(0)
        self.table.setColumnWidth(0, min(self.table.columnWidth(0), 360))
        self.empty = QListWidget(objectName="report_empty")
        self.empty.addItems(report.empty_classes)
        rows = max(1, min(len(report.empty_classes), 5))
        self.empty.setMaximumHeight(rows * self.empty.fontMetrics().height() + 12)
        copy = QPushButton("Copy to clipboard", objectName="report_copy")
        copy.setToolTip("The selected rows, or every row when none is selected, as "
                        "tab-separated text")
        copy.clicked.connect(self.copy_to_clipboard)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        lay = QVBoxLayout(self)
        lay.addWidget(head)
        if report.skipped:
            lay.addWidget(QLabel(f"Skipped files ({len(report.skipped)})"))
            lay.addWidget(self.table, 1)
        else:
            lay.addWidget(QLabel("No file was skipped."))
            self.table.hide()
        if report.empty_classes:
            lay.addWidget(QLabel(f"Empty class folders ({len(report.empty_classes)}): no "
                                 "usable image, so no label"))
            lay.addWidget(self.empty)
        else:
            self.empty.hide()
        lay.addWidget(buttons)

    def rows_text(self, selected_only: bool = True) -> str:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}) if selected_only else []
        if not rows:
            rows = range(self.table.rowCount())
        lines = ["path\treason"]
        for r in rows:
            lines.append(f"{self.table.item(r, 0).toolTip()}\t{self.table.item(r, 1).text()}")
        return "\n".join(lines) + "\n"

    @Slot()
    def copy_to_clipboard(self) -> None:
        QApplication.clipboard().setText(self.rows_text())


class FolderUnusable(DatasetError):
    """No image of the folder could be used; `report` gives each file's reason."""

    def __init__(self, report):
        super().__init__(no_image_message(report))
        self.report = report


def load_folder_dataset(ctx: TaskContext, path, options=None, val_fraction: float = 0.1):
    """The work of the window's folder task: scan, decode (or read from the cache) and split a
    folder, reporting files decoded of all to `ctx`. (TensorData, FolderReport); FolderUnusable
    when no image could be used, Cancelled when `ctx` is cancelled."""
    report, x, y = scan_folder(str(path), options, ctx=ctx)
    if not report.ok:
        raise FolderUnusable(report)
    data = to_tensordata(report, x, y, val_fraction)
    ctx.check()
    return data, report


def folder_failure(e: BaseException) -> tuple[str, object]:
    """A failed folder task's message for the user, and the scan report when there is one."""
    if isinstance(e, WorkbenchError):
        return str(e), getattr(e, "report", None)
    return "".join(traceback.format_exception(e)), None  # a bug: show it rather than lose it
