"""The Metrics tab: every offline metric of the current model and of chosen run directories, one
column each, so runs compare side by side (workbench/reports/evaluation.py computes them).

Evaluations run one at a time as a background task (the first one on a labelled image set trains
the dataset's classifier, which is then cached on disk); the stage shows as progress text. A
column is replaced when its model is evaluated again; results never wait in the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.applog import log
from workbench.data.cache import cached_dataset
from workbench.ui.tasks import Task

# The evaluation and the models import torch: they are imported where they are used, so the panel
# module stays cheap to import before torch loads.
CURRENT = "current"  # the column key of the window's newest weights


class MetricsPanel(QWidget):
    """`source()` -> {"snapshot": ui.state.Snapshot or None, "dataset": ..., "run_dir": Path or
    None} (the window's newest weights and their dataset), or None."""

    status = Signal(str)
    evaluated = Signal(str)  # the key of a column that was (re)filled

    def __init__(self, source: Callable[[], dict | None] | None = None, parent=None):
        super().__init__(parent)
        self.source = source
        self.results: dict[str, dict] = {}  # column key -> evaluation (insertion = column order)
        self.labels: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self._queue: list[tuple[str, str, Callable[[object], dict]]] = []  # work(ctx)
        self._running: str | None = None
        self._jobs = Task("metrics")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        self.eval_button = QPushButton("Evaluate current model")
        self.eval_button.setToolTip("Compute every metric that applies to the newest weights "
                                    "(of the training run, or of the opened run).")
        self.eval_button.clicked.connect(self.evaluate_current)
        self.add_button = QPushButton("Add run…")
        self.add_button.setToolTip("Evaluate a run directory's newest checkpoint in a column "
                                   "of its own, to compare runs side by side.")
        self.add_button.clicked.connect(self._choose_run)
        self.remove_button = QPushButton("Remove column")
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.samples = QSpinBox()
        self.samples.setRange(-1, 20000)
        self.samples.setSpecialValueText("auto")
        self.samples.setValue(-1)
        self.samples.setToolTip("Samples drawn for the sample metrics. auto: as many as the "
                                "validation images (at most 1000), 2500 for 2-D mixtures; "
                                "0 skips them.")
        for w in (self.eval_button, self.add_button, self.remove_button, self.clear_button):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(QLabel("samples"))
        row.addWidget(self.samples)
        lay.addLayout(row)

        self.table = QTableWidget(0, 0)
        self.table.setObjectName("metrics_table")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectColumns)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        lay.addWidget(self.table, 1)

        self.notes = QLabel("")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: palette(mid);")
        lay.addWidget(self.notes)
        prow = QHBoxLayout()
        self.progress_text = QLabel("Evaluate the current model, or add runs to compare.")
        self.progress_text.setObjectName("metrics_progress")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: the stages have no common unit
        self.busy.setFixedWidth(120)
        self.busy.hide()
        prow.addWidget(self.progress_text, 1)
        prow.addWidget(self.busy)
        lay.addLayout(prow)

    # -- requests ----------------------------------------------------------------------------------
    def _n_samples(self) -> int | None:
        v = self.samples.value()
        return None if v < 0 else v

    def evaluate_current(self) -> bool:
        src = self.source() if self.source is not None else None
        snap = src.get("snapshot") if src else None
        if snap is None:
            self.progress_text.setText("No weights yet: train a model or open a run first.")
            return False
        dataset, n = src.get("dataset"), self._n_samples()
        label = f"current: {snap.model} @ {snap.step}"

        def work(ctx):
            from workbench.reports.evaluation import evaluate_run
            from workbench.analysis.latent import LatentProbe

            model = LatentProbe.from_snapshot(snap).model  # a fresh copy: never the live model
            data = cached_dataset(dataset)
            r = evaluate_run(model=model, data=data, name=snap.model, n_samples=n,
                             progress=lambda text: ctx.progress(0, text=text))
            r["step"] = snap.step
            return r

        self._enqueue(CURRENT, label, work)
        return True

    def add_run(self, path) -> None:
        path = Path(path)
        n = self._n_samples()

        def work(ctx):
            from workbench.reports.evaluation import evaluate_run

            return evaluate_run(path, n, progress=lambda text: ctx.progress(0, text=text))

        self._enqueue(str(path), path.name, work)

    def _choose_run(self) -> None:
        src = self.source() if self.source is not None else None
        start = str(src["run_dir"].parent) if src and src.get("run_dir") else str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Add a run directory to compare", start)
        if path:
            self.add_run(path)

    # -- the queue: one evaluation at a time, so comparing runs drops none ---------------------------
    def _enqueue(self, key: str, label: str, work: Callable[[object], dict]) -> None:
        self._queue = [q for q in self._queue if q[0] != key] + [(key, label, work)]
        self.labels[key] = label
        self._pump()

    def _pump(self) -> None:
        if self._running is not None or not self._queue:
            self.busy.setVisible(self._running is not None)
            return
        key, label, work = self._queue.pop(0)
        self._running = key
        self.busy.show()
        self.progress_text.setText(f"Evaluating {label}…")
        self._jobs.submit(work, on_done=lambda r: self._done(key, r),
                          on_error=lambda e: self._failed(key, e),
                          on_progress=lambda _done, _total, text: self._on_progress_text(text))

    def _on_progress_text(self, text: str) -> None:
        if self._running is not None:
            self.progress_text.setText(f"{self.labels.get(self._running, '')}: {text}…")

    def _done(self, key: str, result: dict) -> None:
        self._running = None
        self.errors.pop(key, None)
        self.results[key] = result
        self._render()
        self.progress_text.setText(f"Evaluated {self.labels[key]}.")
        log.info("metrics evaluated: %s", self.labels[key])
        self.evaluated.emit(key)
        self._pump()

    def _failed(self, key: str, e: BaseException) -> None:
        self._running = None
        self.errors[key] = str(e)
        if key not in self.results:
            self.labels.pop(key, None)
        self.progress_text.setText(f"Could not evaluate {key}: {e}")
        self.status.emit(f"Could not evaluate {key}: {e}")
        log.warning("metrics of %s failed: %s", key, e)
        self._pump()

    # -- the table --------------------------------------------------------------------------------
    def _render(self) -> None:
        from workbench.reports.evaluation import DESCRIPTIONS, metric_rows

        keys = list(self.results)
        rows: dict[str, str] = {}  # metric key -> row label, in first-seen order
        cells: dict[tuple[str, str], str] = {}
        for col in keys:
            for mkey, label, text in metric_rows(self.results[col]):
                rows.setdefault(mkey, label)
                cells[(mkey, col)] = text
        self.table.clear()
        self.table.setRowCount(len(rows))
        self.table.setColumnCount(len(keys))
        for j, col in enumerate(keys):
            r = self.results[col]
            head = QTableWidgetItem(self.labels.get(col, col))
            head.setToolTip(f"{r.get('run') or 'the current weights'}\n{r.get('model')} at step "
                            f"{r.get('step')} on {r.get('dataset')}")
            self.table.setHorizontalHeaderItem(j, head)
        for i, (mkey, label) in enumerate(rows.items()):
            item = QTableWidgetItem(label)
            item.setToolTip(DESCRIPTIONS.get(mkey, ""))
            self.table.setVerticalHeaderItem(i, item)
            for j, col in enumerate(keys):
                cell = QTableWidgetItem(cells.get((mkey, col), "—"))
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                cell.setToolTip(DESCRIPTIONS.get(mkey, ""))
                self.table.setItem(i, j, cell)
        self.table.resizeColumnsToContents()
        notes = [f"{self.labels.get(c, c)}: {n}" for c in keys
                 for n in self.results[c].get("notes", []) + self.results[c].get("warnings", [])]
        self.notes.setText("\n".join(notes))

    def cell(self, metric_key: str, column_key: str) -> str | None:
        """The text shown for a metric in a column (for tests and scripting)."""
        from workbench.reports.evaluation import metric_rows

        r = self.results.get(column_key)
        if r is None:
            return None
        return {k: t for k, _, t in metric_rows(r)}.get(metric_key)

    def remove_selected(self) -> None:
        cols = sorted({i.column() for i in self.table.selectedIndexes()}, reverse=True)
        keys = list(self.results)
        for j in cols:
            self.results.pop(keys[j], None)
        self._render()

    def clear(self) -> None:
        self.results.clear()
        self._render()

    @property
    def idle(self) -> bool:
        return self._running is None and not self._queue

    def shutdown(self) -> None:
        self._queue.clear()
        self._jobs.shutdown()
