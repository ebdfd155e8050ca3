"""The Help menu: the lessons' start page, the keyboard shortcuts (read from the window's own
menus, so the list cannot go stale), the log folder and About."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox

from workbench import __version__
from workbench.ui.crash import log_folder_action


def build_help_menu(window: QMainWindow, show_lessons) -> None:
    """Add Help to the window's menu bar; `show_lessons` opens the lessons' start page."""
    m = window.menuBar().addMenu("&Help")
    for text, slot, key, tip in (
            ("&Lessons…", show_lessons, "F1",
             "The start page: every lesson, by part, with its idea"),
            ("&Keyboard shortcuts…", lambda: show_shortcuts(window), None,
             "Every menu command that has a key, and its key")):
        a = QAction(text, window)
        if key:
            a.setShortcut(QKeySequence(key))
        a.setStatusTip(tip)
        a.triggered.connect(lambda _=False, slot=slot: slot())
        m.addAction(a)
    m.addSeparator()
    m.addAction(log_folder_action(window))
    about = QAction("&About genworkbench", window)
    about.triggered.connect(lambda _=False: show_about(window))
    m.addAction(about)


def shortcuts(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(menu, command, key) for every menu command with a key."""
    rows = []
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        for a in menu.actions():
            key = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if key:  # "&&" is a literal ampersand, a lone "&" marks the mnemonic
                text = a.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
                rows.append((menu_action.text().replace("&", ""), text, key))
    return rows


def show_shortcuts(window: QMainWindow) -> None:
    cells = "".join(f"<tr><td>{m}</td><td>{c}</td><td><b>{k}</b></td></tr>"
                    for m, c, k in shortcuts(window))
    QMessageBox.information(window, "Keyboard shortcuts",
                            f"<table cellspacing='6'>{cells}</table>")


def show_about(window: QMainWindow) -> None:
    QMessageBox.about(window, "About genworkbench",
                      f"<b>genworkbench {__version__}</b><br>Train and take apart generative "
                      "models, and watch them learn.<br><br>Embedded data: 5000 MNIST digits "
                      "(LeCun, Cortes, Burges; CC BY-SA 3.0).")
