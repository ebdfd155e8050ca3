"""Application start-up. The window is shown before torch is imported (torch takes seconds);
the models load in a worker thread right after the first paint. qasync runs asyncio on Qt's
event loop, for short background jobs (decoding a grid, exporting) with "latest request wins"."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

APP_ID = "genworkbench"


def create_app(argv: list[str] | None = None):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName(APP_ID)
    app.setOrganizationName(APP_ID)
    app.setApplicationDisplayName("genworkbench")
    if hasattr(app, "setDesktopFileName"):
        app.setDesktopFileName(APP_ID)
    from workbench.core.resources import resource

    icon = resource("icons", "genworkbench.png")
    if icon.exists():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    return app


def run_app(run_dir: Path | None = None) -> int:
    import qasync
    from PySide6.QtCore import QTimer

    app = create_app()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    from workbench.ui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if os.environ.get("GENWORKBENCH_STARTUP_PROBE"):  # bench/startup.py: time to first paint
        QTimer.singleShot(0, lambda: (print("WINDOW_VISIBLE", flush=True), app.quit()))
    else:
        QTimer.singleShot(0, window.load_backend)
        if run_dir is not None:
            window.backend_ready.connect(lambda: window.open_run(Path(run_dir)))

    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
    return 0
