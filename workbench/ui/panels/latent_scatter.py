"""The latent scatter: codes drawn as points coloured by label (or by k-means cluster), with a
legend, hover, click, and rectangle or lasso selection.

Fast on large sets: each class is one `PointCloud` item that blits all its points in a single
QPainter.drawPixmapFragments call from one pre-rendered round sprite, the fragment array filled
straight from numpy. pyqtgraph's ScatterPlotItem keeps per-point records and took about 0.5 s
to refresh 70 000 points here; a round-capped drawPoints took 150 ms for the painting alone. Hover and click are
answered by a nearest-point search in numpy over the drawn coordinates.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt.internals import PrimitiveArray
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QStackedWidget

PICK_RADIUS_PX = 7

# Tableau 10: distinct, colour-blind aware, and the usual colours for ten digits.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]


def class_color(k: int) -> str:
    if k < len(PALETTE):
        return PALETTE[k]
    h = (k * 0.618033988749895) % 1.0  # golden-ratio hues beyond ten classes
    c = pg.hsvColor(h, 0.75, 0.85)
    return c.name()


class PointCloud(pg.GraphicsObject):
    """Many same-coloured round points, blitted in one call from a pre-rendered sprite."""

    def __init__(self, color: str, size: float = 5.0):
        super().__init__()
        self._color = QColor(color)
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._rect = QRectF()
        self._frags = PrimitiveArray(QPainter.PixmapFragment, 10)
        self._set_size(size)

    def _set_size(self, size: float) -> None:
        self._size = float(size)
        side = int(np.ceil(size)) + 2
        pm = QPixmap(side, side)
        pm.fill(Qt.GlobalColor.transparent)
        q = QPainter(pm)
        q.setRenderHint(QPainter.RenderHint.Antialiasing)
        q.setPen(Qt.PenStyle.NoPen)
        q.setBrush(self._color)
        q.drawEllipse(QRectF((side - size) / 2, (side - size) / 2, size, size))
        q.end()
        self._sprite = pm

    def set_points(self, x: np.ndarray, y: np.ndarray, size: float | None = None) -> None:
        self.prepareGeometryChange()
        self._x = np.asarray(x, np.float64)
        self._y = np.asarray(y, np.float64)
        if size is not None and size != self._size:
            self._set_size(size)
        if len(x):
            self._rect = QRectF(float(self._x.min()), float(self._y.min()),
                                float(np.ptp(self._x)) or 1e-9, float(np.ptp(self._y)) or 1e-9)
        else:
            self._rect = QRectF()
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def dataBounds(self, axis, frac=1.0, orthoRange=None):
        if self._rect.isNull():
            return None, None
        r = self._rect
        return (r.left(), r.right()) if axis == 0 else (r.top(), r.bottom())

    def pixelPadding(self) -> float:
        return self._size / 2 + 1

    def paint(self, p, *args):
        n = len(self._x)
        if not n:
            return
        t = p.transform()  # view → device: a scale and a shift in a ViewBox
        px = np.clip(t.m11() * self._x + t.m21() * self._y + t.dx(), -2**30, 2**30)
        py = np.clip(t.m12() * self._x + t.m22() * self._y + t.dy(), -2**30, 2**30)
        side = self._sprite.width()
        self._frags.resize(n)
        a = self._frags.ndarray()  # x, y (centre), sx, sy, sw, sh, scale x, y, rotation, opacity
        a[:, 0] = px
        a[:, 1] = py
        a[:, 2:6] = (0, 0, side, side)
        a[:, 6:10] = (1.0, 1.0, 0.0, 1.0)
        p.save()
        p.resetTransform()
        p.drawPixmapFragments(*self._frags.drawargs(), self._sprite)
        p.restore()


class _SelectViewBox(pg.ViewBox):
    """A ViewBox that, in "lasso" or "rect" mode, turns a left drag into a selection polygon."""

    polygon_selected = Signal(object)  # (k, 2) polygon in data coordinates
    point_clicked = Signal(object)  # scene position of a left click (the scatter picks)

    def __init__(self):
        super().__init__()
        self.mode = "pan"
        self._path: list[QPointF] = []
        self._outline = pg.PlotCurveItem(pen=pg.mkPen("#222", width=1.5, style=Qt.PenStyle.DashLine))
        self._outline.setZValue(100)
        self.addItem(self._outline, ignoreBounds=True)

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.point_clicked.emit(ev.scenePos())
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if self.mode == "pan" or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self._path = [start]
        if self.mode == "lasso":
            self._path.append(p)
            pts = self._path + [self._path[0]]
        else:
            a = self._path[0]
            pts = [a, QPointF(p.x(), a.y()), p, QPointF(a.x(), p.y()), a]
        self._outline.setData([q.x() for q in pts], [q.y() for q in pts])
        if ev.isFinish():
            self._outline.setData([], [])
            self.polygon_selected.emit(np.array([[q.x(), q.y()] for q in pts[:-1]]))
            self._path = []


class LatentScatter(QStackedWidget):
    point_clicked = Signal(int)  # dataset index
    point_hovered = Signal(int)  # dataset index, -1 when leaving
    selection_changed = Signal(object)  # np.ndarray of dataset indices

    def __init__(self, empty_text: str = "", parent=None):
        super().__init__(parent)
        self.hint = QLabel(empty_text)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(mid); font-size: 13px;")
        self.addWidget(self.hint)
        self.vb = _SelectViewBox()
        self.plot = pg.PlotWidget(viewBox=self.vb)
        self.plot.setBackground("w")
        self.plot.setObjectName("latent_scatter_plot")
        # No grid: grid lines make every refresh repaint the axes (12 → 27 ms for 5000 points).
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="9pt")
        self.addWidget(self.plot)
        self.xy = np.zeros((0, 2), np.float32)
        self.groups = np.zeros(0, np.int64)
        self._items: list[PointCloud] = []
        self._names: list[str] = []
        self.selected = np.zeros(0, np.int64)
        self._sel_item = pg.ScatterPlotItem(size=9, pen=pg.mkPen("#111", width=1.2),
                                            brush=None, symbol="o")
        self._sel_item.setZValue(20)
        self._focus_item = pg.ScatterPlotItem(size=16, pen=pg.mkPen("#000", width=2.5),
                                              brush=None, symbol="o")
        self._focus_item.setZValue(30)
        self._centres = pg.ScatterPlotItem(size=16, symbol="x", pen=pg.mkPen("#000", width=1),
                                           brush=pg.mkBrush("#000"))
        self._centres.setZValue(25)
        for item in (self._sel_item, self._focus_item, self._centres):
            self.plot.addItem(item)
        self._hovered = -1
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.vb.point_clicked.connect(self._on_view_click)
        self.vb.polygon_selected.connect(self._on_polygon)

    # -- drawing ----------------------------------------------------------------------------------
    def set_empty_text(self, text: str) -> None:
        self.hint.setText(text)

    def show_hint(self, text: str | None = None) -> None:
        if text is not None:
            self.hint.setText(text)
        self.setCurrentIndex(0)

    def set_points(self, xy, groups, names, title: str = "", size: float = 5.0,
                   keep_view: bool = False) -> None:
        """Draw N points, `groups` (N,) ints into `names` (one colour and legend entry each)."""
        xy = np.asarray(xy, np.float32)
        groups = np.zeros(len(xy), np.int64) if groups is None else np.asarray(groups, np.int64)
        self.xy, self.groups = xy, groups
        n_groups = max(len(names), int(groups.max()) + 1 if len(groups) else 0)
        names = [names[k] if k < len(names) else str(k) for k in range(n_groups)]
        if names != self._names:  # new classes: new items and legend
            for it in self._items:
                self.plot.removeItem(it)
            self.legend.clear()
            self._items = []
            for k, name in enumerate(names):
                it = PointCloud(class_color(k), size)
                self.plot.addItem(it)
                self._items.append(it)
                sample = pg.ScatterPlotItem(pen=None, brush=pg.mkBrush(class_color(k)), size=8)
                self.legend.addItem(sample, name)
            self._names = names
        order = np.argsort(groups, kind="stable")
        bounds = np.searchsorted(groups[order], np.arange(n_groups + 1))
        for k, it in enumerate(self._items):
            idx = order[bounds[k]:bounds[k + 1]]
            it.set_points(xy[idx, 0], xy[idx, 1], size)
        self.plot.setTitle(title, size="9pt")
        self.set_selection(self.selected[self.selected < len(xy)])
        self._focus_item.setData([], [])
        self.setCurrentIndex(1)
        if not keep_view or self.vb.autoRangeEnabled()[0]:
            # Follow the data until the user pans or zooms (pyqtgraph then turns this off).
            self.vb.autoRange(padding=0.05)
            self.vb.enableAutoRange()

    def set_centres(self, centres_xy) -> None:
        """Cluster centres (k-means) as crosses; None hides them."""
        if centres_xy is None:
            self._centres.setData([], [])
        else:
            c = np.asarray(centres_xy)
            self._centres.setData(c[:, 0], c[:, 1])

    def set_selection(self, indices) -> None:
        self.selected = np.asarray(indices, np.int64)
        pts = self.xy[self.selected] if len(self.selected) else np.zeros((0, 2))
        self._sel_item.setData(pts[:, 0], pts[:, 1])

    def set_focus(self, index: int | None) -> None:
        """Ring the point whose code the sliders show."""
        if index is None or index < 0 or index >= len(self.xy):
            self._focus_item.setData([], [])
        else:
            self._focus_item.setData([self.xy[index, 0]], [self.xy[index, 1]])

    def set_mode(self, mode: str) -> None:
        """"pan" (drag pans, wheel zooms), "rect" or "lasso" (left drag selects)."""
        self.vb.mode = mode

    # -- events -----------------------------------------------------------------------------------
    def nearest(self, scene_pos) -> int:
        """Index of the point drawn within PICK_RADIUS_PX of a scene position, or -1."""
        if not len(self.xy) or self.currentIndex() != 1:
            return -1
        p = self.vb.mapSceneToView(scene_pos)
        px, py = self.vb.viewPixelSize()  # view units per screen pixel
        d2 = ((self.xy[:, 0] - p.x()) / px) ** 2 + ((self.xy[:, 1] - p.y()) / py) ** 2
        i = int(np.argmin(d2))
        return i if d2[i] <= PICK_RADIUS_PX ** 2 else -1

    def _on_view_click(self, scene_pos) -> None:
        i = self.nearest(scene_pos)
        if i >= 0:
            self.set_focus(i)
            self.point_clicked.emit(i)

    def _on_mouse_moved(self, scene_pos) -> None:
        if self.vb.mode != "pan" or not self.vb.sceneBoundingRect().contains(scene_pos):
            return
        i = self.nearest(scene_pos)
        if i != self._hovered:
            self._hovered = i
            if i >= 0:
                name = self._names[self.groups[i]] if self.groups[i] < len(self._names) else ""
                self.plot.setToolTip(f"{name} · ({self.xy[i, 0]:.2f}, {self.xy[i, 1]:.2f})")
                self.point_hovered.emit(i)
            else:
                self.plot.setToolTip("")

    def _on_polygon(self, polygon) -> None:
        from workbench.analysis.latent import points_in_polygon

        mask = points_in_polygon(self.xy, polygon)
        self.set_selection(np.flatnonzero(mask))
        self.selection_changed.emit(self.selected)
