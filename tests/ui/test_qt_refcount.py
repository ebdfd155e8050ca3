"""The installed PySide6 must not leak references to None: PySide6 6.12.0 drops one per void
method call, and on Python < 3.12 (None not immortal) the window aborts with "Fatal Python
error: none_dealloc" after a few minutes of live plotting."""

import sys

import pytest


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_void_qt_calls_keep_none_alive(qapp):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor, QImage, QPainter, QPen

    img = QImage(16, 16, QImage.Format.Format_RGB32)
    p = QPainter(img)
    pen = QPen(QColor("red"))
    try:
        before = sys.getrefcount(None)
        for _ in range(500):
            p.setPen(pen)
            p.drawLine(QPointF(0, 0), QPointF(5, 5))
            p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        drift = sys.getrefcount(None) - before
    finally:
        p.end()
    assert drift > -100, f"PySide6 leaks references to None ({drift} over 1500 calls)"
