"""The GUI's log file, so that problems in a windowed build (no terminal) can be reported.

Only `genworkbench gui` calls `setup_file_logging`; the CLI configures no handler, and the
`workbench` logger has a NullHandler (workbench/__init__.py), so commands print nothing extra."""

from __future__ import annotations

import logging
import os
import platform
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_NAME = "genworkbench.log"
MAX_BYTES = 1_000_000  # 1 MB per file, the current one plus 3 old ones
BACKUPS = 3
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"

log = logging.getLogger("workbench")


def log_dir() -> Path:
    """$GENWORKBENCH_LOG_DIR, else the user log directory (Linux: ~/.local/state/genworkbench/log,
    macOS: ~/Library/Logs/genworkbench, Windows: %LOCALAPPDATA%\\genworkbench\\Logs)."""
    env = os.environ.get("GENWORKBENCH_LOG_DIR")
    if env:
        return Path(env)
    from platformdirs import user_log_dir

    return Path(user_log_dir("genworkbench", appauthor=False))


def log_file() -> Path:
    return log_dir() / LOG_NAME


def setup_file_logging(level: int = logging.INFO) -> Path | None:
    """Send the `workbench` logger to a rotating file; returns its path, or None when the folder
    cannot be written (the app must still start on a read-only home). Idempotent."""
    path = log_file()
    for h in log.handlers:
        if isinstance(h, RotatingFileHandler) and Path(h.baseFilename) == path.resolve():
            return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                      encoding="utf-8", delay=False)
    except OSError as e:
        print(f"genworkbench: warning: cannot write the log file {path}: {e}", file=sys.stderr)
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    log.addHandler(handler)
    log.setLevel(level)
    from workbench import __version__

    log.info("genworkbench %s starting: Python %s, %s, pid %d", __version__,
             platform.python_version(), platform.platform(), os.getpid())
    return path


def log_exception(exc_type, exc, tb, where: str = "unhandled exception") -> None:
    log.error("%s: %s", where, exc_type.__name__, exc_info=(exc_type, exc, tb))
