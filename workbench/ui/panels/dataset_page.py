"""The Dataset tab: the chosen dataset (a grid per class, counts, sizes, what a folder scan
skipped), and where new data comes in: an image folder scanned in the background (from the
button, File → Open image folder… or a folder dropped on the window), the folder torchvision
sets are looked for in, and their download.

New entries go into the state's dataset list; the setup dock's picker shows them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QMessageBox,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from workbench.core.applog import log
from workbench.data.cache import cached_dataset, dataset_key, remember_dataset
from workbench.data.folder import FolderOptions
from workbench.data.tv import download
from workbench.ui.datasets import is_torchvision
from workbench.ui.panels.dataset_view import (DatasetView, FolderReportDialog, folder_failure,
                                              load_folder_dataset)
from workbench.ui.tasks import Task
from workbench.ui.state import WindowState

FOLDER_SIZES = (28, 32, 48, 64, 96, 128)


class DatasetPage(QWidget):
    def __init__(self, state: WindowState, parent=None):
        super().__init__(parent)
        self.state = state
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.open_folder_button = QPushButton("Open image folder…")
        self.open_folder_button.setToolTip("Train on your own images: sub-folders are classes, "
                                           "a flat folder is one unlabeled set. You can also "
                                           "drag a folder onto the window.")
        self.open_folder_button.clicked.connect(self.open_folder_dialog)
        self.folder_size = QComboBox()
        for n in FOLDER_SIZES:
            self.folder_size.addItem(f"{n}×{n}", n)
        self.folder_size.setToolTip("Images are resized to this square size (models size "
                                    "themselves to it; small is fast on a CPU).")
        self.folder_color = QComboBox()
        for text, key in (("colour: automatic", "auto"), ("grey", "grey"), ("RGB", "rgb")):
            self.folder_color.addItem(text, key)
        self.folder_color.setToolTip("Automatic: grey when every image is grey, else RGB.")
        self.folder_fit = QComboBox()
        for text, key in (("centre crop", "crop"), ("pad", "pad")):
            self.folder_fit.addItem(text, key)
        self.folder_fit.setToolTip("Non-square images: crop the centre square, or pad to a "
                                   "square (nothing cut off).")
        for w in (self.open_folder_button, QLabel("Size"), self.folder_size, self.folder_color,
                  self.folder_fit):
            row.addWidget(w)
        row.addStretch(1)
        self.data_root_button = QPushButton("torchvision folder…")
        self.data_root_button.setToolTip("Where MNIST, FashionMNIST, KMNIST and CIFAR-10 are "
                                         "looked for (torchvision's layout).")
        self.data_root_button.clicked.connect(self.choose_data_root)
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Fetch the selected torchvision dataset (checksums "
                                        "verified); needs an internet connection.")
        self.download_button.clicked.connect(self.download_dataset)
        self.download_button.hide()
        row.addWidget(self.data_root_button)
        row.addWidget(self.download_button)
        lay.addLayout(row)
        self.dataset_view = DatasetView()
        self.dataset_view.setObjectName("dataset_view")
        self.dataset_view.folder_dropped.connect(self.open_folder)
        lay.addWidget(self.dataset_view, 1)
        # The scan's progress and its Cancel button: the window puts them in its status bar.
        self.scan_progress = QProgressBar()
        self.scan_progress.setFixedWidth(160)
        self.scan_progress.setFormat("scanning %v / %m")
        self.scan_progress.hide()
        self.scan_cancel = QPushButton("Cancel scan")
        self.scan_cancel.hide()
        self.scan_cancel.clicked.connect(self.cancel_folder_scan)
        self.folder_jobs = Task("folder")
        self.folder_reports: dict[str, object] = {}  # dataset key -> its scan report
        self.data_jobs = Task("data")
        self._shown: str | None = None  # the key of the dataset on screen (or being loaded)
        state.models_loaded.connect(self.show_dataset)
        state.dataset_changed.connect(lambda _choice: self.show_dataset(force=False))

    # -- the chosen dataset ------------------------------------------------------------------------
    def show_dataset(self, force: bool = True) -> None:
        """Show the chosen dataset (loaded off the GUI thread)."""
        choice = self.state.dataset
        if choice is None or (not force and dataset_key(choice) == self._shown):
            return
        self._shown = dataset_key(choice)
        report = self.folder_reports.get(self._shown)
        self.download_button.setVisible(is_torchvision(choice))

        def failed(e):
            self.dataset_view.set_data(None)
            self.dataset_view.grid.set_empty_text(f"{e}")
            self.state.show_status(f"Cannot load the dataset: {e}")

        self.data_jobs.submit(lambda _ctx: cached_dataset(choice),
                              on_done=lambda data: self.dataset_view.set_data(data, report),
                              on_error=failed)

    # -- torchvision sets ----------------------------------------------------------------------------
    def choose_data_root(self) -> None:
        datasets = self.state.datasets
        path = QFileDialog.getExistingDirectory(self.window(), "Folder with torchvision datasets",
                                                datasets.data_root())
        if not path:
            return
        current = self.state.dataset
        datasets.set_data_root(path)  # re-listed under the new root
        if is_torchvision(current):
            current = {"torchvision": current["torchvision"], "root": datasets.data_root()}
        if not self.state.select_dataset(current):
            self.state.select_dataset(datasets.entries[0].choice)
        self.show_dataset(force=False)  # unless choosing it has already

    def refresh_torchvision(self) -> None:
        self.state.datasets.refresh_torchvision()
        self.show_dataset()

    def download_dataset(self) -> None:
        choice = self.state.dataset
        if not is_torchvision(choice):
            return
        self.scan_progress.setRange(0, 0)
        self.scan_progress.setFormat("downloading %p%")
        self.scan_progress.show()
        self.download_button.setEnabled(False)
        self.state.show_status(f"Downloading {choice['torchvision']}…")

        def done(_path):
            self._download_finished()
            self.refresh_torchvision()
            self.state.show_status(f"{choice['torchvision']} downloaded to {choice['root']}.")

        def failed(e):
            self._download_finished()
            QMessageBox.warning(self.window(), "Download failed", str(e))

        self.data_jobs.submit(lambda ctx: download(choice["torchvision"], choice["root"],
                                                   ctx.progress),
                              on_done=done, on_error=failed, on_progress=self._on_scan_progress)

    def _download_finished(self) -> None:
        self.scan_progress.hide()
        self.scan_progress.setFormat("scanning %v / %m")
        self.download_button.setEnabled(True)

    # -- image folders ---------------------------------------------------------------------------------
    def open_folder_dialog(self) -> None:
        start = str(self.state.settings.value("last_folder", str(Path.home())))
        path = QFileDialog.getExistingDirectory(self.window(), "Open image folder", start)
        if path:
            self.open_folder(path)

    def open_folder(self, path: str) -> None:
        """Scan, decode and cache a folder in the background, then offer it as a dataset."""
        if self.state.training:
            QMessageBox.information(self.window(), "genworkbench", "Stop the current training "
                                    "first: a new dataset is used for the next run.")
            return
        self.cancel_folder_scan()
        self.state.settings.setValue("last_folder", str(Path(path).parent))
        options = FolderOptions(size=int(self.folder_size.currentData()),
                                color=self.folder_color.currentData(),
                                fit=self.folder_fit.currentData())
        self.scan_progress.setRange(0, 0)  # busy until the first count arrives
        self.scan_progress.show()
        self.scan_cancel.show()
        self.state.show_status(f"Scanning {path}…")

        def cancelled():
            self._on_scan_done()
            self.state.show_status("Folder scan cancelled.")

        self.folder_jobs.submit(lambda ctx: load_folder_dataset(ctx, path, options),
                                on_done=self._on_folder_loaded, on_error=self._on_folder_failed,
                                on_progress=self._on_scan_progress, on_cancelled=cancelled)

    def cancel_folder_scan(self) -> None:
        self.folder_jobs.cancel()

    def _on_scan_progress(self, done: int, total: int, _text: str = "") -> None:
        self.scan_progress.setRange(0, max(total, 1))
        self.scan_progress.setValue(done)

    def _on_scan_done(self) -> None:
        self.scan_progress.hide()
        self.scan_cancel.hide()

    def _on_folder_loaded(self, result) -> None:
        self._on_scan_done()
        data, report = result
        source = dict(data.source)
        key = dataset_key(source)
        remember_dataset(source, data)  # every panel that asks for this folder gets this scan
        self.folder_reports[key] = report
        self.state.datasets.add_folder(source)
        self.state.datasets.remember_folder(source)
        self._shown = key  # shown right here: choosing it must not load it again
        self.dataset_view.set_data(data, report)
        self.state.select_dataset(source)
        self.state.show_panel("dataset")
        skipped = f"; {report.skipped_text} (Dataset → Skipped files…)" \
            if report.skipped else ""
        log.info("folder loaded: %s: %s", report.root, report.summary())
        self.state.show_status(f"Loaded {report.ok} images from {report.root}{skipped}. "
                               "Press Train to train the selected model on them.")

    def _on_folder_failed(self, e) -> None:
        self._on_scan_done()
        message, report = folder_failure(e)
        log.warning("folder refused: %s", message)
        self.state.show_status("The folder could not be used.")
        QMessageBox.warning(self.window(), "Cannot use this folder", message)
        if report is not None and report.skipped:
            self.dataset_view.set_data(None)
            dlg = FolderReportDialog(report, self.window())
            dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dlg.open()

    def shutdown(self, timeout_ms: int = 30000) -> None:
        self.data_jobs.shutdown()
        self.folder_jobs.shutdown(timeout_ms / 1000)
