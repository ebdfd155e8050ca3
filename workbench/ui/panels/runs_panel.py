"""The Runs panel: the workspace's runs in a table (model, dataset, steps, status, created, best
metric), kept fresh by a debounced QFileSystemWatcher; Open, Resume, Rename, Delete (confirmed),
Compare (the selected runs' curves overlaid, a metric picker) and Change workspace folder….

The panel only emits requests (open / resume / workspace changed); the window acts on them, so
the panel is tested on its own. Listing is Qt-free (engine/workspace.py) and cheap: run.json,
status.json and only the newly appended part of each metrics.jsonl are read per refresh.

Recipe files in the window (File → Save / Open recipe…, lessons that train) are read from and
put into the window state by the two functions at the end of this module.
"""

from __future__ import annotations

import math
import os
from datetime import datetime
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout,
                               QHeaderView, QInputDialog, QLabel, QMenu, QMessageBox,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from workbench.core import config as C
from workbench.core.errors import WorkbenchError
from workbench.engine.recipes import Recipe
from workbench.engine.runs import is_val_metric
from workbench.engine.workspace import (RunInfo, delete_run, list_runs, metric_series,
                                        preferred_metric, rename_run)
from workbench.ui.datasets import DEFAULT_DATASET, folder_source, is_torchvision

COLUMNS = ("Run", "Model", "Dataset", "Steps", "Status", "Created", "Best")
REFRESH_MS = 700  # at most one refresh per this interval while files change
RUN_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
              "#e377c2", "#7f7f7f", "#bcbd22"]
STATUS_COLORS = {"running": "#1f77b4", "killed": "#d62728", "diverged": "#d62728",
                 "failed": "#d62728",
                 "unreadable": "#d62728", "stopped": "#b07000", "incomplete": "#b07000"}


def saved_workspace(settings) -> Path | None:
    """The workspace folder chosen in the Runs panel (QSettings key "workspace"), unless
    $GENWORKBENCH_WORKSPACE overrides it for this session."""
    if os.environ.get("GENWORKBENCH_WORKSPACE"):
        return None
    value = settings.value("workspace", "") if settings is not None else ""
    return Path(str(value)) if value else None


class _SortItem(QTableWidgetItem):
    """Sorts by a hidden key (numbers as numbers, ISO dates as text)."""

    def __init__(self, text: str, key=None):
        super().__init__(text)
        self.key = text if key is None else key

    def __lt__(self, other):
        a, b = self.key, getattr(other, "key", other.text())
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


def _fmt_value(v: float) -> str:
    return f"{v:.4g}"


