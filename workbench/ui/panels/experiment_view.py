"""One experiment of experiments/registry.py in a panel: its parameters as a form (the same
ConfigForm as a model's config, on the study's params dataclass) beside Run and Cancel, a
progress bar that carries the experiment's own progress text, and the Result drawn (summary,
tables, one plot per Curve.plot, images). The experiment runs as a Task (ui/tasks.py), as the
anomaly panel's hold-out experiment does, and stops at its next ctx.check() on Cancel.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.experiments.registry import get_experiment, resolve_params, run_experiment
from workbench.ui.forms import ConfigForm
from workbench.ui.panels.image_grid import ImageGridView
from workbench.ui.tasks import Task
from workbench.ui.training_run import all_torch_threads

PROGRESS_STEPS = 1000
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f")


def _run(ctx, name: str, params: dict, seed: int, device: str):
    """The work of the view's task: one experiment, its progress reported to `ctx`."""
    with all_torch_threads():  # the experiment gets every core
        return run_experiment(name, params, ctx=ctx, device=device, seed=seed)


# == the view ======================================================================================
def _cell_text(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    return "" if v is None else str(v)


def _copy_text(v) -> str:
    """A cell for the clipboard: numbers at full useful precision, tabs kept out of text."""
    if isinstance(v, (float, np.floating)) and not isinstance(v, bool):
        return f"{float(v):.8g}"
    return _cell_text(v).replace("\t", " ").replace("\n", " ")


def _to_uint8(pixels) -> np.ndarray:
    a = np.nan_to_num(np.asarray(pixels, np.float64), nan=0.0)
    return (np.clip(a, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)



class WheelScrolls(QObject):
    """Over a plot in the results' scroll area the wheel scrolls the page, as it does everywhere
    else on it (a plot that zoomed under the wheel wrecked its axes on the way down); Ctrl + wheel
    still zooms the plot."""

    def __init__(self, scroll: QScrollArea):
        super().__init__(scroll)
        self.scroll = scroll

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Wheel and not (
                event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            QApplication.sendEvent(self.scroll.verticalScrollBar(), event)
            return True
        return False

class ExperimentView(QWidget):
    """`set_experiment(name, params)`, then Run (or `run()`). Call `shutdown()` before the view
    is destroyed: it cancels a running experiment and waits for it."""

    progressed = Signal(float, str)  # fraction done, the experiment's own progress text
    finished = Signal(object)  # the Result
    failed = Signal(str)  # a message for the user
    cancelled = Signal()

    def __init__(self, parent=None, device: str = "cpu", seed: int = 0):
        super().__init__(parent)
        self.device, self.seed = device, seed
        self.name: str | None = None
        self.result = None
        self.task = Task("experiment")
        self._tables: list[tuple[object, QTableWidget]] = []
        self.plots: dict[str, pg.PlotWidget] = {}
        self.image_views: list[ImageGridView] = []

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel("<b>No experiment chosen</b>")
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        body = QHBoxLayout()
        lay.addLayout(body, 1)
        # Left: the parameters (a form as tall as the study has fields, scrolled when taller
        # than the view) over the buttons; right: the results keep the whole height.
        side = QWidget()
        side.setMinimumWidth(260)
        side.setMaximumWidth(380)
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Parameters")
        bl = QVBoxLayout(box)
        bl.setContentsMargins(2, 2, 2, 2)
        self.form_area = QScrollArea()
        self.form_area.setWidgetResizable(True)
        self.form_area.setFrameShape(QFrame.Shape.NoFrame)
        self.form_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.form: ConfigForm | None = None  # one per experiment: the fields differ
        self.form_area.setWidget(QWidget())
        bl.addWidget(self.form_area)
        side_lay.addWidget(box, 1)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the experiment with these parameters (in the "
                                   "background; the window stays usable).")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.copy_button = QPushButton("Copy table")
        self.copy_button.setToolTip("Copy the result tables to the clipboard, tab-separated "
                                    "(pastes into a spreadsheet).")
        self.copy_button.clicked.connect(self.copy_tables)
        for b in (self.run_button, self.cancel_button, self.copy_button):
            buttons.addWidget(b)
        side_lay.addLayout(buttons)
        body.addWidget(side)

        results = QVBoxLayout()
        body.addLayout(results, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.hide()
        results.addWidget(self.progress)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setObjectName("experiment_summary")
        results.addWidget(self.summary)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self._wheel_scrolls = WheelScrolls(self.scroll)
        results.addWidget(self.scroll, 1)
        self._clear_results()
        self._set_running(False)

    # -- choosing ----------------------------------------------------------------------------------
    def set_experiment(self, name: str, params: dict | None = None) -> bool:
        """Show experiment `name` with its defaults, overridden by `params` (ConfigError for an
        unknown experiment or parameter). False, and nothing changes, while one is running."""
        if self.running:
            return False
        info = get_experiment(name)
        values = resolve_params(name, params)
        self.name, self.result = name, None
        self.title.setText(f"<b>{info.title}</b>")
        self.form = ConfigForm(values)
        self.form_area.setWidget(self.form)  # the previous form is deleted with it
        self._clear_results()
        self._set_running(False)
        return True

    @property
    def running(self) -> bool:
        return self.task.busy

    # -- running -----------------------------------------------------------------------------------
    def run(self) -> bool:
        """Start the experiment with the form's values; False when it cannot start now."""
        if self.name is None or self.running:
            return False
        try:
            params = dataclasses.asdict(self.form.value())  # checked: a refusal names the field
        except WorkbenchError as e:
            self._on_failed(str(e))
            return False
        name, seed, device = self.name, self.seed, self.device
        self.task.submit(lambda ctx: _run(ctx, name, params, seed, device),
                         on_progress=self._on_progress, on_done=self._on_done,
                         on_error=self._on_error, on_cancelled=self._on_cancelled)
        self.progress.setValue(0)
        self.progress.setFormat("Starting…")
        self.progress.show()
        self.summary.setText("")
        self._set_running(True)
        return True

    def cancel(self) -> None:
        if self.running:
            self.task.cancel()  # nothing but on_cancelled arrives from it now
            self.progress.setFormat("Cancelling…")

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Stop a running experiment and wait for it (before the window goes, or before the view
        shows another experiment): nothing it still reports lands on the view."""
        if self.running and self.task.shutdown(timeout_ms / 1000):
            self._on_run_over()
            self.summary.setText("Cancelled.")

    def closeEvent(self, event):
        self.shutdown()
        super().closeEvent(event)

    def _on_progress(self, done: float, total, text: str) -> None:
        fraction = done / total if total else done
        self.progress.setValue(round(min(max(fraction, 0.0), 1.0) * PROGRESS_STEPS))
        # QProgressBar.setFormat expands %p, %v and %m: a literal % in the text is written %%
        self.progress.setFormat(text.replace("%", "%%") if text else "%p%")
        self.progressed.emit(fraction, text)

    def _on_done(self, res) -> None:
        self.result = res
        self._show(res)
        self._on_run_over()
        self.finished.emit(res)

    def _on_error(self, e: BaseException) -> None:
        self._on_run_over()
        self._on_failed(str(e) if isinstance(e, WorkbenchError) else f"{type(e).__name__}: {e}")

    def _on_failed(self, message: str) -> None:
        self.summary.setText(f"The experiment failed: {message}")
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        self._on_run_over()
        self.summary.setText("Cancelled.")
        self.cancelled.emit()

    def _on_run_over(self) -> None:
        self.progress.hide()
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running and self.name is not None)
        self.cancel_button.setEnabled(running)
        self.copy_button.setEnabled(not running and bool(self._tables))
        if self.form is not None:
            self.form.setEnabled(not running)

    # -- drawing -----------------------------------------------------------------------------------
    def _clear_results(self) -> None:
        self._tables, self.plots, self.image_views = [], {}, []
        self.empty = QLabel("Press Run to start the experiment: its table, curves and pictures "
                            "appear here." if self.name is not None else
                            "Choose an experiment (a lesson opens one here).")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(mid);")
        self.scroll.setWidget(self.empty)  # the old results widget is deleted with it
        self.summary.setText("")
        self.copy_button.setEnabled(False)

    def _show(self, res) -> None:
        self._clear_results()
        page = QWidget()
        lay = QVBoxLayout(page)
        self.summary.setText(res.summary)
        # the pictures first (what the lesson is about), then the curves, then the numbers
        if res.images:
            grid = QGridLayout()
            for i, im in enumerate(res.images):
                cell = QWidget()
                cl = QVBoxLayout(cell)
                cl.setContentsMargins(0, 0, 0, 0)
                cap = QLabel(im.title)
                cap.setWordWrap(True)
                cl.addWidget(cap)
                view = ImageGridView("")
                view.set_array(_to_uint8(im.pixels))
                view.setToolTip(im.title)
                cl.addWidget(view, 1)
                self.image_views.append(view)
                grid.addWidget(cell, i // 2, i % 2)
            lay.addLayout(grid)
        if res.curves:
            grid = QGridLayout()
            groups: dict[str, list] = {}
            for c in res.curves:
                groups.setdefault(c.plot, []).append(c)
            for i, (plot, curves) in enumerate(groups.items()):
                pw = self._plot_widget(plot, curves)
                pw.viewport().installEventFilter(self._wheel_scrolls)
                self.plots[plot] = pw
                grid.addWidget(pw, i // 2, i % 2)
            lay.addLayout(grid)
        for t in res.tables:
            if t.title:
                lay.addWidget(QLabel(f"<b>{t.title}</b>"))
            w = self._table_widget(t)
            lay.addWidget(w)
            self._tables.append((t, w))
        lay.addStretch(1)
        self.scroll.setWidget(page)
        self.copy_button.setEnabled(bool(self._tables))

    @staticmethod
    def _table_widget(t) -> QTableWidget:
        w = QTableWidget(len(t.rows), len(t.columns))
        w.setHorizontalHeaderLabels([str(c) for c in t.columns])
        w.verticalHeader().setVisible(False)
        w.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, row in enumerate(t.rows):
            for c, v in enumerate(row):
                item = QTableWidgetItem(_cell_text(v))
                if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
                        v, bool):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                w.setItem(r, c, item)
        w.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        w.horizontalHeader().setStretchLastSection(True)
        # tall enough for every row: the page scrolls, not each table
        h = w.horizontalHeader().sizeHint().height() + 4
        h += sum(w.rowHeight(r) for r in range(w.rowCount()))
        w.setFixedHeight(h)
        w.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        return w

    @staticmethod
    def _plot_widget(plot: str, curves: list) -> pg.PlotWidget:
        pw = pg.PlotWidget(background="w")
        pw.setMinimumHeight(240)
        pw.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        p = pw.getPlotItem()
        p.setMenuEnabled(False)
        if plot != "main":
            p.setTitle(plot)
        p.setLabel("bottom", next((c.x_label for c in curves if c.x_label), ""))
        p.setLabel("left", next((c.y_label for c in curves if c.y_label), ""))
        p.setLogMode(x=any(getattr(c, "log_x", False) for c in curves),
                     y=any(getattr(c, "log_y", False) for c in curves))
        p.showGrid(x=True, y=True, alpha=0.2)
        for axis in ("left", "bottom"):
            p.getAxis(axis).enableAutoSIPrefix(False)  # accuracies stay 0.8, not 800 (×0.001)
        p.addLegend(offset=(-10, 10))
        for i, c in enumerate(curves):
            color = COLORS[i % len(COLORS)]
            few = len(np.asarray(c.x)) <= 30  # few points: mark each one
            p.plot(np.asarray(c.x, np.float64), np.asarray(c.y, np.float64), name=c.name,
                   pen=pg.mkPen(color, width=2), symbol="o" if few else None, symbolSize=6,
                   symbolBrush=color, symbolPen=color)
        return pw

    # -- export ------------------------------------------------------------------------------------
    def table_text(self) -> str:
        """Every result table, tab-separated: its title, the header, then the rows."""
        blocks = []
        for t, _w in self._tables:
            lines = [t.title] if t.title else []
            lines.append("\t".join(_copy_text(c) for c in t.columns))
            lines += ["\t".join(_copy_text(v) for v in row) for row in t.rows]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + ("\n" if blocks else "")

    def copy_tables(self) -> None:
        if self._tables:
            QApplication.clipboard().setText(self.table_text())
