"""The GUI's log file: where it goes, rotation, and that the library stays quiet without it."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler

import pytest

from workbench.core import applog


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GENWORKBENCH_LOG_DIR", str(tmp_path / "logs"))
    before = list(applog.log.handlers)
    level = applog.log.level
    yield tmp_path / "logs"
    for h in applog.log.handlers:
        if h not in before:
            applog.log.removeHandler(h)
            h.close()
    applog.log.setLevel(level)


def test_log_dir_default_is_the_user_log_dir(monkeypatch):
    from platformdirs import user_log_dir

    monkeypatch.delenv("GENWORKBENCH_LOG_DIR", raising=False)
    assert str(applog.log_dir()) == user_log_dir("genworkbench", appauthor=False)


def test_setup_writes_start_up_line_and_is_idempotent(log_dir):
    path = applog.setup_file_logging()
    assert path == log_dir / "genworkbench.log"
    assert applog.setup_file_logging() == path
    handlers = [h for h in applog.log.handlers if isinstance(h, RotatingFileHandler)]
    assert len(handlers) == 1, "a second call must not add a second handler (doubled lines)"
    logging.getLogger("workbench.engine.trainer").info("training started: probe")
    handlers[0].flush()
    text = path.read_text(encoding="utf-8")
    assert "genworkbench 0.1.0 starting" in text and "Python" in text
    assert "training started: probe" in text


def test_rotates_at_one_megabyte_keeping_three(log_dir):
    path = applog.setup_file_logging()
    line = "x" * 1000
    for _ in range(5000):  # ~5 MB of log lines
        applog.log.info(line)
    files = sorted(p.name for p in log_dir.iterdir())
    assert files == ["genworkbench.log", "genworkbench.log.1", "genworkbench.log.2",
                     "genworkbench.log.3"]
    assert all(p.stat().st_size <= applog.MAX_BYTES for p in log_dir.iterdir())
    assert path.exists()


def test_exception_is_logged_with_traceback(log_dir):
    path = applog.setup_file_logging()
    try:
        raise ValueError("boom in a slot")
    except ValueError as e:
        applog.log_exception(type(e), e, e.__traceback__)
    text = path.read_text(encoding="utf-8")
    assert "unhandled exception: ValueError" in text
    assert "Traceback (most recent call last)" in text and "boom in a slot" in text


def test_unwritable_log_dir_does_not_stop_the_app(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GENWORKBENCH_LOG_DIR", str(blocker / "logs"))
    assert applog.setup_file_logging() is None
    assert "cannot write the log file" in capsys.readouterr().err


def test_library_logs_reach_no_terminal_without_the_gui(capsys):
    # The CLI configures no handler: the package's NullHandler keeps Python's last-resort
    # handler from printing warnings and errors to stderr.
    logging.getLogger("workbench.engine").error("should not be printed")
    assert capsys.readouterr().err == ""
