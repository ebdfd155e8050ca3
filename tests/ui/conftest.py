"""Qt fixtures: a qasync event loop on the test QApplication (for every UI test: the window's
background work runs on it), and a factory for main windows that fails the test if a window is
left open or background work (ui/tasks.py) is left running at teardown."""

from __future__ import annotations

import asyncio

import pytest


@pytest.fixture(scope="session", autouse=True)
def qasync_loop(qapp):
    """asyncio on Qt's event loop, as in ui/app.py; tasks progress whenever Qt processes
    events. Every UI test gets it: panels start their tasks on this loop."""
    import qasync

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(autouse=True)
def message_boxes(monkeypatch):
    """Record what the window would show in a modal box (a modal box would block the test)."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[tuple[str, str]] = []
    for kind in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, kind,
                            lambda *a, _k=kind, **kw: shown.append((_k, a[2])))
    return shown


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, qasync_loop, tmp_path, settings, monkeypatch):
    from workbench.ui.main_window import MainWindow
    from workbench.ui.tasks import busy_tasks

    monkeypatch.setenv("GENWORKBENCH_WORKSPACE", str(tmp_path / "runs"))
    made: list[MainWindow] = []
    busy_before = set(busy_tasks())  # another test's leftovers are not this test's leak

    def make(load_backend: bool = True, settings_obj=None, in_process: bool = True) -> MainWindow:
        """in_process=True trains in a child process (the app's default); False in a thread."""
        w = MainWindow(settings=settings_obj or settings, workspace=tmp_path / "runs")
        w.act_in_process.setChecked(in_process)
        qtbot.addWidget(w)
        w.show()
        if load_backend:
            w.load_backend_blocking()
        made.append(w)
        return w

    yield make
    training = [w for w in made if w.session.runner is not None and w.session.runner.running]
    for w in made:
        w.close()  # stops training (and waits for it), the GAN lab's loop and every task
    assert not training, f"a training run was still running at teardown: {training}"
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    leaked = [t for t in busy_tasks() if t not in busy_before]
    assert not leaked, f"background work was still running after the window closed: {leaked}"
    visible = [t for t in QApplication.topLevelWidgets()
               if t.isVisible() and t.__class__.__name__ == "MainWindow"]
    assert not visible, f"windows left open: {visible}"