def _fmt_created(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


class RunsPanel(QWidget):
    open_requested = Signal(object)  # Path
    resume_requested = Signal(object)  # Path
    workspace_changed = Signal(object)  # Path
    refreshed = Signal()

    def __init__(self, workspace: Path, parent=None):
        super().__init__(parent)
        self.workspace = Path(workspace)
        self.runs: list[RunInfo] = []
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._schedule)
        self.watcher.fileChanged.connect(self._schedule)
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(REFRESH_MS)
        self.debounce.timeout.connect(self.refresh)
        self._stale = False  # files changed while the panel was hidden
        self._build()
        self.refresh()

    # -- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.folder_label, 1)
        self.btn_folder = QPushButton("Change workspace folder…")
        self.btn_folder.setToolTip("Where runs are listed from, and where the window writes "
                                   "new runs (remembered)")
        self.btn_folder.clicked.connect(self.choose_workspace)
        top.addWidget(self.btn_folder)
        lay.addLayout(top)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runs_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(5, Qt.SortOrder.DescendingOrder)  # newest
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _i: self.open_selected())

        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("runs_compare_plot")
        self.plot.addLegend(offset=(-10, 10))
        self.plot.setLabel("bottom", "step")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.compare_box = QWidget()
        cl = QVBoxLayout(self.compare_box)
        cl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Metric"))
        self.metric_combo = QComboBox()
        self.metric_combo.setObjectName("runs_metric")
        self.metric_combo.setToolTip("The logged metric to overlay (val_* = validation)")
        self.metric_combo.currentTextChanged.connect(self._draw_compare)
        row.addWidget(self.metric_combo, 1)
        close = QPushButton("Close")
        close.clicked.connect(lambda: self.compare_box.hide())
        row.addWidget(close)
        cl.addLayout(row)
        cl.addWidget(self.plot, 1)
        self.compare_box.hide()
        self.compared: list[RunInfo] = []
        self.curves: dict[Path, pg.PlotDataItem] = {}

        # side by side: in the window's bottom dock height is scarce, width is not
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.compare_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        lay.addWidget(split, 1)
        self.setMinimumHeight(240)

        buttons = QHBoxLayout()
        self.actions: dict[str, QAction] = {}
        for name, slot, tip in (
                ("Open", self.open_selected, "Show the run's curves, config and samples"),
                ("Resume", self.resume_selected, "Open the run and continue training it from "
                                                 "its newest checkpoint"),
                ("Rename…", self.rename_selected, "Rename the run's folder"),
                ("Delete…", self.delete_selected, "Move the run to the workspace's .trash "
                                                  "folder (asks first)"),
                ("Compare", self.compare_selected, "Overlay the loss curves of 2 or more "
                                                   "selected runs"),
                ("Refresh", self.refresh, "List the workspace again")):
            act = QAction(name, self)
            act.setToolTip(tip)
            act.triggered.connect(slot)
            self.actions[name.rstrip("…")] = act
            b = QPushButton(name)
            b.setToolTip(tip)
            b.clicked.connect(act.trigger)
            act.changed.connect(lambda b=b, a=act: b.setEnabled(a.isEnabled()))
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self.empty_label = QLabel()
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: palette(mid);")
        lay.addWidget(self.empty_label)

    # -- listing -----------------------------------------------------------------------------------
    def set_workspace(self, path: Path) -> None:
        path = Path(path)
        if path == self.workspace:
            return
        self.workspace = path
        self.refresh()
        self.workspace_changed.emit(path)

    def choose_workspace(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Workspace folder for runs",
                                                str(self.workspace))
        if path:
            self.set_workspace(Path(path))

    def _schedule(self, *_):
        # A burst of events (a checkpoint save, metrics lines while training) costs one refresh
        # per interval; not restarting the timer keeps a steady stream from starving it. A
        # hidden panel (the dock closed) only notes it and refreshes when shown.
        if not self.isVisible():
            self._stale = True
        elif not self.debounce.isActive():
            self.debounce.start()

    def showEvent(self, event):
        super().showEvent(event)
        # A workspace folder that did not exist yet had nothing to watch: the first runs made
        # in it were never heard of, so list it again whenever it is shown unwatched.
        unwatched = str(self.workspace) not in self.watcher.directories()
        if self._stale or unwatched:
            self._stale = False
            self.refresh()

    def refresh(self) -> None:
        selected = set(self.selected_paths())
        try:
            self.runs = list_runs(self.workspace)
            error = ""
        except WorkbenchError as e:
            self.runs, error = [], str(e)
        self.folder_label.setText(f"<b>Workspace</b> {self.workspace}")
        self.folder_label.setToolTip(str(self.workspace))
        t = self.table
        t.setSortingEnabled(False)
        t.setRowCount(len(self.runs))
        for r, info in enumerate(self.runs):
            self._fill_row(r, info)
        t.setSortingEnabled(True)
        t.resizeColumnsToContents()
        self.select([p.name for p in selected])  # keep the selection across refreshes
        self.empty_label.setText(error or ("" if self.runs else
                                           "No runs here yet. Runs you train from the window "
                                           "are written to this folder."))
        self.empty_label.setVisible(bool(self.empty_label.text()))
        self._watch()
        self._update_buttons()
        if self.compare_box.isVisible():
            self._draw_compare()
        self.refreshed.emit()

    def _fill_row(self, r: int, info: RunInfo) -> None:
        steps = f"{info.step} / {info.total}" if info.total else str(info.step)
        if info.error:
            steps = ""
        best = info.best_metric()
        best_text = f"{best[0]} {_fmt_value(best[1])}" if best else ""
        if info.error:
            best_text = f"unreadable: {info.error}"
        cells = [
            _SortItem(info.name),
            _SortItem(info.model),
            _SortItem(info.dataset),
            _SortItem(steps, info.step),
            _SortItem(info.status),
            _SortItem(_fmt_created(info.created) if info.created else "", info.created),
            _SortItem(best_text, best[1] if best else math.inf),
        ]
        tip = [str(info.path)]
        if info.message:
            tip.append(info.message)
        if info.checkpoint_step is not None:
            tip.append(f"newest checkpoint: step {info.checkpoint_step}")
        if info.error:
            tip.append(f"unreadable: {info.error}")
        for k, v in sorted(info.best.items()):
            tip.append(f"{k}: best {_fmt_value(v)}, last {_fmt_value(info.final.get(k, v))}")
        for c, item in enumerate(cells):
            item.setData(Qt.ItemDataRole.UserRole, str(info.path))
            item.setToolTip("\n".join(tip))
            if c == 4 and info.status in STATUS_COLORS:
                item.setForeground(QColor(STATUS_COLORS[info.status]))
            self.table.setItem(r, c, item)

    def _watch(self) -> None:
        """The workspace folder (runs added, renamed, deleted) and each run folder (status.json
        and checkpoints are replaced by rename, which changes the folder)."""
        want = set()
        if self.workspace.is_dir():
            want.add(str(self.workspace))
        for info in self.runs:
            want.add(str(info.path))
            m = info.path / "metrics.jsonl"
            if info.status == "running" and m.exists():
                want.add(str(m))
        have = set(self.watcher.directories()) | set(self.watcher.files())
        if have - want:
            self.watcher.removePaths(sorted(have - want))
        if want - have:
            self.watcher.addPaths(sorted(want - have))

    # -- selection -----------------------------------------------------------------------------------
    def path_at(self, row: int) -> Path | None:
        item = self.table.item(row, 0)
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def selected_paths(self) -> list[Path]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [p for p in (self.path_at(r) for r in rows) if p is not None]

    def selected_runs(self) -> list[RunInfo]:
        by_path = {i.path: i for i in self.runs}
        return [by_path[p] for p in self.selected_paths() if p in by_path]

    def select(self, names: list[str]) -> None:
        """Select the runs with these folder names (for scripts and tests)."""
        self.table.clearSelection()
        mode = self.table.selectionModel()
        for r in range(self.table.rowCount()):
            p = self.path_at(r)
            if p is not None and p.name in names:
                mode.select(self.table.model().index(r, 0),
                            mode.SelectionFlag.Select | mode.SelectionFlag.Rows)

    def _update_buttons(self) -> None:
        runs = self.selected_runs()
        one = len(runs) == 1
        readable = one and runs[0].readable
        self.actions["Open"].setEnabled(readable)
        self.actions["Resume"].setEnabled(readable and runs[0].checkpoint_step is not None
                                          and runs[0].status != "running")
        self.actions["Rename"].setEnabled(one)
        self.actions["Delete"].setEnabled(bool(runs))
        self.actions["Compare"].setEnabled(sum(r.readable for r in runs) >= 2)

    def _context_menu(self, pos) -> None:
        menu = QMenu(self)
        for name in ("Open", "Resume", "Rename", "Delete", "Compare"):
            menu.addAction(self.actions[name])
        menu.addSeparator()
        menu.addAction(self.actions["Refresh"])
        menu.exec(self.table.viewport().mapToGlobal(pos))

    # -- actions ---------------------------------------------------------------------------------------
    def open_selected(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1 and runs[0].readable:
            self.open_requested.emit(runs[0].path)

    def resume_selected(self) -> None:
        runs = self.selected_runs()
        if len(runs) == 1 and runs[0].readable:
            self.resume_requested.emit(runs[0].path)

    def rename_selected(self) -> None:
        runs = self.selected_runs()
        if len(runs) != 1:
            return
        old = runs[0].path
        name, ok = QInputDialog.getText(self, "Rename run", f"New name for {old.name}:",
                                        text=old.name)
        if not ok or not name.strip() or name.strip() == old.name:
            return
        try:
            rename_run(old, name)
        except WorkbenchError as e:
            QMessageBox.warning(self, "Cannot rename", str(e))
            return
        self.refresh()
        self.select([name.strip()])

    def delete_selected(self) -> None:
        runs = self.selected_runs()
        if not runs:
            return
        names = ", ".join(r.name for r in runs[:5]) + (" …" if len(runs) > 5 else "")
        what = "this run" if len(runs) == 1 else f"these {len(runs)} runs"
        answer = QMessageBox.question(
            self, "Delete runs",
            f"Delete {what}?\n{names}\n\nThey are moved to {self.workspace / '.trash'}, "
            "where you can still recover them.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        errors = []
        for r in runs:
            try:
                delete_run(r.path)
            except WorkbenchError as e:
                errors.append(str(e))
        self.refresh()
        if errors:
            QMessageBox.warning(self, "Some runs were not deleted", "\n".join(errors))

    # -- compare -----------------------------------------------------------------------------------------
    def compare_selected(self) -> None:
        runs = [r for r in self.selected_runs() if r.readable]
        if len(runs) < 2:
            return
        self.compared = runs
        keys = sorted({k for r in runs for k in r.best},
                      key=lambda k: (is_val_metric(k), k))
        current = self.metric_combo.currentText()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        self.metric_combo.addItems(keys)
        pick = current if current in keys else preferred_metric(
            [k for k in keys if all(k in r.best for r in runs)] or keys)
        if pick:
            self.metric_combo.setCurrentText(pick)
        self.metric_combo.blockSignals(False)
        self.compare_box.show()
        self._draw_compare()

    def _draw_compare(self, *_):
        key = self.metric_combo.currentText()
        self.plot.clear()
        self.curves = {}
        if not key:
            return
        self.plot.setLabel("left", key)
        for i, run in enumerate(self.compared):
            steps, values = metric_series(run.path, key)
            if not steps:
                continue
            pen = pg.mkPen(RUN_COLORS[i % len(RUN_COLORS)], width=2)
            self.curves[run.path] = self.plot.plot(steps, values, pen=pen, name=run.name)


# -- recipe files in the window ------------------------------------------------------------------------
def recipe_from_state(state) -> Recipe:
    """The Recipe the window's model, config, dataset and training settings describe."""
    config, settings = state.edited()
    return Recipe(state.model, state.dataset or DEFAULT_DATASET, C.to_dict(config),
                  C.to_dict(settings))


def apply_recipe(state, recipe) -> list[str]:
    """Put a recipe (checked first) into the window state; returns notes for the user (e.g. a
    dataset that is not in the list)."""
    config = recipe.model_config()
    settings = recipe.settings()
    notes = []
    state.select_model(recipe.model, config)
    # after the model: choosing it may switch the dataset and batch size to its own defaults
    ds = recipe.dataset
    if isinstance(ds, dict) and "folder" in ds:
        ds = state.datasets.add_folder(folder_source(ds))
    elif is_torchvision(ds):  # the list's entry for that set, whatever its root
        ds = state.datasets.torchvision_entry(ds["torchvision"]) or ds
    elif isinstance(ds, dict):
        ds = ds.get("builtin") or ds.get("name")
    if not state.select_dataset(ds):
        notes.append(f"the dataset {ds!r} is not in the list; open it first (File → Open "
                     "image folder…) or train it from the command line")
    state.set_train_settings(settings)
    return notes
