"""The training thread: runs `Trainer.fit()` off the GUI thread and forwards its events as Qt
signals, throttled at the source (~20 emissions/s) so the GUI thread never drowns."""

from __future__ import annotations

import threading
import time
import traceback

from PySide6.QtCore import QThread, Signal

EMIT_INTERVAL_S = 0.05  # at most ~20 metric emissions per second


class TrainingThread(QThread):
    started_run = Signal(object)  # engine.events.Started
    metrics = Signal(list)  # [engine.events.Metrics, ...] batched
    grids = Signal(object)  # {"step", "samples", "reconstructions"}: uint8 pictures
    snapshot = Signal(object)  # {"step", "state"}: CPU copy of the weights, for decoding
    checkpoint = Signal(object)  # engine.events.CheckpointSaved
    finished_run = Signal(object)  # engine.events.Finished
    failed = Signal(str)  # a message for the user (WorkbenchError) or a traceback

    def __init__(self, make_trainer, parent=None):
        """`make_trainer()` builds the Trainer inside the thread (it loads the dataset)."""
        super().__init__(parent)
        self._make_trainer = make_trainer
        self.trainer = None
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self.paused_seconds = 0.0

    # -- control (any thread) -------------------------------------------------------------------
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def stop(self) -> None:
        self._stop.set()
        if self.trainer is not None:
            self.trainer.stop()
        self._running.set()

    # -- the thread -----------------------------------------------------------------------------
    def run(self) -> None:
        from workbench.core.errors import WorkbenchError
        from workbench.engine.events import (CheckpointSaved, Finished, Metrics, Samples,
                                             Started)

        pending: list = []
        last_emit = 0.0
        try:
            self.trainer = self._make_trainer()
            if self._stop.is_set():
                self.trainer.stop()
            for ev in self.trainer.fit():
                if not self._running.is_set():
                    t = time.perf_counter()
                    self._running.wait()
                    self.paused_seconds += time.perf_counter() - t
                if isinstance(ev, Metrics):
                    pending.append(ev)
                    now = time.perf_counter()
                    if now - last_emit >= EMIT_INTERVAL_S:
                        self.metrics.emit(pending)
                        pending, last_emit = [], now
                    continue
                if pending:
                    self.metrics.emit(pending)
                    pending, last_emit = [], time.perf_counter()
                if isinstance(ev, Started):
                    self.started_run.emit(ev)
                elif isinstance(ev, Samples):
                    self.grids.emit(self._pictures(ev))
                    self.snapshot.emit({"step": ev.step, "state": self._copy_weights()})
                elif isinstance(ev, CheckpointSaved):
                    self.checkpoint.emit(ev)
                elif isinstance(ev, Finished):
                    self.finished_run.emit(ev)
        except WorkbenchError as e:
            self.failed.emit(str(e))
        except Exception:  # a bug: show it rather than dying silently in a thread
            self.failed.emit(traceback.format_exc())
        finally:
            if pending:
                self.metrics.emit(pending)

    def _copy_weights(self) -> dict:
        model = self.trainer.model
        return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    @staticmethod
    def _pictures(ev) -> dict:
        """Sample/reconstruction grids as uint8 pictures, built here, off the GUI thread."""
        import numpy as np

        from workbench.analysis.sheets import sheet_array

        out = {"step": ev.step, "samples": None, "reconstructions": None}
        if ev.samples is not None:
            out["samples"] = sheet_array(ev.samples, nrow=8)
        if ev.reconstructions is not None:
            n = len(ev.inputs)
            if ev.inputs.ndim == 2:
                out["reconstructions"] = sheet_array(ev.reconstructions)
            else:  # inputs on odd rows, their reconstructions right below
                rows = []
                for a in range(0, n, 8):
                    rows += [ev.inputs[a:a + 8], ev.reconstructions[a:a + 8]]
                out["reconstructions"] = sheet_array(np.concatenate(rows), nrow=8)
        return out
