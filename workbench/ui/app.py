"""Application start-up. The window is shown before torch is imported (torch takes seconds);
the models load in a worker thread right after the first paint. qasync runs asyncio on Qt's
event loop: every background task of the window (ui/tasks.py) delivers its news through it.

Qt-free at module level on purpose: packaging reads the constants below without a display
(tests/test_packaging.py), and `genworkbench gui` imports this module only when it starts."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

# The application id (reverse DNS): the desktop entry is packaging/APP_ID.desktop, because
# Wayland compositors and GNOME match a window to its entry (name, icon) by this id.
APP_ID = "io.github.genworkbench.Genworkbench"
APP_NAME = "genworkbench"  # application and organisation name: QSettings' folder, log folder
ICON_NAME = "genworkbench"  # Icon= in the desktop entry; resources/icons/genworkbench-N.png
ICON_SIZES = (16, 32, 48, 64, 128, 256)


def app_icon():
    """The window icon with every rendered size, so Qt picks a sharp one for each use."""
    from PySide6.QtGui import QIcon

    from workbench.core.resources import resource

    icon = QIcon()
    for size in ICON_SIZES:
        path = resource("icons", f"{ICON_NAME}-{size}.png")
        if path.exists():
            icon.addFile(str(path))
    return icon


def create_app(argv: list[str] | None = None):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setOrganizationDomain("genworkbench.github.io")
    app.setApplicationDisplayName("genworkbench")
    from workbench import __version__

    app.setApplicationVersion(__version__)
    if hasattr(app, "setDesktopFileName"):
        app.setDesktopFileName(APP_ID)
    icon = app_icon()
    if not icon.isNull():
        app.setWindowIcon(icon)
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

    window.first_paint_probe = FirstPaint(window)
    window.installEventFilter(window.first_paint_probe)


def run_app(run_dir: Path | None = None, lesson: str | None = None) -> int:
    import qasync
    from PySide6.QtCore import QTimer

    from workbench.core.applog import log, setup_file_logging
    from workbench.ui.crash import install_excepthook

    setup_file_logging()  # a windowed build has no terminal: problems go to the user log dir
    app = create_app()
    install_excepthook()
    app.aboutToQuit.connect(lambda: log.info("genworkbench quitting"))
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
            window.backend_ready.connect(lambda: window.session.open_run(Path(run_dir)))
        elif lesson is not None:
            window.backend_ready.connect(lambda: window.lessons.open(lesson))
        else:  # the start page, on the first launch (and after, unless switched off)
            window.backend_ready.connect(window.lessons.maybe_show_start_page)

    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
    return 0
