"""Render resources/icons/genworkbench.svg to the PNG sizes desktops ask for (16 … 256 px).

    QT_QPA_PLATFORM=offscreen python packaging/render_icons.py

Run it after editing the SVG; the PNGs are committed so that neither the wheel nor a frozen
build needs an SVG renderer at run time."""

from __future__ import annotations

import sys
from pathlib import Path

SIZES = (16, 32, 48, 64, 128, 256)
ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"


def render(svg: Path = ICONS / "genworkbench.svg", out_dir: Path = ICONS) -> list[Path]:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (fonts, paint)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    written = []
    for size in SIZES:
        img = QImage(size, size, QImage.Format.Format_ARGB32)
        img.fill(Qt.GlobalColor.transparent)
        painter = QPainter(img)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = out_dir / f"genworkbench-{size}.png"
        if not img.save(str(path)):
            raise SystemExit(f"could not write {path}")
        written.append(path)
    # The window icon app.py loads (the largest size; Qt scales it down for title bars).
    (out_dir / "genworkbench.png").write_bytes((out_dir / "genworkbench-256.png").read_bytes())
    return written


if __name__ == "__main__":
    for p in render():
        print(p)
