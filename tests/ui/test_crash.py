"""The GUI's safety net: unhandled exceptions go to the log file and a message box, training
runs are logged, and Help → Open log folder is there."""

from __future__ import annotations

import threading
from logging.handlers import RotatingFileHandler

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from workbench.core import applog
from workbench.ui import crash


@pytest.fixture
def log_file(tmp_path, monkeypatch):
    monkeypatch.setenv("GENWORKBENCH_LOG_DIR", str(tmp_path / "logs"))
    before = list(applog.log.handlers)
    level = applog.log.level
    path = applog.setup_file_logging()
    yield path
    crash.uninstall_excepthook()
    for h in applog.log.handlers:
        if h not in before:
            applog.log.removeHandler(h)
            h.close()
    applog.log.setLevel(level)


def _flush():
    for h in applog.log.handlers:
        if isinstance(h, RotatingFileHandler):
            h.flush()


def _boxes():
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible()]


def test_unhandled_exception_in_a_slot_is_logged_and_shown(qtbot, qapp, log_file, capsys):
    import sys

    crash.install_excepthook()
    try:
        raise RuntimeError("slot went wrong")
    except RuntimeError as e:
        sys.excepthook(type(e), e, e.__traceback__)  # what PySide6 does for a failing slot
    qtbot.waitUntil(lambda: len(_boxes()) == 1, timeout=2000)
    box = _boxes()[0]
    assert "RuntimeError: slot went wrong" in box.text()
    assert str(log_file) in box.text()
    _flush()
    text = log_file.read_text(encoding="utf-8")
    assert "unhandled exception: RuntimeError" in text and "slot went wrong" in text
    assert "slot went wrong" in capsys.readouterr().err  # still on a terminal, when there is one
    crash.uninstall_excepthook()
    qapp.processEvents()
    assert not _boxes()


def test_exception_in_a_python_thread_reaches_the_gui_thread(qtbot, log_file):
    crash.install_excepthook()

    def work():
        raise ValueError("worker thread failed")

    t = threading.Thread(target=work, name="probe-worker")
    t.start()
    t.join()
    qtbot.waitUntil(lambda: len(_boxes()) == 1, timeout=2000)
    assert "ValueError: worker thread failed" in _boxes()[0].text()
    _flush()
    assert "unhandled exception in thread probe-worker" in log_file.read_text(encoding="utf-8")


def test_uninstall_restores_the_previous_hooks(log_file):
    import sys

    before = (sys.excepthook, threading.excepthook)
    crash.install_excepthook()
    assert sys.excepthook is not before[0]
    crash.uninstall_excepthook()
    assert (sys.excepthook, threading.excepthook) == before


def test_training_start_end_and_failure_are_logged(qtbot, log_file):
    from pathlib import Path

    from workbench.engine.events import Finished, Started
    from workbench.ui.training_run import TrainingRun

    # never started: its signals are enough
    runner = TrainingRun({"model": "vae_mlp"}, child_process=False)
    runner.started_run.emit(Started("vae_mlp", "cpu", 0, 200, 35, 128, Path("/runs/x")))
    runner.finished_run.emit(Finished(200, "completed"))
    runner.finished_run.emit(Finished(57, "diverged", "loss is nan"))
    runner.failed.emit("Traceback …\nOSError: disk full")
    _flush()
    text = log_file.read_text(encoding="utf-8")
    assert "training started: vae_mlp on cpu, batch 128, steps 0-200, run dir /runs/x" in text
    assert "training completed at step 200" in text
    assert "WARNING" in text and "training diverged at step 57: loss is nan" in text
    assert "ERROR" in text and "training of vae_mlp failed: Traceback" in text
    runner.deleteLater()


def test_help_menu_has_open_log_folder(make_window, monkeypatch, tmp_path):
    from PySide6.QtGui import QDesktopServices

    monkeypatch.setenv("GENWORKBENCH_LOG_DIR", str(tmp_path / "logs"))
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    w = make_window(load_backend=False)
    help_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Help")
    (log_folder,) = [a for a in help_menu.actions() if a.text() == "Open &log folder"]
    log_folder.trigger()
    assert [u.toLocalFile() for u in opened] == [str(tmp_path / "logs")]
    assert (tmp_path / "logs").is_dir()  # created, so the file manager has something to show


def test_a_run_started_from_the_window_is_logged(make_window, qtbot, log_file):
    """End to end: the default runner (a child process) trains, and the GUI process logs it."""
    from workbench.engine.trainer import TrainSettings

    w = make_window(in_process=True)
    w.setup.train_form.set_config(TrainSettings(steps=10, epochs=0, batch_size=64, log_every=2,
                                                sample_every_s=0.0))
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000):
        assert w.session.start()
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)
    _flush()
    text = log_file.read_text(encoding="utf-8")
    assert "training started: vae_mlp on " in text and str(w.state.run_dir) in text
    assert "training completed at step 10" in text
