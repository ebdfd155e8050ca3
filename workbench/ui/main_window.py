"""The main window: composition, menus, status bar, drag-and-drop, saved layout and shutdown.

What the window shows lives in its state (ui/state.py). The Setup dock picks the model, data and
settings (docks/setup.py), the training session runs or follows a run (ui/training.py), the
centre's tabs come from the panel registry (panels/registry.py), and the Runs and Lesson docks
sit beside them (docks/runs.py, docks/lesson.py).

Torch is not imported here at module level: the window paints first, then `load_backend()`
imports the models in a worker thread and fills the model list when they are ready.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox

from workbench.core.applog import log
from workbench.data import list_datasets
from workbench.ui.docks.lesson import LessonController
from workbench.ui.help import build_help_menu
from workbench.ui.docks.runs import RunsDock
from workbench.ui.docks.setup import SetupDock
from workbench.ui.panels.dataset_view import DatasetView
from workbench.ui.panels.runs_panel import saved_workspace
from workbench.ui.panels.tabs import KEEP_RUNNING_KEY, PanelTabs
from workbench.ui.state import WindowState
from workbench.ui.tasks import Task
from workbench.ui.training import TrainingSession
from workbench.ui.training_run import (use_one_torch_thread_for_the_gui,
                                       warm_up_process_runner)

DEFAULT_MODEL = "vae_mlp"


def app_settings() -> QSettings:
    """The user's settings; $GENWORKBENCH_SETTINGS (an .ini path) keeps benches and probes apart."""
    path = os.environ.get("GENWORKBENCH_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings()


class MainWindow(QMainWindow):
    backend_ready = Signal()  # the models are loaded and the saved choices are shown

    def __init__(self, settings: QSettings | None = None, workspace: Path | None = None):
        super().__init__()
        settings = settings or app_settings()
        self.setWindowTitle("genworkbench")
        self.state = st = WindowState(settings, workspace or saved_workspace(settings), self)
        st.run_changed.connect(self._name_the_run)
        self.session = TrainingSession(st, self)
        self.session.newer_checkpoint.connect(lambda on: self.act_reload_checkpoint.setEnabled(on))
        self.backend_jobs = Task("backend")
        self.setup = SetupDock(st, self.session, self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.setup)
        self.panels = PanelTabs(st)
        self.setCentralWidget(self.panels)
        self.training_view = self.panels.panel("training")
        self.dataset_page = self.panels.panel("dataset")
        self.runs = RunsDock(st, self.session, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.runs)
        self.runs.hide()  # View → Runs shows it; its place is then remembered
        self.lessons = LessonController(self, st, self.session, self.panels, self.setup,
                                        self.set_control_visible)
        self._build_status_bar()
        self._build_actions()
        self._restore_state()
        for signal in (st.models_loaded, st.training_changed, st.snapshot_changed,
                       st.run_changed):
            signal.connect(self._update_actions)
        self._update_actions()

    # == layout ====================================================================================
    def _build_status_bar(self) -> None:
        self.status_label = QLabel("Starting…")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.dataset_page.scan_progress)
        self.statusBar().addPermanentWidget(self.dataset_page.scan_cancel)
        self.statusBar().addPermanentWidget(self.session.progress)
        self.state.status.connect(self.status_label.setText)
        self.setAcceptDrops(True)  # drop an image folder anywhere on the window

    def _build_actions(self) -> None:
        def action(text, slot, shortcut=None, tip=""):
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setStatusTip(tip)
            a.setToolTip(tip or text)
            a.triggered.connect(slot)
            return a

        session, view = self.session, self.training_view
        self.act_open = action("&Open run…", self.open_run_dialog, "Ctrl+O",
                               "Open a run directory: its curves, config and newest checkpoint")
        self.act_open_folder = action("Open image &folder…", self.dataset_page.open_folder_dialog,
                                      "Ctrl+Shift+O", "Load a folder of your own images as a "
                                      "dataset (sub-folders are classes)")
        self.act_export_sheet = action("&Export sample sheet…", self.export_sheet, "Ctrl+E",
                                       "Samples, reconstructions, traversals or interpolations "
                                       "as a PNG that records how to draw it again")
        self.act_export = action("Export samples as &PNG…", view.export_samples, "Ctrl+Shift+E",
                                 "Save the current sample grid as a PNG")
        self.act_quit = action("&Quit", self.quit, QKeySequence.StandardKey.Quit)
        self.act_train = action("&Train", lambda: session.start(), "Ctrl+Return",
                                "Train the selected model on the selected dataset")
        self.act_pause = action("&Pause / resume", session.toggle_pause, "Ctrl+P",
                                "Pause training (the run waits; nothing is lost)")
        self.act_stop = action("&Stop", session.stop, "Ctrl+.",
                               "Stop after the current step; a checkpoint is saved")
        self.act_reload_checkpoint = action(
            "&Load newest checkpoint", session.load_newest_checkpoint, "Ctrl+L",
            "Show the opened run's newest checkpoint in the sample and latent views (for a run "
            "another process is still training)")
        self.act_reload_checkpoint.setEnabled(False)  # until a followed run saves a newer one
        self.act_continue = action("&Continue opened run", session.continue_run, None,
                                   "Resume the opened run from its newest checkpoint, exactly "
                                   "(weights, optimizer, RNG), up to the steps/epochs set below")
        self.act_in_process = action(
            "Train in a separate &process", lambda on: None, None,
            "Run training in its own process: the window never competes with it for Python's "
            "GIL, and a crash in training cannot close the window. Off: a thread in this process.")
        self.act_in_process.setCheckable(True)
        self.act_in_process.toggled.connect(lambda on: setattr(session, "in_process", on))
        self.act_in_process.setChecked(
            str(self.state.settings.value("train_in_process", "true")).lower() == "true")
        session.in_process = self.act_in_process.isChecked()
        self.act_resample = action("&New samples", view.resample, "Ctrl+R",
                                   "Decode a fresh grid from random codes (from a snapshot "
                                   "of the weights, never the live model)")
        plots = view.plots
        self.act_autorange = action("&Reset plot zoom", lambda: plots.auto_range(), "Ctrl+0")
        self.act_logy = action("&Logarithmic loss axis", lambda on: plots.set_log_y(on))
        self.act_logy.setCheckable(True)
        self.act_grid = action("Show &grid", lambda on: plots.set_grid(on), None,
                               "Grid lines behind the curves (each redraw then costs more)")
        self.act_grid.setCheckable(True)
        self.act_save_recipe = QAction("&Save recipe…", self)
        self.act_save_recipe.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.act_save_recipe.setStatusTip("Save the model, config, dataset and training "
                                          "settings as a .toml or .json recipe file")
        self.act_save_recipe.triggered.connect(self.runs.save_recipe_dialog)
        self.act_open_recipe = QAction("Open re&cipe…", self)
        self.act_open_recipe.setStatusTip("Fill the model, config, dataset and training "
                                          "forms from a recipe file; Train repeats it")
        self.act_open_recipe.triggered.connect(self.runs.open_recipe_dialog)

        mb = self.menuBar()
        m = mb.addMenu("&File")
        for a in (self.act_open, self.act_open_folder, self.act_export_sheet, self.act_export):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_open_recipe)
        m.addAction(self.act_save_recipe)
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
        tabs = self.panels
        for i in range(tabs.count()):
            m.addAction(action(tabs.tabText(i), lambda _=False, i=i: tabs.setCurrentIndex(i),
                               f"Ctrl+{i + 1}", tabs.tabToolTip(i)))
        self.act_keep_running = action(
            "&Keep background panels running", self._keep_background_running,
            tip="The GAN lab pauses when you leave its tab or start a training, so that it never "
                "takes a core behind your back; tick this to let it play on")
        self.act_keep_running.setCheckable(True)
        self.act_keep_running.setChecked(self.panels.keep_running)
        m.addAction(self.act_keep_running)
        m.addSeparator()
        m.addAction(self.setup.toggleViewAction())
        m.addAction(self.runs.toggleViewAction())
        self.lessons.build_menu(mb)
        m.addAction(self.lessons.dock.toggleViewAction())
        build_help_menu(self, self.lessons.show_start_page)

        tb = self.toolbar = self.addToolBar("Training")
        tb.setObjectName("training_toolbar")
        for a in (self.act_train, self.act_pause, self.act_stop, self.act_resample):
            tb.addAction(a)

    def _update_actions(self) -> None:
        st = self.state
        ready, running = st.ready, st.training
        self.act_train.setEnabled(ready and not running)
        self.act_pause.setEnabled(running)
        self.act_stop.setEnabled(running)
        self.act_resample.setEnabled(st.snapshot is not None)
        self.act_continue.setEnabled(ready and self.session.can_continue())

    def set_control_visible(self, key: str, visible: bool) -> None:
        """Show or hide one control of classroom mode (course/lessons.py CONTROLS)."""
        kind, _, name = key.partition(".")
        if kind == "tab":
            self.panels.set_panel_visible(name, visible)
        elif key == "dock.setup":
            self.setup.setVisible(visible)
        elif key == "dock.runs":
            if not visible:
                self.runs.hide()  # shown again only by the user (View → Runs)
        elif key == "toolbar":
            self.toolbar.setVisible(visible)
        elif kind == "setup":
            self.setup.set_part_visible(name, visible)

    # == backend (torch) loading ======================================================================
    def load_backend(self) -> None:
        """Import torch and the model registry in a thread; fill the lists when done."""
        self.status_label.setText("Loading PyTorch…")
        self.backend_jobs.submit(lambda _ctx: import_backend(), on_done=self._on_backend,
                                 on_error=self._on_backend_error)

    def load_backend_blocking(self) -> None:
        self._on_backend(import_backend())

    def _on_backend_error(self, e: BaseException) -> None:
        self.status_label.setText("Could not load PyTorch")
        QMessageBox.critical(self, "genworkbench", f"Could not load PyTorch or the models:\n{e}")

    def _on_backend(self, payload) -> None:
        infos, datasets = payload
        self.state.set_models(infos, datasets)
        self.state.select_model(self.state.settings.value("model", DEFAULT_MODEL))
        self.status_label.setText("Ready. Press Train (Ctrl+Enter) to start.")
        # torch, Qt and pyqtgraph are loaded now: move those few hundred thousand objects out of
        # the cyclic collector's reach, or each full collection costs 150–400 ms in mid-draw.
        gc.collect()
        gc.freeze()
        self.backend_ready.emit()

    # == File menu ====================================================================================
    def open_run_dialog(self) -> None:
        st = self.state
        start = str(st.workspace or st.settings.value("last_run_parent", str(Path.home())))
        path = QFileDialog.getExistingDirectory(self, "Open run directory", start)
        if path:
            self.session.open_run(Path(path))

    def _keep_background_running(self, on: bool) -> None:
        self.state.settings.setValue(KEEP_RUNNING_KEY, bool(on))

    def export_sheet(self) -> None:
        """File → Export sample sheet…: a dialog with a live preview of the snapshot's weights;
        it saves a PNG with its provenance and a .png.json sidecar."""
        if self.state.snapshot is None:
            QMessageBox.information(self, "Nothing to export", "There are no weights to draw "
                                    "from yet: train a model or open a run (Ctrl+O).")
            return
        # imported on demand: it renders with torch, which the window must not load to paint
        from workbench.ui.panels.sheet_export import SheetExportDialog

        dlg = SheetExportDialog(self.state.snapshot, self, run=self.state.run_dir)
        dlg.saved.connect(lambda p: (log.info("sample sheet exported: %s", p),
                                     self.status_label.setText(
            f"Saved the sheet to {p} (provenance in {Path(p).name}.json)")))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.sheet_dialog = dlg
        dlg.open()

    # == drag and drop: an image folder anywhere on the window ========================================
    def dragEnterEvent(self, event):
        if DatasetView.dropped_folder(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        path = DatasetView.dropped_folder(event.mimeData())
        if path:
            event.acceptProposedAction()
            self.dataset_page.open_folder(path)

    # == saved layout and shutdown ====================================================================
    def _restore_state(self) -> None:
        s = self.state.settings
        geo = s.value("geometry")
        if not (isinstance(geo, QByteArray) and self.restoreGeometry(geo)
                and self.width() >= 900 and self.height() >= 600):
            self.resize(1280, 820)
        st = s.value("window_state")
        if isinstance(st, QByteArray):
            self.restoreState(st)
        sp = s.value("splitter")
        if isinstance(sp, QByteArray):
            self.training_view.restoreState(sp)
        try:
            self.panels.setCurrentIndex(int(s.value("center_tab", 0)))
        except (TypeError, ValueError):
            pass

    def _name_the_run(self) -> None:
        """The title names the run on screen (trained now or opened from disk)."""
        run = self.state.run_dir
        self.setWindowTitle(f"{run.name} — genworkbench" if run is not None else "genworkbench")

    def quit(self) -> bool:
        """File → Quit: the same question as the window's close button."""
        return self.close() if self.may_close() else False

    def may_close(self) -> bool:
        """Ask before a close stops a training (it saves a checkpoint; Resume continues it)."""
        if not self.session.running:
            return True
        return QMessageBox.question(
            self, "Quit while training?",
            "A model is training. Quitting stops it after this step and saves a checkpoint "
            "(Runs → Resume continues it later). Quit now?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No) == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:
        # the user's own close (the title bar's button) asks; File → Quit asked already, and a
        # close from code (tests, the app's shutdown) does not
        if event.spontaneous() and not self.may_close():
            event.ignore()
            return
        if self.lessons.classroom_on():  # save the full layout, not the classroom's
            self.lessons.show_all_controls()
        s = self.state.settings
        self.state.commit_edits()
        self.state.save_choices()
        s.setValue("geometry", self.saveGeometry())
        s.setValue("window_state", self.saveState())
        s.setValue("splitter", self.training_view.saveState())
        s.setValue("center_tab", self.panels.currentIndex())
        s.sync()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Stop training (it saves a checkpoint) and background jobs; wait for the threads."""
        self.session.shutdown(timeout_ms)
        self.backend_jobs.shutdown()
        self.panels.shutdown()
        self.state.latent.shutdown()


def import_backend():
    """Off the GUI thread: torch, the model registry and the dataset list."""
    # function-local: this is the import of torch the window paints before
    from workbench.models.registry import get_model_info, list_models

    infos = {n: get_model_info(n) for n in list_models()}
    use_one_torch_thread_for_the_gui()
    try:  # the fork server imports torch once, now, so Train starts promptly later
        warm_up_process_runner()
    except (OSError, RuntimeError):
        pass  # no fork server: the process runner falls back to spawning
    return infos, list_datasets()
