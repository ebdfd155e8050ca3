"""Following a run directory that another process writes (a headless run, a remote one on a
shared disk): a file watcher (inotify on Linux) wakes a short debounce timer, which reads only
the new lines of metrics.jsonl and looks for a newer checkpoint."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from workbench.engine.runs import MetricsTail, RunDir, metrics_from_record
from workbench.engine.workspace import read_run


class RunFollower(QObject):
    metrics = Signal(list)  # [engine.events.Metrics, ...] newly appended
    restarted = Signal()  # metrics.jsonl was rewritten from the start (a resume trims it)
    checkpoint_saved = Signal(int)  # the newest checkpoint's step, each time the run changes

    def __init__(self, parent=None):
        super().__init__(parent)
        self.run: RunDir | None = None
        self._tail: MetricsTail | None = None
        self._watcher: QFileSystemWatcher | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)  # a burst of appends costs one read
        self._debounce.timeout.connect(self._on_changed)

    def follow(self, run: RunDir) -> None:
        """Emit the run's metrics so far, then keep following it."""
        self.stop()
        self._tail = MetricsTail(run.metrics_path)
        self.run = run
        self._read_metrics()
        w = self._watcher = QFileSystemWatcher(self)
        paths = [str(run.path), str(run.checkpoints_dir)]
        if run.metrics_path.exists():
            paths.append(str(run.metrics_path))
        w.addPaths([p for p in paths if Path(p).exists()])
        w.fileChanged.connect(self._schedule)
        w.directoryChanged.connect(self._schedule)

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.deleteLater()
        self._watcher = None
        self.run = None

    def is_live(self) -> bool:
        """Whether another process is writing the run now (its status.json says so)."""
        if self.run is None:
            return False
        try:
            return read_run(self.run.path).status == "running"
        except Exception:  # noqa: BLE001 - the status is a hint, never a reason to fail
            return False

    def _schedule(self, _path: str = "") -> None:
        if not self._debounce.isActive():
            self._debounce.start()

    def _on_changed(self) -> None:
        run, w = self.run, self._watcher
        if run is None or w is None:
            return
        # A file replaced atomically (a resume trims metrics) drops out of the watch list.
        for p in (run.metrics_path, run.checkpoints_dir):
            if p.exists() and str(p) not in w.files() + w.directories():
                w.addPath(str(p))
        self._read_metrics()
        ckpts = run.checkpoints()
        self.checkpoint_saved.emit(ckpts[-1].step if ckpts else 0)

    def _read_metrics(self) -> None:
        records, restarted = self._tail.read_new()
        if restarted:
            self.restarted.emit()
        metrics = [m for rec in records for m in metrics_from_record(rec)]
        if metrics:
            self.metrics.emit(metrics)
