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


def _quit_on_first_paint(app, window) -> None:
    import time

    from PySide6.QtCore import QEvent, QObject

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                print(f"WINDOW_VISIBLE {time.time():.6f}", flush=True)
                obj.removeEventFilter(self)
                QTimer.singleShot(0, app.quit)
            return False

    from PySide6.QtCore import QTimer

    window._first_paint_probe = FirstPaint(window)
    window.installEventFilter(window._first_paint_probe)


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
        _quit_on_first_paint(app, window)
    else:
        QTimer.singleShot(0, window.load_backend)
        if run_dir is not None:
            window.backend_ready.connect(lambda: window.open_run(Path(run_dir)))

    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
    return 0
