"""The main window: pick a model and a dataset, edit the config, train in the background, and
watch the loss curves, sample grid and reconstructions move.

Torch is not imported here at module level: the window paints first, then `load_backend()`
imports the models in a worker thread and fills the model list when they are ready.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QFileSystemWatcher, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QGroupBox, QHBoxLayout,
                               QLabel, QListWidget, QListWidgetItem, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QScrollArea, QSplitter, QTabWidget,
                               QVBoxLayout, QWidget)

from workbench import __version__
from workbench.core import config as C
from workbench.core.errors import WorkbenchError
from workbench.data.cache import dataset_key
from workbench.engine.trainer import TrainSettings
from workbench.ui.forms import ConfigForm
from workbench.ui.latent_session import LatentSession
from workbench.ui.panels.class_histogram import ClassHistogram
from workbench.ui.panels.dataset_view import DatasetView, folder_failure, load_folder_dataset
from workbench.ui.panels.image_grid import ImageGridView
from workbench.ui.panels.latent_explorer import LatentExplorer
from workbench.ui.panels.latent_walks import LatentWalks
from workbench.ui.panels.loss_plots import LossPlots
from workbench.ui.tasks import Task
from workbench.ui.workers import (TrainingRun, use_one_torch_thread_for_the_gui,
                                  warm_up_process_runner)

SAMPLES_HINT = ("Samples from the prior appear here while training\n"
                "(fixed noise, so you see the same codes improve).")
RECON_HINT = ("Reconstructions appear here while training:\n"
              "held-out images above, the model's copy below.")
DEFAULT_MODEL = "vae_mlp"
DEFAULT_DATASET = "mnist5k"
FOLDER_SIZES = (28, 32, 48, 64, 96, 128)
MAX_RECENT_FOLDERS = 8


def dataset_choice(key: str):
    """The inverse of dataset_key: a name, or the source dict a folder was loaded with."""
    if isinstance(key, str) and key.startswith("{"):
        try:
            return json.loads(key)
        except ValueError:
            return DEFAULT_DATASET
    return key


def app_settings() -> QSettings:
    """The user's settings; $GENWORKBENCH_SETTINGS (an .ini path) keeps benches and probes apart."""
    import os

    path = os.environ.get("GENWORKBENCH_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings()


class MainWindow(QMainWindow):
    backend_ready = Signal()
    training_finished = Signal(object)  # engine.events.Finished, or None after a failure

    def __init__(self, settings: QSettings | None = None, workspace: Path | None = None):
        super().__init__()
        self.settings = settings or app_settings()
        self.workspace = workspace
        self.setWindowTitle("genworkbench")
        self.thread: TrainingRun | None = None
        self.model_infos: dict = {}
        self.model_configs: dict[str, object] = {}  # edited configs per model, this session
        self.current_model: str | None = None
        self.model_form: ConfigForm | None = None
        self.run_dir: Path | None = None
        self.opened_run: Path | None = None  # a run opened from disk, which can be continued
        self.total_steps = 0
        self.snapshot: dict | None = None  # {"model", "config", "spec", "state", "step"}
        self._snapshot_dataset = None  # the dataset of an opened run's snapshot
        self.decode_jobs = Task("decode")
        self._last_metrics = None
        self._last_ips = 0.0
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(250)
        self.status_timer.timeout.connect(self._refresh_status)
        self.status_timer.start()
        self._build_ui()
        self._build_actions()
        self._restore_state()
        self._update_controls()

    # == layout ====================================================================================
    def _build_ui(self) -> None:
        side = QWidget()
        lay = QVBoxLayout(side)
        lay.setContentsMargins(6, 6, 6, 6)

        self.model_label = QLabel("<b>Model</b>")
        lay.addWidget(self.model_label)
        self.model_list = QListWidget()
        self.model_list.setObjectName("model_list")
        self.model_list.setWordWrap(True)
        self.model_list.setToolTip("Registered models. Each trains with its own config below.")
        self.model_list.addItem("Loading PyTorch and the model registry…")
        self.model_list.setEnabled(False)
        self.model_list.currentItemChanged.connect(self._on_model_changed)
        self.model_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.model_list.setSpacing(2)
        lay.addWidget(self.model_list, 3)

        self.dataset_row = QWidget()  # one widget, so classroom mode can hide the row
        row = QHBoxLayout(self.dataset_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("<b>Dataset</b>"))
        self.dataset_combo = QComboBox()
        self.dataset_combo.setObjectName("dataset_combo")
        self.dataset_combo.setToolTip("Training data. mnist5k ships with the app and works "
                                      "offline: 5000 digits, 4500 for training, 500 held out.")
        row.addWidget(self.dataset_combo, 1)
        lay.addWidget(self.dataset_row)

        # Model config and training settings as two tabs, each scrolling vertically only.
        self.model_box = QWidget()
        self.model_box_layout = QVBoxLayout(self.model_box)
        self.model_box_layout.setContentsMargins(2, 2, 2, 2)
        self.model_box_layout.addStretch(1)
        self.train_form = ConfigForm(TrainSettings())
        self.train_form.setObjectName("train_form")
        self.tabs = QTabWidget()
        for widget, title in ((self.model_box, "Model config"), (self.train_form, "Training")):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(widget)
            self.tabs.addTab(scroll, title)
        self.tabs.setTabToolTip(1, "Batch size, length of the run, seed, device, and how often "
                                   "to log, validate, checkpoint and draw samples.")
        lay.addWidget(self.tabs, 5)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("train_button")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pause_button")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop_button")
        for b in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        self.train_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop_training)
        lay.addLayout(buttons)

        self.dock = QDockWidget("Setup", self)
        self.dock.setObjectName("setup_dock")
        side.setMinimumWidth(340)
        self.dock.setWidget(side)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                              | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)

        self.plots = LossPlots()
        self.samples_view = ImageGridView(SAMPLES_HINT)
        self.samples_view.setToolTip("64 samples decoded from fixed noise z ~ N(0, I).")
        self.recon_view = ImageGridView(RECON_HINT)
        self.recon_view.setToolTip("Validation images (odd rows) and their reconstructions "
                                   "(the row below each).")
        self.class_hist = ClassHistogram()
        self.class_hist.setToolTip("Which classes the samples fall in, by a classifier trained "
                                   "on the dataset: a GAN collapsing onto a few digits shows "
                                   "as bars emptying.")
        self.hist_jobs = Task("classes")
        self._hist_time = 0.0
        grids = QSplitter(Qt.Orientation.Horizontal)
        self.grid_boxes = {}
        for title, view in (("Samples", self.samples_view),
                            ("Reconstructions", self.recon_view),
                            ("Classes of the samples", self.class_hist)):
            box = QGroupBox(title)
            bl = QVBoxLayout(box)
            bl.setContentsMargins(4, 4, 4, 4)
            bl.addWidget(view)
            grids.addWidget(box)
            self.grid_boxes[title] = box
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("main_splitter")
        self.splitter.addWidget(self.plots)
        self.splitter.addWidget(grids)
        self.splitter.setSizes([380, 420])

        # The latent views share one session: a CPU copy of the newest weights and the codes.
        self.latent = LatentSession(self)
        self.explorer = LatentExplorer(self.latent)
        self.walks = LatentWalks(self.latent)
        self.explorer.status.connect(self._show_status)
        self.walks.status.connect(self._show_status)
        self.latent.failed.connect(self._show_status)
        self.dataset_page = self._build_dataset_page()
        # The GAN lab and the Dirac-GAN view are built when first opened: the lab starts a
        # worker thread and both draw a lot, none of which the start-up should pay for.
        self.gan_lab = None
        self.dirac = None
        self.lab_page = _LazyPage(self._make_gan_lab)
        self.dirac_page = _LazyPage(self._make_dirac)
        self.metrics_panel = self.anomaly_panel = None  # built on first view too
        self.center_tabs = QTabWidget()
        self.center_tabs.setObjectName("center_tabs")
        self.center_tabs.setDocumentMode(True)
        for widget, title, tip in (
                (self.splitter, "Training", "Loss curves, samples and reconstructions, live"),
                (self.explorer, "Latent space", "Scatter of the codes coloured by label, the "
                 "clicked image and its reconstruction, and latent sliders"),
                (self.walks, "Latent walks", "Traversal grids, interpolation and latent "
                 "arithmetic"),
                (self.dataset_page, "Dataset", "The selected dataset: images per class, class "
                 "counts, sizes and modes, and what a folder scan skipped"),
                (self.lab_page, "GAN lab", "A 2-D GAN trained live: the discriminator's map, "
                 "the generator's manifold, the gradient field on the fakes and the modes "
                 "captured; step D and G by hand, switch losses and stabilisers while it runs"),
                (self.dirac_page, "Dirac-GAN", "The two-parameter game of Mescheder et al. 2018: "
                 "its gradient field, trajectories of simultaneous and alternating steps, and "
                 "the eigenvalues that decide convergence")):
            self.center_tabs.addTab(widget, title)
            self.center_tabs.setTabToolTip(self.center_tabs.count() - 1, tip)
        self.view_pages = {"training": self.splitter, "latent": self.explorer,
                           "walks": self.walks, "dataset": self.dataset_page,
                           "gan_lab": self.lab_page, "dirac": self.dirac_page}
        self.experiments = None
        for key, factory, title, tip in (
                ("metrics", self._make_metrics, "Metrics", "Every offline metric of the current model and "
                 "of chosen runs, one column each: validation losses, reconstruction error, "
                 "classifier score, Fréchet distance, class histogram, mode report"),
                ("anomaly", self._make_anomaly, "Anomaly && denoising", "Reconstruction error as an anomaly "
                 "score (train without one digit: histogram, ROC, worst images) and clean / "
                 "corrupted / reconstructed images with the noise level on a slider"),
                ("experiment", self._make_experiments, "Experiments", "Small experiments that "
                 "end in a table and a picture: PCA against a linear AE, few-label learning, "
                 "JS against Wasserstein, f-divergence fits, the generator's gradients…")):
            self.view_pages[key] = _LazyPage(factory)
            self.center_tabs.addTab(self.view_pages[key], title)
            self.center_tabs.setTabToolTip(self.center_tabs.count() - 1, tip)
        self.center_tabs.currentChanged.connect(self._on_center_tab)
        self.setCentralWidget(self.center_tabs)

        self.progress = QProgressBar()
        self.progress.setFixedWidth(200)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.status_label = QLabel("Starting…")
        self.statusBar().addWidget(self.status_label, 1)
        self.scan_progress = QProgressBar()
        self.scan_progress.setFixedWidth(160)
        self.scan_progress.setFormat("scanning %v / %m")
        self.scan_progress.hide()
        self.scan_cancel = QPushButton("Cancel scan")
        self.scan_cancel.hide()
        self.scan_cancel.clicked.connect(self.cancel_folder_scan)
        self.statusBar().addPermanentWidget(self.scan_progress)
        self.statusBar().addPermanentWidget(self.scan_cancel)
        self.statusBar().addPermanentWidget(self.progress)
        self.setAcceptDrops(True)  # drop an image folder anywhere on the window

    def _build_dataset_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
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
        self.folder_jobs = Task("folder")
        self._folder_reports: dict[str, object] = {}  # dataset key -> its scan report
        self.data_jobs = Task("data")
        return page

    def _build_actions(self) -> None:
        def action(text, slot, shortcut=None, tip=""):
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setStatusTip(tip)
            a.setToolTip(tip or text)
            a.triggered.connect(slot)
            return a

        self.act_open = action("&Open run…", self.open_run_dialog, "Ctrl+O",
                               "Open a run directory: its curves, config and newest checkpoint")
        self.act_open_folder = action("Open image &folder…", self.open_folder_dialog,
                                      "Ctrl+Shift+O", "Load a folder of your own images as a "
                                      "dataset (sub-folders are classes)")
        self.act_export_sheet = action("&Export sample sheet…", self.export_sheet, "Ctrl+E",
                                       "Samples, reconstructions, traversals or interpolations "
                                       "as a PNG that records how to draw it again")
        self.act_export = action("Export samples as &PNG…", self.export_samples, "Ctrl+Shift+E",
                                 "Save the current sample grid as a PNG")
        self.act_quit = action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_train = action("&Train", self.start_training, "Ctrl+Return",
                                "Train the selected model on the selected dataset")
        self.act_pause = action("&Pause / resume", self.toggle_pause, "Ctrl+P",
                                "Pause training (the thread waits; nothing is lost)")
        self.act_stop = action("&Stop", self.stop_training, "Ctrl+.",
                               "Stop after the current step; a checkpoint is saved")
        self.act_reload_checkpoint = action(
            "&Load newest checkpoint", self.load_newest_checkpoint, "Ctrl+L",
            "Show the opened run's newest checkpoint in the sample and latent views (for a run "
            "another process is still training)")
        self.act_reload_checkpoint.setEnabled(False)  # until a followed run saves a newer one
        self.act_continue = action("&Continue opened run", self.continue_run, None,
                                   "Resume the opened run from its newest checkpoint, exactly "
                                   "(weights, optimizer, RNG), up to the steps/epochs set below")
        self.act_in_process = action(
            "Train in a separate &process", lambda on: None, None,
            "Run training in its own process: the window never competes with it for Python's "
            "GIL, and a crash in training cannot close the window. Off: a thread in this process.")
        self.act_in_process.setCheckable(True)
        self.act_in_process.setChecked(
            str(self.settings.value("train_in_process", "true")).lower() == "true")
        self.act_resample = action("&New samples", self.resample, "Ctrl+R",
                                   "Decode a fresh grid from random codes (from a snapshot "
                                   "of the weights, never the live model)")
        self.act_autorange = action("&Reset plot zoom", lambda: self.plots.auto_range(), "Ctrl+0")
        self.act_logy = action("&Logarithmic loss axis", lambda on: self.plots.set_log_y(on))
        self.act_logy.setCheckable(True)
        self.act_grid = action("Show &grid", lambda on: self.plots.set_grid(on), None,
                               "Grid lines behind the curves (each redraw then costs more)")
        self.act_grid.setCheckable(True)
        self.act_about = action("&About genworkbench", self.about)

        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.act_open, self.act_open_folder, self.act_export_sheet, self.act_export):
            m.addAction(a)
        self._add_recipe_actions(m)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&Training")
        for a in (self.act_train, self.act_pause, self.act_stop, self.act_continue,
                  self.act_reload_checkpoint):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_in_process)
        m.addSeparator()
        m.addAction(self.act_resample)
        m = mb.addMenu("&View")
        m.addAction(self.act_autorange)
        m.addAction(self.act_logy)
        m.addAction(self.act_grid)
        m.addSeparator()
        for i in range(self.center_tabs.count()):
            a = action(self.center_tabs.tabText(i), lambda _=False, i=i:
                       self.center_tabs.setCurrentIndex(i), f"Ctrl+{i + 1}",
                       self.center_tabs.tabToolTip(i))
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.dock.toggleViewAction())
        m.addAction(self._build_runs_dock().toggleViewAction())
        from workbench.ui.lessons import LessonController

        self.lessons = LessonController(self)
        self.lessons.build_menu(mb)
        m.addAction(self.lessons.dock.toggleViewAction())
        m = mb.addMenu("&Help")
        from workbench.ui.crash import log_folder_action

        self.act_log_folder = log_folder_action(self)
        m.addAction(self.act_log_folder)
        m.addAction(self.act_about)

        tb = self.toolbar = self.addToolBar("Training")
        tb.setObjectName("training_toolbar")
        for a in (self.act_train, self.act_pause, self.act_stop, self.act_resample):
            tb.addAction(a)

    # == backend (torch) loading ======================================================================
    def load_backend(self) -> None:
        """Import torch and the model registry in a thread; fill the lists when done."""
        self.status_label.setText("Loading PyTorch…")
        self.decode_jobs.submit(lambda _ctx: _import_backend(), on_done=self._on_backend,
                                on_error=self._on_backend_error)

    def load_backend_blocking(self) -> None:
        self._on_backend(_import_backend())

    def _on_backend_error(self, e: BaseException) -> None:
        self.status_label.setText("Could not load PyTorch")
        QMessageBox.critical(self, "genworkbench", f"Could not load PyTorch or the models:\n{e}")

    def _on_backend(self, payload) -> None:
        infos, datasets = payload
        self.model_infos = infos
        self.model_list.blockSignals(True)
        self.model_list.clear()
        for name, info in infos.items():
            item = QListWidgetItem(f"{name}\n{info.description}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            caps = ", ".join(info.model_cls.class_capabilities()) or "train only"
            item.setToolTip(f"<b>{name}</b> ({info.family})<br>{info.description}"
                            f"<br><i>can: {caps}</i>")
            self.model_list.addItem(item)
        self.model_list.blockSignals(False)
        self.model_list.setEnabled(True)
        self._dataset_kinds = {d.name: d.kind for d in datasets}
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.clear()
        for d in datasets:
            self.dataset_combo.addItem(d.name, d.name)
            self.dataset_combo.setItemData(self.dataset_combo.count() - 1, d.description,
                                           Qt.ItemDataRole.ToolTipRole)
        self._add_torchvision_items()
        for source in self._recent_folders():
            self._add_folder_item(source)
        ds = str(self.settings.value("dataset", DEFAULT_DATASET))
        self.dataset_combo.setCurrentIndex(max(0, self._find_dataset(dataset_choice(ds))))
        self.dataset_combo.blockSignals(False)
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_changed)
        self._on_dataset_changed()
        self.select_model(self.settings.value("model", DEFAULT_MODEL))
        self.status_label.setText("Ready. Press Train (Ctrl+Enter) to start.")
        self._update_controls()
        # torch, Qt and pyqtgraph are loaded now: move those few hundred thousand objects out of
        # the cyclic collector's reach, or each full collection costs 150–400 ms in mid-draw.
        import gc

        gc.collect()
        gc.freeze()
        self.backend_ready.emit()

    # == model selection ===============================================================================
    def select_model(self, name: str) -> None:
        for i in range(self.model_list.count()):
            if self.model_list.item(i).data(Qt.ItemDataRole.UserRole) == name:
                if self.model_list.currentRow() == i:
                    self._show_model(name)  # same row: no change signal, rebuild the form
                else:
                    self.model_list.setCurrentRow(i)
                return
        if self.model_list.count():
            self.model_list.setCurrentRow(0)

    def _on_model_changed(self, item, _prev=None) -> None:
        if item is None:
            return
        name = item.data(Qt.ItemDataRole.UserRole)
        if name is None or name not in self.model_infos:
            return
        self._remember_form()
        self._show_model(name)

    def _show_model(self, name: str) -> None:
        self.current_model = name
        cfg = self.model_configs.get(name) or self._saved_config(name)
        if self.model_form is not None:
            self.model_form.setParent(None)
            self.model_form.deleteLater()
        self.model_form = ConfigForm(cfg)
        self.model_form.setObjectName("model_form")
        self.model_form.changed.connect(self._on_form_changed)
        caps = self.model_infos[name].model_cls.class_capabilities()
        self.samples_view.set_empty_text(
            SAMPLES_HINT if "sample" in caps else
            f"{name} cannot draw new samples: an autoencoder has no prior over its codes.\n"
            "Its reconstructions show what it learned.")
        self.recon_view.set_empty_text(
            RECON_HINT if "reconstruct" in caps else
            f"{name} has no encoder, so there is nothing to reconstruct.\n"
            "Its samples show what it learned.")
        # GANs: the class histogram replaces the (empty) reconstructions.
        self.grid_boxes["Reconstructions"].setVisible("reconstruct" in caps)
        self.grid_boxes["Classes of the samples"].setVisible("reconstruct" not in caps
                                                            and "sample" in caps)
        self.class_hist.clear()
        self.model_box_layout.insertWidget(0, self.model_form)
        self.tabs.setTabText(0, f"Model: {name}")
        self._on_form_changed()
        self._suit_data_to_model(name)

    def _dataset_kind(self, choice) -> str:
        if isinstance(choice, dict):
            return "image"  # folders and torchvision sets are images
        return getattr(self, "_dataset_kinds", {}).get(choice, "image")

    def _suit_data_to_model(self, name: str) -> None:
        """A model made for another kind of data than the selected set (a 2-D toy GAN on
        digits, a VAE on a 2-D mixture) switches to its own default dataset; a model tuned
        with its own batch size gets it in the Training tab."""
        info = self.model_infos[name]
        default = getattr(info, "default_dataset", None)
        current = self.dataset_combo.currentData()
        if default and self._dataset_kind(current) != self._dataset_kind(default) \
                and self._find_dataset(default) >= 0 and not self.training:
            self.dataset_combo.setCurrentIndex(self._find_dataset(default))
            self.status_label.setText(f"{name} is made for {self._dataset_kind(default)} "
                                      f"data: dataset set to {default}.")
        batch = getattr(info, "batch_size", None)
        try:
            cur = self.train_form.value()
        except WorkbenchError:
            return
        hinted = getattr(self, "_batch_hint", None)  # (batch set for a model, the user's before)
        if batch and cur.batch_size != batch:
            before = hinted[1] if hinted and cur.batch_size == hinted[0] else cur.batch_size
            self.train_form.set_config(C.replace(cur, batch_size=batch))
            self._batch_hint = (batch, before)
        elif not batch and hinted and cur.batch_size == hinted[0]:
            # Back to a model without its own batch size: give the user's choice back.
            self.train_form.set_config(C.replace(cur, batch_size=hinted[1]))
            self._batch_hint = None

    def _on_form_changed(self) -> None:
        """Grey out fields the chosen architecture does not use."""
        if self.model_form is None:
            return
        raw = self.model_form.raw_values()
        if "arch" in raw:
            self.model_form.set_enabled_fields({"hidden": raw["arch"] == "mlp",
                                                "channels": raw["arch"] == "conv"})

    def _remember_form(self) -> None:
        if self.model_form is None or self.current_model is None:
            return
        try:
            self.model_configs[self.current_model] = self.model_form.value()
        except WorkbenchError:
            pass  # an invalid edit is not remembered

    def _saved_config(self, name: str):
        info = self.model_infos[name]
        default = info.default_config()
        raw = self.settings.value(f"config/{name}")
        if raw:
            try:
                return C.replace(default, **{k: tuple(v) if isinstance(v, list) else v
                                             for k, v in json.loads(raw).items()})
            except (WorkbenchError, ValueError, TypeError):
                pass  # a stale saved config (fields changed): fall back to the defaults
        return default

    # == training =========================================================================================
    @property
    def training(self) -> bool:
        return self.thread is not None and self.thread.running

    def _read_forms(self):
        try:
            config = self.model_form.value()
            settings = self.train_form.value()
        except WorkbenchError as e:
            QMessageBox.warning(self, "Check the settings", str(e))
            return None
        return config, settings

    def start_training(self, resume_dir: Path | None = None) -> bool:
        if self.training or self.model_form is None:
            return False
        forms = self._read_forms()
        if forms is None:
            return False
        config, settings = forms
        name = self.current_model
        dataset = self.dataset_combo.currentData() or DEFAULT_DATASET
        self.model_configs[name] = config
        self._save_choices()
        from workbench.core.paths import new_run_dir

        resume = bool(resume_dir)
        run_dir = Path(resume_dir) if resume else new_run_dir(name, self.workspace)
        job = {"model": name, "dataset": dataset, "config": C.to_dict(config),
               "settings": C.to_dict(settings), "run_dir": run_dir, "resume": resume}

        self.run_dir = run_dir
        self.opened_run = None
        self._stop_following()
        if not resume:
            self.plots.setup(self.model_infos[name].model_cls.plot_groups)
            self.samples_view.clear_image()
            self.recon_view.clear_image()
            self.latent.clear()
        self.snapshot = None
        t = TrainingRun(job, child_process=self.act_in_process.isChecked(), parent=self)
        t.started_run.connect(self._on_started)
        t.metrics.connect(self._on_metrics)
        t.grids.connect(self._on_grids)
        t.snapshot.connect(self._on_snapshot)
        t.finished_run.connect(self._on_finished)
        t.failed.connect(self._on_failed)
        t.ended.connect(self._on_thread_done)
        self.thread = t
        self._snapshot_meta = (name, config, dataset)
        self.settings.setValue("train_in_process", self.act_in_process.isChecked())
        self.progress.setValue(0)
        self.progress.show()
        self.status_label.setText(f"Preparing {name} on {self.dataset_combo.currentText()}…")
        t.start()
        self._update_controls()
        return True

    def continue_run(self) -> None:
        if self.opened_run is not None:
            self.start_training(resume_dir=self.opened_run)

    def toggle_pause(self) -> None:
        if not self.training:
            return
        if self.thread.paused:
            self.thread.resume()
            self.status_label.setText("Resumed.")
        else:
            self.thread.pause()
            self.status_label.setText("Paused. Press Pause again (Ctrl+P) to resume.")
        self._update_controls()

    def stop_training(self) -> None:
        if self.training:
            self.thread.stop()
            self.status_label.setText("Stopping after this step…")

    def _on_started(self, ev) -> None:
        self.total_steps = ev.total_steps
        self.plots.set_total_steps(ev.total_steps)
        self.progress.setRange(0, max(ev.total_steps, 1))
        self.progress.setValue(ev.start_step)
        self.progress.setFormat("%v / %m")
        self.progress.setToolTip("Optimisation steps done / planned")
        self.status_label.setText(f"Training {ev.model} on {ev.device}, batch {ev.batch_size}, "
                                  f"{ev.total_steps} steps ({ev.steps_per_epoch} per epoch)")

    def _on_metrics(self, batch) -> None:
        self.plots.add(batch)
        self._last_metrics = batch[-1]
        ips = next((m.images_per_s for m in reversed(batch) if m.phase == "train"), None)
        if ips is not None:
            self._last_ips = ips

    def _refresh_status(self) -> None:
        """Progress and status text at a human pace (each repaint costs the trainer CPU)."""
        last = self._last_metrics
        if last is None or not self.training:
            return
        self._last_metrics = None
        self.progress.setValue(last.step)
        loss = last.values.get("loss")
        loss_txt = f" · loss {loss:.4g}" if loss is not None else ""
        paused = " · paused" if self.thread.paused else ""
        self.status_label.setText(f"step {last.step}/{self.total_steps} · epoch {last.epoch + 1}"
                                  f" · {self._last_ips:,.0f} img/s{loss_txt}{paused}")

    def _on_grids(self, pics) -> None:
        if pics["samples"] is not None:
            self.samples_view.set_array(pics["samples"])
        if pics["reconstructions"] is not None:
            self.recon_view.set_array(pics["reconstructions"])

    def _on_snapshot(self, snap) -> None:
        name, config, dataset = self._snapshot_meta
        self.snapshot = {"model": name, "config": config, "state": snap["state"],
                         "step": snap["step"], "spec": snap["spec"]}
        self.latent.set_snapshot(self.snapshot, dataset)
        self._classify_samples(self.snapshot, dataset)

    def _classify_samples(self, snap: dict, dataset) -> None:
        """Every few seconds, 500 samples of the snapshot classified by a classifier of the
        dataset (trained once per dataset, then cached on disk) for the class histogram."""
        box = self.grid_boxes["Classes of the samples"]
        if not box.isVisible() or self.hist_jobs.busy or time.monotonic() - self._hist_time < 5:
            return
        self._hist_time = time.monotonic()
        step = snap["step"]

        def done(result):
            if result is None:
                self.class_hist.caption.setText("The dataset has no labels to classify by.")
                return
            hist, names = result
            if len(names) != len(self.class_hist.class_names):
                self._replace_class_histogram(names)
            self.class_hist.set_histogram(hist, step)

        self.hist_jobs.submit(lambda _ctx: _class_histogram(snap, dataset), on_done=done,
                              on_error=lambda e: self.class_hist.caption.setText(
                                  f"Could not classify the samples: {e}"))

    def _replace_class_histogram(self, names) -> None:
        box = self.grid_boxes["Classes of the samples"]
        old = self.class_hist
        self.class_hist = ClassHistogram(names)
        self.class_hist.setToolTip(old.toolTip())
        box.layout().replaceWidget(old, self.class_hist)
        old.deleteLater()

    def _on_center_tab(self, index: int) -> None:
        # Encoding costs CPU the trainer could use: only while a latent view is on screen.
        self.latent.set_active(self.center_tabs.widget(index) in (self.explorer, self.walks))

    def _show_status(self, text: str) -> None:
        self.status_label.setText(text)

    def _on_finished(self, ev) -> None:
        if ev.reason == "diverged":
            QMessageBox.warning(self, "Training diverged", ev.message)
        self.status_label.setText(f"{ev.message.capitalize()}. Run saved in {self.run_dir}")
        self.training_finished.emit(ev)

    def _on_failed(self, message: str) -> None:
        self.status_label.setText("Training failed.")
        QMessageBox.critical(self, "Training failed", message)
        self.training_finished.emit(None)

    def _on_thread_done(self) -> None:
        self.progress.hide()
        if self.thread is not None:
            self.thread.deleteLater()
        self.thread = None
        self._update_controls()

    def _update_controls(self) -> None:
        ready = bool(self.model_infos)
        running = self.training
        self.train_button.setEnabled(ready and not running)
        self.act_train.setEnabled(ready and not running)
        self.pause_button.setEnabled(running)
        self.act_pause.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.act_stop.setEnabled(running)
        self.pause_button.setText("Resume" if running and self.thread.paused else "Pause")
        self.act_resample.setEnabled(self.snapshot is not None)
        self.act_continue.setEnabled(ready and not running and self.opened_run is not None
                                     and not self._run_is_live())
        self.act_export.setEnabled(True)
        self.model_list.setEnabled(ready)
        self.dataset_combo.setEnabled(ready and not running)

    # == decoding from a snapshot (qasync job, latest request wins) ======================================
    def resample(self) -> None:
        snap = self.snapshot
        if snap is None:
            self.status_label.setText("No weights yet: train or open a run first.")
            return
        seed = int(time.time() * 1000) % (2**31)
        # An opened run has no training grids: reconstruct held-out images once as well.
        dataset = self._snapshot_dataset if self.recon_view.array is None else None
        self.decode_jobs.submit(lambda _ctx: _decode_grid(snap, seed, dataset),
                                on_done=self._on_resampled,
                                on_error=lambda e: self.status_label.setText(
                                    f"Could not sample: {e}"))

    def _on_resampled(self, pics: dict) -> None:
        if pics["reconstructions"] is not None:
            self.recon_view.set_array(pics["reconstructions"])
        if pics["samples"] is None:
            self.status_label.setText("This model cannot draw samples (no prior).")
            return
        self.samples_view.set_array(pics["samples"])
        self.status_label.setText("New samples decoded from random codes.")

    # == runs ===============================================================================================
    def open_run_dialog(self) -> None:
        start = str(self.workspace or self.settings.value("last_run_parent", str(Path.home())))
        path = QFileDialog.getExistingDirectory(self, "Open run directory", start)
        if path:
            self.open_run(Path(path))

    def open_run(self, path: Path) -> bool:
        """Show a run directory: its config, its curves, and samples from its newest checkpoint."""
        if self.training:
            QMessageBox.information(self, "genworkbench", "Stop the current training first.")
            return False
        from workbench.engine.runs import RunDir

        try:
            run = RunDir.open(path)
            config = run.config()
            spec = run.data_spec()
            info = self.model_infos[run.model_name] if run.model_name in self.model_infos \
                else None
            if info is None:
                raise WorkbenchError(f"the run's model {run.model_name!r} is not registered")
            ckpts = run.checkpoints()
        except WorkbenchError as e:
            QMessageBox.warning(self, "Cannot open run", str(e))
            return False
        self.settings.setValue("last_run_parent", str(Path(path).parent))
        self._remember_form()
        self.model_configs[run.model_name] = config
        self.current_model = None  # the form now shows the run's config, not an edit to keep
        self.select_model(run.model_name)
        desc = run.meta.get("dataset", {})
        ds = desc.get("builtin") or desc.get("name")
        if "folder" in desc:  # a run on an image folder: offer that folder again
            source = {k: v for k, v in desc.items() if k not in ("name", "spec", "n_train",
                                                                "n_val")}
            ds = source if self._find_dataset(source) >= 0 else self._add_folder_item(source)
        if ds is not None and self._find_dataset(ds) >= 0:
            self.dataset_combo.setCurrentIndex(self._find_dataset(ds))
        self.plots.setup(info.model_cls.plot_groups)
        self.run_dir = self.opened_run = Path(path)
        self._follow_run(run)
        self.samples_view.clear_image()
        self.recon_view.clear_image()
        self.snapshot = None
        if ckpts:
            from safetensors.torch import load_file

            try:
                state = load_file(str(ckpts[-1].weights))
            except Exception as e:  # a corrupt newest checkpoint: say so, keep the curves
                QMessageBox.warning(self, "Checkpoint unreadable",
                                    f"{ckpts[-1].weights} cannot be read: {e}")
            else:
                self.snapshot = {"model": run.model_name, "config": config, "spec": spec,
                                 "state": state, "step": ckpts[-1].step}
                self._snapshot_dataset = desc or ds
                self.resample()
        self.latent.clear()
        if self.snapshot is not None:
            self.latent.set_snapshot(self.snapshot, desc or ds)
        step = ckpts[-1].step if ckpts else 0
        live = " It is being written by another process: its curves follow it live." \
            if self._run_is_live() else " Training → Continue opened run resumes it."
        self.status_label.setText(f"Opened {path}: {run.model_name}, checkpoint at step {step}."
                                  + live)
        self._update_controls()
        return True

    # == following a run that another process writes (headless, remote on a shared disk) =========
    def _follow_run(self, run) -> None:
        """Show the run's curves and keep them growing as metrics.jsonl grows: a file watcher
        (inotify on Linux) wakes a short debounce timer, which reads only the new lines."""
        from workbench.engine.runs import MetricsTail

        self._stop_following()
        self._tail = MetricsTail(run.metrics_path)
        self._followed = run
        self._read_followed_metrics()
        w = self._run_watcher = QFileSystemWatcher(self)
        paths = [str(run.path), str(run.checkpoints_dir)]
        if run.metrics_path.exists():
            paths.append(str(run.metrics_path))
        w.addPaths([p for p in paths if Path(p).exists()])
        w.fileChanged.connect(self._run_changed)
        w.directoryChanged.connect(self._run_changed)

    def _stop_following(self) -> None:
        w = getattr(self, "_run_watcher", None)
        if w is not None:
            w.deleteLater()
        self._run_watcher = None
        self._followed = None

    def _run_changed(self, _path: str = "") -> None:
        if not hasattr(self, "_follow_timer"):
            self._follow_timer = QTimer(self)
            self._follow_timer.setSingleShot(True)
            self._follow_timer.setInterval(250)  # a burst of appends costs one read
            self._follow_timer.timeout.connect(self._on_followed_run_changed)
        if not self._follow_timer.isActive():
            self._follow_timer.start()

    def _on_followed_run_changed(self) -> None:
        run, w = self._followed, self._run_watcher
        if run is None or w is None:
            return
        # A file replaced atomically (a resume trims metrics) drops out of the watch list.
        for p in (run.metrics_path, run.checkpoints_dir):
            if p.exists() and str(p) not in w.files() + w.directories():
                w.addPath(str(p))
        self._read_followed_metrics()
        ckpts = run.checkpoints()
        newest = ckpts[-1].step if ckpts else 0
        have = self.snapshot["step"] if self.snapshot else 0
        self.act_reload_checkpoint.setEnabled(newest > have)
        if newest > have:
            self.status_label.setText(f"{run.path.name}: new checkpoint at step {newest}. "
                                      "Training → Load newest checkpoint (Ctrl+L) shows it.")

    def _read_followed_metrics(self) -> None:
        from workbench.engine.runs import metrics_from_record

        records, restarted = self._tail.read_new()
        if restarted:  # rewritten from the start: draw it again
            info = self.model_infos.get(self._followed.model_name)
            if info is not None:
                self.plots.setup(info.model_cls.plot_groups)
        metrics = [m for rec in records for m in metrics_from_record(rec)]
        if metrics:
            self.plots.add(metrics)

    def _run_is_live(self) -> bool:
        run = getattr(self, "_followed", None)
        if run is None:
            return False
        from workbench.engine.workspace import read_run

        try:
            return read_run(run.path).status == "running"
        except Exception:  # noqa: BLE001 - the status is a hint, never a reason to fail
            return False

    def load_newest_checkpoint(self) -> None:
        """Bring the followed run's newest checkpoint into the sample and latent views."""
        run = getattr(self, "_followed", None)
        if run is None:
            self.status_label.setText("Open a run first (File → Open run…).")
            return
        from safetensors.torch import load_file

        ckpts = run.checkpoints()
        if not ckpts:
            self.status_label.setText("The run has no checkpoint yet.")
            return
        try:
            state = load_file(str(ckpts[-1].weights))
        except Exception as e:  # noqa: BLE001 - being written right now, or corrupt
            self.status_label.setText(f"Cannot read {ckpts[-1].weights.name} yet: {e}")
            return
        self.snapshot = {"model": run.model_name, "config": run.config(),
                         "spec": run.data_spec(), "state": state, "step": ckpts[-1].step}
        self._snapshot_dataset = run.meta.get("dataset", {})
        self.recon_view.clear_image()  # redrawn from the new weights
        self.resample()
        self.latent.set_snapshot(self.snapshot, run.meta.get("dataset", {}))
        self.act_reload_checkpoint.setEnabled(False)
        self.status_label.setText(f"Showing {run.path.name} at step {ckpts[-1].step}.")
        self._update_controls()

    # == the Runs dock and experiment files (issue 7; the logic lives in panels/runs_panel.py) ==============
    def _build_runs_dock(self):
        from workbench.core.paths import workspace_dir
        from workbench.ui.panels.runs_panel import RunsPanel, saved_workspace

        self.workspace = self.workspace or saved_workspace(self.settings)
        self.runs_panel = RunsPanel(self.workspace or workspace_dir())
        self.runs_panel.open_requested.connect(self.open_run)
        self.runs_panel.resume_requested.connect(
            lambda p: self.open_run(p) and self.continue_run())
        self.runs_panel.workspace_changed.connect(self._on_workspace_changed)
        self.runs_dock = QDockWidget("Runs", self)
        self.runs_dock.setObjectName("runs_dock")
        self.runs_dock.setWidget(self.runs_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.runs_dock)
        self.runs_dock.hide()  # View → Runs shows it; its place is then remembered
        return self.runs_dock

    def _on_workspace_changed(self, path) -> None:
        self.workspace = Path(path)  # new runs from the window go here
        self.settings.setValue("workspace", str(path))

    def _add_recipe_actions(self, menu) -> None:
        self.act_save_recipe = QAction("&Save recipe…", self)
        self.act_save_recipe.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.act_save_recipe.setStatusTip("Save the model, config, dataset and training "
                                          "settings as a .toml or .json recipe file")
        self.act_save_recipe.triggered.connect(self.save_recipe_dialog)
        self.act_open_recipe = QAction("Open re&cipe…", self)
        self.act_open_recipe.setStatusTip("Fill the model, config, dataset and training "
                                          "forms from a recipe file; Train repeats it")
        self.act_open_recipe.triggered.connect(self.open_recipe_dialog)
        menu.addSeparator()
        menu.addAction(self.act_open_recipe)
        menu.addAction(self.act_save_recipe)

    def save_recipe_dialog(self) -> None:
        start = str(self.settings.value("last_recipe_dir", str(Path.home())))
        path, _ = QFileDialog.getSaveFileName(self, "Save recipe", start + "/recipe.toml",
                                              "Recipe (*.toml *.json)")
        if path:
            self.save_recipe(Path(path))

    def save_recipe(self, path: Path) -> bool:
        from workbench.engine.recipes import save_recipe
        from workbench.ui.panels.runs_panel import recipe_from_window

        if path.suffix.lower() not in (".toml", ".json"):
            path = path.with_suffix(".toml")
        try:
            save_recipe(recipe_from_window(self), path)
        except WorkbenchError as e:
            QMessageBox.warning(self, "Cannot save the recipe", str(e))
            return False
        self.settings.setValue("last_recipe_dir", str(path.parent))
        self.status_label.setText(f"Saved {path}: `genworkbench train --recipe {path}` "
                                  "or File → Open recipe… repeats it.")
        return True

    def open_recipe_dialog(self) -> None:
        start = str(self.settings.value("last_recipe_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Open recipe", start,
                                              "Recipe (*.toml *.json)")
        if path:
            self.open_recipe(Path(path))

    def open_recipe(self, path: Path) -> bool:
        from workbench.engine.recipes import load_recipe
        from workbench.ui.panels.runs_panel import apply_recipe

        if self.training:
            QMessageBox.information(self, "genworkbench", "Stop the current training first.")
            return False
        try:
            notes = apply_recipe(self, load_recipe(path))
        except WorkbenchError as e:
            QMessageBox.warning(self, "Cannot open the recipe", str(e))
            return False
        self.settings.setValue("last_recipe_dir", str(Path(path).parent))
        self.status_label.setText(f"Loaded {Path(path).name}: press Train to run it."
                                  + "".join(f" Note: {n}." for n in notes))
        return True

    # == the GAN lab and the Dirac-GAN game (built on first view) ============================================
    def _make_gan_lab(self) -> QWidget:
        from workbench.ui.panels.gan_lab import GanLabPanel

        self.gan_lab = GanLabPanel()
        return self.gan_lab

    def _make_dirac(self) -> QWidget:
        from workbench.ui.panels.dirac_view import DiracPanel

        self.dirac = DiracPanel()
        return self.dirac

    # == metrics, anomaly detection and denoising (built on first view) =====================================
    def analysis_source(self) -> dict:
        """What the Metrics and Anomaly tabs work on: the newest weights (or None), their
        dataset (else the selected one) and the opened run directory."""
        dataset = self.dataset_combo.currentData() or DEFAULT_DATASET
        if self.snapshot is not None:
            if self.opened_run is not None:
                from workbench.engine.runs import RunDir

                try:
                    dataset = RunDir.open(self.opened_run).meta["dataset"]
                except WorkbenchError:
                    pass
            elif getattr(self, "_snapshot_meta", None) is not None:
                dataset = self._snapshot_meta[2]
        return {"snapshot": self.snapshot, "dataset": dataset, "run_dir": self.opened_run}

    def _make_metrics(self) -> QWidget:
        from workbench.ui.panels.metrics_panel import MetricsPanel

        self.metrics_panel = MetricsPanel(self.analysis_source)
        self.metrics_panel.status.connect(self._show_status)
        return self.metrics_panel

    def _make_experiments(self) -> QWidget:
        from workbench.experiments.registry import list_experiments
        from workbench.ui.panels.experiment_view import ExperimentView

        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(4, 4, 4, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Experiment"))
        self.experiment_combo = combo = QComboBox()
        combo.setToolTip("Small, self-contained studies that end in a table and a picture; "
                         "the lessons open them with their own settings.")
        for info in list_experiments():
            combo.addItem(info.title, info.name)
        row.addWidget(combo, 1)
        lay.addLayout(row)
        self.experiments = ExperimentView()
        lay.addWidget(self.experiments, 1)
        combo.currentIndexChanged.connect(lambda _i: self.choose_experiment(combo.currentData()))
        if combo.count():
            self.experiments.set_experiment(combo.currentData())
        return page

    def choose_experiment(self, name: str, params: dict | None = None) -> None:
        """Show experiment `name` in the Experiments tab (a running one is cancelled first)."""
        view = self.experiments_view()
        if view.running:
            view.shutdown()
        view.set_experiment(name, params)
        combo = self.experiment_combo
        combo.blockSignals(True)
        combo.setCurrentIndex(combo.findData(name))
        combo.blockSignals(False)

    def experiments_view(self):
        """The Experiments tab's view (built now if it was not yet)."""
        self.view_pages["experiment"].ensure()
        return self.experiments

    # == lessons (workbench/ui/lessons.py) ==================================================================
    def open_lesson(self, name: str, confirm: bool = True) -> bool:
        return self.lessons.open(name, confirm=confirm)

    def maybe_show_start_page(self) -> None:
        self.lessons.maybe_show_start_page()

    def set_control_visible(self, key: str, visible: bool) -> None:
        """Show or hide one control of classroom mode (engine.lessons.CONTROLS)."""
        kind, _, name = key.partition(".")
        if kind == "tab":
            self.center_tabs.setTabVisible(self.center_tabs.indexOf(self.view_pages[name]),
                                           visible)
        elif key == "dock.setup":
            self.dock.setVisible(visible)
        elif key == "dock.runs":
            if not visible:
                self.runs_dock.hide()  # shown again only by the user (View → Runs)
        elif key == "toolbar":
            self.toolbar.setVisible(visible)
        elif key == "setup.models":
            self.model_label.setVisible(visible)
            self.model_list.setVisible(visible)
        elif key == "setup.dataset":
            self.dataset_row.setVisible(visible)
        elif key in ("setup.model_config", "setup.train_settings"):
            self.tabs.setTabVisible(0 if key == "setup.model_config" else 1, visible)

    def _make_anomaly(self) -> QWidget:
        from workbench.ui.panels.anomaly import AnomalyPanel

        self.anomaly_panel = AnomalyPanel(self.analysis_source)
        self.anomaly_panel.status.connect(self._show_status)
        return self.anomaly_panel

    # == datasets: built-in names and image folders ========================================================
    def _find_dataset(self, choice) -> int:
        key = dataset_key(choice)
        for i in range(self.dataset_combo.count()):
            if dataset_key(self.dataset_combo.itemData(i)) == key:
                return i
        return -1

    def _recent_folders(self) -> list[dict]:
        try:
            items = json.loads(str(self.settings.value("recent_folders", "[]")))
        except ValueError:
            return []
        return [d for d in items if isinstance(d, dict) and Path(d.get("folder", "")).is_dir()]

    def _add_folder_item(self, source: dict, label: str | None = None) -> dict:
        i = self._find_dataset(source)
        if i < 0:
            name = Path(source["folder"]).name or source["folder"]
            size = source.get("size")
            self.dataset_combo.addItem(label or f"{name} (folder, {size}×{size})", source)
            i = self.dataset_combo.count() - 1
        self.dataset_combo.setItemData(i, f"Image folder {source['folder']}",
                                       Qt.ItemDataRole.ToolTipRole)
        return source

    def _data_root(self) -> str:
        from workbench.core.paths import data_root

        return str(self.settings.value("data_root", "") or data_root())

    def _add_torchvision_items(self) -> None:
        """torchvision sets under the data folder: usable when present, downloadable if not."""
        from workbench.data.tv import TV_DATASETS, is_present

        root = self._data_root()
        for name, ds in TV_DATASETS.items():
            choice = {"torchvision": name, "root": root}
            present = is_present(name, root)
            text = f"{name} (torchvision)" + ("" if present else " — not downloaded")
            i = self._find_dataset(choice)
            if i < 0:
                self.dataset_combo.addItem(text, choice)
                i = self.dataset_combo.count() - 1
            self.dataset_combo.setItemText(i, text)
            self.dataset_combo.setItemData(i, f"{ds.description}\nin {root}",
                                           Qt.ItemDataRole.ToolTipRole)

    def choose_data_root(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder with torchvision datasets",
                                                self._data_root())
        if not path:
            return
        self.settings.setValue("data_root", path)
        current = self.dataset_combo.currentData()
        self.dataset_combo.blockSignals(True)
        for i in reversed(range(self.dataset_combo.count())):  # re-list under the new root
            d = self.dataset_combo.itemData(i)
            if isinstance(d, dict) and "torchvision" in d:
                self.dataset_combo.removeItem(i)
        self._add_torchvision_items()
        if isinstance(current, dict) and "torchvision" in current:
            current = {"torchvision": current["torchvision"], "root": self._data_root()}
        self.dataset_combo.setCurrentIndex(max(0, self._find_dataset(current)))
        self.dataset_combo.blockSignals(False)
        self._on_dataset_changed()

    def download_dataset(self) -> None:
        choice = self.dataset_combo.currentData()
        if not (isinstance(choice, dict) and "torchvision" in choice):
            return
        self.scan_progress.setRange(0, 0)
        self.scan_progress.setFormat("downloading %p%")
        self.scan_progress.show()
        self.download_button.setEnabled(False)
        self.status_label.setText(f"Downloading {choice['torchvision']}…")

        def work(ctx):
            from workbench.data.tv import download

            return download(choice["torchvision"], choice["root"], ctx.progress)

        def done(_path):
            self._download_finished()
            self._refresh_torchvision_items()
            self.status_label.setText(f"{choice['torchvision']} downloaded to {choice['root']}.")

        def failed(e):
            self._download_finished()
            QMessageBox.warning(self, "Download failed", str(e))

        self.data_jobs.submit(work, on_done=done, on_error=failed,
                              on_progress=self._on_scan_progress)

    def _download_finished(self) -> None:
        self.scan_progress.hide()
        self.scan_progress.setFormat("scanning %v / %m")
        self.download_button.setEnabled(True)

    def _refresh_torchvision_items(self) -> None:
        self.dataset_combo.blockSignals(True)
        self._add_torchvision_items()
        self.dataset_combo.blockSignals(False)
        self._on_dataset_changed()

    def open_folder_dialog(self) -> None:
        start = str(self.settings.value("last_folder", str(Path.home())))
        path = QFileDialog.getExistingDirectory(self, "Open image folder", start)
        if path:
            self.open_folder(path)

    def open_folder(self, path: str) -> None:
        """Scan, decode and cache a folder in the background, then offer it as a dataset."""
        from workbench.data.folder import FolderOptions

        if self.training:
            QMessageBox.information(self, "genworkbench", "Stop the current training first: "
                                    "a new dataset is used for the next run.")
            return
        self.cancel_folder_scan()
        self.settings.setValue("last_folder", str(Path(path).parent))
        options = FolderOptions(size=int(self.folder_size.currentData()),
                                color=self.folder_color.currentData(),
                                fit=self.folder_fit.currentData())
        self.scan_progress.setRange(0, 0)  # busy until the first count arrives
        self.scan_progress.show()
        self.scan_cancel.show()
        self.status_label.setText(f"Scanning {path}…")

        def cancelled():
            self._on_scan_done()
            self.status_label.setText("Folder scan cancelled.")

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
        self._folder_reports[dataset_key(source)] = report
        self.dataset_combo.blockSignals(True)
        self._add_folder_item(source)
        self.dataset_combo.blockSignals(False)
        recent = [source] + [d for d in self._recent_folders() if dataset_key(d) !=
                             dataset_key(source)]
        self.settings.setValue("recent_folders", json.dumps(recent[:MAX_RECENT_FOLDERS]))
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.setCurrentIndex(self._find_dataset(source))
        self.dataset_combo.blockSignals(False)
        self.dataset_view.set_data(data, report)
        self.center_tabs.setCurrentWidget(self.dataset_page)
        skipped = f"; {len(report.skipped)} files skipped (Dataset → Skipped files…)" \
            if report.skipped else ""
        self.status_label.setText(f"Loaded {report.ok} images from {report.root}{skipped}. "
                                  "Press Train to train the selected model on them.")

    def _on_folder_failed(self, e: BaseException) -> None:
        self._on_scan_done()
        message, report = folder_failure(e)
        self.status_label.setText("The folder could not be used.")
        QMessageBox.warning(self, "Cannot use this folder", message)
        if report is not None and report.skipped:
            self.dataset_view.set_data(None)
            from workbench.ui.panels.dataset_view import FolderReportDialog

            dlg = FolderReportDialog(report, self)
            dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dlg.open()

    def _on_dataset_changed(self, _index: int = 0) -> None:
        """Show the chosen dataset in the Dataset tab (loaded off the GUI thread)."""
        choice = self.dataset_combo.currentData()
        if choice is None:
            return
        report = self._folder_reports.get(dataset_key(choice))
        tv = isinstance(choice, dict) and "torchvision" in choice
        self.download_button.setVisible(tv)

        def load(_ctx):
            from workbench.data import load_dataset

            return load_dataset(choice)

        def failed(e):
            self.dataset_view.set_data(None)
            self.dataset_view.grid.set_empty_text(f"{e}")
            self.status_label.setText(f"Cannot load the dataset: {e}")

        self.data_jobs.submit(load, on_done=lambda data: self.dataset_view.set_data(data, report),
                              on_error=failed)

    def dragEnterEvent(self, event):
        if DatasetView._dropped_folder(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        path = DatasetView._dropped_folder(event.mimeData())
        if path:
            event.acceptProposedAction()
            self.open_folder(path)

    def export_sheet(self) -> None:
        """File → Export sample sheet…: a dialog with a live preview of the snapshot's weights;
        it saves a PNG with its provenance and a .png.json sidecar."""
        from workbench.ui.panels.sheet_export import SheetExportDialog

        if self.snapshot is None:
            QMessageBox.information(self, "Nothing to export", "There are no weights to draw "
                                    "from yet: train a model or open a run (Ctrl+O).")
            return
        meta = getattr(self, "_snapshot_meta", None)
        source = {**self.snapshot, "run": self.run_dir,
                  "dataset": meta[2] if meta else self.dataset_combo.currentData()}
        dlg = SheetExportDialog(source, self)
        dlg.saved.connect(lambda p: self.status_label.setText(
            f"Saved the sheet to {p} (provenance in {Path(p).name}.json)"))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.sheet_dialog = dlg
        dlg.open()

    def export_samples(self) -> None:
        arr = self.samples_view.array
        if arr is None:
            QMessageBox.information(self, "Nothing to export",
                                    "There is no sample grid yet: train a model or open a run.")
            return
        default = str((self.run_dir or Path.home()) / "samples.png")
        path, _ = QFileDialog.getSaveFileName(self, "Export samples", default, "PNG (*.png)")
        if not path:
            return
        from workbench.core.atomic import atomic_save_png

        try:
            atomic_save_png(arr, Path(path), {"run": str(self.run_dir or ""),
                                              "model": self.current_model or ""})
        except OSError as e:
            QMessageBox.warning(self, "Export failed", f"Cannot write {path}: {e.strerror}")
            return
        self.status_label.setText(f"Saved {path}")

    def about(self) -> None:
        QMessageBox.about(self, "About genworkbench",
                          f"<b>genworkbench {__version__}</b><br>Train and take apart "
                          "generative models, and watch them learn.<br><br>Embedded data: "
                          "5000 MNIST digits (LeCun, Cortes, Burges; CC BY-SA 3.0).")

    # == state ===============================================================================================
    def _save_choices(self) -> None:
        s = self.settings
        if self.current_model:
            s.setValue("model", self.current_model)
        s.setValue("dataset", dataset_key(self.dataset_combo.currentData() or DEFAULT_DATASET))
        for name, cfg in self.model_configs.items():
            s.setValue(f"config/{name}", json.dumps(C.to_dict(cfg)))
        try:
            s.setValue("train_settings", json.dumps(C.to_dict(self.train_form.value())))
        except WorkbenchError:
            pass

    def _restore_state(self) -> None:
        s = self.settings
        geo = s.value("geometry")
        if not (isinstance(geo, QByteArray) and self.restoreGeometry(geo)
                and self.width() >= 900 and self.height() >= 600):
            self.resize(1280, 820)
        st = s.value("window_state")
        if isinstance(st, QByteArray):
            self.restoreState(st)
        sp = s.value("splitter")
        if isinstance(sp, QByteArray):
            self.splitter.restoreState(sp)
        try:
            self.center_tabs.setCurrentIndex(int(s.value("center_tab", 0)))
        except (TypeError, ValueError):
            pass
        raw = s.value("train_settings")
        if raw:
            try:
                self.train_form.set_config(C.replace(TrainSettings(), **json.loads(raw)))
            except (WorkbenchError, ValueError, TypeError):
                pass

    def closeEvent(self, event) -> None:
        if self.lessons.classroom_on():  # save the full layout, not the classroom's
            self.lessons.show_all_controls()
        self._remember_form()
        self._save_choices()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.setValue("center_tab", self.center_tabs.currentIndex())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Stop training (it saves a checkpoint) and background jobs; wait for the threads."""
        if self.thread is not None:
            self.thread.stop()
            self.thread.wait(timeout_ms)
        self.decode_jobs.shutdown()
        self.data_jobs.shutdown()
        self.hist_jobs.shutdown()
        if self.gan_lab is not None:
            self.gan_lab.shutdown()
        self.folder_jobs.shutdown(timeout_ms / 1000)
        self.explorer.shutdown()
        for panel in (self.metrics_panel, self.anomaly_panel, self.experiments):
            if panel is not None:
                panel.shutdown()
        self.latent.shutdown()


class _LazyPage(QWidget):
    """A tab whose content is built by `factory` the first time it is shown."""

    def __init__(self, factory):
        super().__init__()
        self._factory = factory
        self.content: QWidget | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)

    def showEvent(self, event):
        super().showEvent(event)
        self.ensure()

    def ensure(self) -> QWidget:
        """Build the content now (a lesson configures a page before it is shown)."""
        if self.content is None:
            self.content = self._factory()
            self.layout().addWidget(self.content)
        return self.content


# == work done off the GUI thread =================================================================
def _import_backend():
    from workbench.models.registry import get_model_info, list_models
    from workbench.data import list_datasets

    infos = {n: get_model_info(n) for n in list_models()}
    use_one_torch_thread_for_the_gui()
    try:  # the fork server imports torch once, now, so Train starts promptly later
        warm_up_process_runner()
    except (OSError, RuntimeError):
        pass  # no fork server: the process runner falls back to spawning
    return infos, list_datasets()


_decoder_cache: dict = {}


def _decode_grid(snap: dict, seed: int, dataset=None) -> dict:
    """Pictures from a CPU copy of the weights (never the model being trained): 64 samples, and,
    given the dataset, held-out images above their reconstructions (for an opened run, which has
    no training grids)."""
    import torch

    from workbench.analysis.latent import LatentProbe
    from workbench.data.cache import cached_dataset
    from workbench.engine.remote import pictures
    from workbench.engine.trainer import grid_pictures

    model = LatentProbe.from_snapshot(snap, _decoder_cache).model
    x_val = y_val = None
    if dataset is not None and model.can("reconstruct"):
        data = cached_dataset(dataset)
        if tuple(data.spec.shape) == tuple(model.data.shape):
            x_val, y_val = data.x_val, data.y_val
    with torch.inference_mode():
        return pictures(grid_pictures(model, snap.get("step", 0), seed, x_val, y_val))


_hist_cache: dict = {}


def _class_histogram(snap: dict, dataset):
    """(class shares of 500 samples, class names), or None for an unlabelled dataset."""
    import torch

    from workbench.analysis.latent import LatentProbe
    from workbench.analysis.metrics import class_histogram, digit_classifier, predict
    from workbench.data.cache import cached_dataset

    data = cached_dataset(dataset)
    if data.y_train is None or data.spec.kind != "image":
        return None
    key = dataset_key(dataset)
    if _hist_cache.get("key") != key:  # the classifier trained on this dataset (once, on disk)
        _hist_cache.clear()
        _hist_cache.update(key=key, classifier=digit_classifier(data))
    classifier = _hist_cache["classifier"]
    model = LatentProbe.from_snapshot(snap, _hist_cache.setdefault("models", {})).model
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        x = model.sample(500, labels=model.cycling_labels(500), generator=g).float()
    names = data.class_names or tuple(str(k) for k in range(data.spec.num_classes))
    return class_histogram(predict(classifier, x)[0]), names
