"""The GUI's safety net: unhandled exceptions are logged to the log file and shown in a message
box instead of vanishing (a windowed build has no terminal), training start/finish/failure go to
the log, and Help → Open log folder shows where the log is."""

from __future__ import annotations

import sys
import threading
import traceback

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox

from workbench.core.applog import log, log_dir, log_exception, log_file


class _Reporter(QObject):
    """Lives in the GUI thread; a worker thread's exception reaches the box through a signal."""

    report = Signal(str, str)  # title, text

    def __init__(self):
        super().__init__()
        self.boxes: list[QMessageBox] = []
        self.report.connect(self.show, Qt.ConnectionType.QueuedConnection)

    def show(self, title: str, text: str) -> None:
        parent = QApplication.activeWindow()
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok,
                          parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(lambda *_: self.boxes.remove(box) if box in self.boxes else None)
        self.boxes.append(box)
        box.open()  # not exec(): a nested event loop inside an excepthook invites re-entry


_reporter: _Reporter | None = None
_previous: tuple = ()


def _message(exc_type, exc) -> str:
    where = log_file()
    return (f"An unexpected error occurred and was written to the log:\n\n"
            f"{exc_type.__name__}: {exc}\n\nLog file: {where}\n"
            f"(Help → Open log folder). The window keeps running, but save your work.")


def _excepthook(exc_type, exc, tb) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    log_exception(exc_type, exc, tb)
    traceback.print_exception(exc_type, exc, tb)  # still on the terminal when there is one
    if _reporter is not None:
        _reporter.report.emit("Unexpected error", _message(exc_type, exc))


def _thread_excepthook(args) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    log_exception(args.exc_type, args.exc_value, args.exc_traceback,
                  where=f"unhandled exception in thread {name}")
    traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback)
    if _reporter is not None:
        _reporter.report.emit("Unexpected error", _message(args.exc_type, args.exc_value))


def install_excepthook() -> None:
    """Route unhandled exceptions (GUI thread, Qt slots, Python threads) to the log and a box.
    Call from the GUI thread after the QApplication exists; `uninstall_excepthook` undoes it."""
    global _reporter, _previous
    if _reporter is None:
        _previous = (sys.excepthook, threading.excepthook)
        _reporter = _Reporter()
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def uninstall_excepthook() -> None:
    global _reporter, _previous
    if _previous:
        sys.excepthook, threading.excepthook = _previous
    _previous = ()
    if _reporter is not None:
        for box in list(_reporter.boxes):
            box.close()
        _reporter.deleteLater()
    _reporter = None


def open_log_folder() -> bool:
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def log_folder_action(parent) -> QAction:
    """Help → Open log folder."""
    act = QAction("Open &log folder", parent)
    act.setStatusTip(f"Show the folder of the log file ({log_dir()}), to attach it to a report")
    act.triggered.connect(lambda _=False: open_log_folder() or QMessageBox.information(
        parent, "Log folder", f"The log is in\n{log_dir()}"))
    return act


def log_training(runner) -> None:
    """Log a training run's start, end and failure (a ui.training_run.TrainingRun's signals, in the
    child process or in this one alike)."""
    job = getattr(runner, "job", None) or {}
    runner.started_run.connect(lambda ev: log.info(
        "training started: %s on %s, batch %d, steps %d-%d, run dir %s", ev.model, ev.device,
        ev.batch_size, ev.start_step, ev.total_steps, ev.run_dir))
    runner.finished_run.connect(lambda ev: (log.warning if ev.reason == "diverged" else log.info)(
        "training %s at step %d%s", ev.reason, ev.step, f": {ev.message}" if ev.message else ""))
    runner.failed.connect(lambda message: log.error(
        "training of %s failed: %s", job.get("model", "?"), message))
