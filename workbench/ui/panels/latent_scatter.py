"""The latent scatter: codes drawn as points coloured by label (or by k-means cluster), with a
legend, hover, click, and rectangle or lasso selection.

Fast on large sets: one ScatterPlotItem per class with a single pre-made brush, no per-point
pens, brushes or data objects, so refreshing 70 000 points is one array copy per class. A
clicked point maps back to its dataset index through the class's index array.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget

# Tableau 10: distinct, colour-blind aware, and the usual colours for ten digits.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]


def class_color(k: int) -> str:
    if k < len(PALETTE):
        return PALETTE[k]
    h = (k * 0.618033988749895) % 1.0  # golden-ratio hues beyond ten classes
    c = pg.hsvColor(h, 0.75, 0.85)
    return c.name()


class _SelectViewBox(pg.ViewBox):
    """A ViewBox that, in "lasso" or "rect" mode, turns a left drag into a selection polygon."""

    polygon_selected = Signal(object)  # (k, 2) polygon in data coordinates

    def __init__(self):
        super().__init__()
        self.mode = "pan"
        self._path: list[QPointF] = []
        self._outline = pg.PlotCurveItem(pen=pg.mkPen("#222", width=1.5, style=Qt.PenStyle.DashLine))
        self._outline.setZValue(100)
        self.addItem(self._outline, ignoreBounds=True)

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
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="9pt")
        self.addWidget(self.plot)
        self.xy = np.zeros((0, 2), np.float32)
        self.groups = np.zeros(0, np.int64)
        self._items: list[pg.ScatterPlotItem] = []
        self._index: list[np.ndarray] = []  # per item: dataset index of each point
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
        # Reuse items (no legend rebuild) when the classes did not change.
        if len(self._items) != n_groups or [it.name() for it in self._items] != list(names):
            for it in self._items:
                self.plot.removeItem(it)
            self.legend.clear()
            self._items = []
            for k in range(n_groups):
                name = names[k] if k < len(names) else str(k)
                it = pg.ScatterPlotItem(pen=None, brush=pg.mkBrush(class_color(k)), size=size,
                                        name=name, hoverable=True, tip=None)
                it.sigClicked.connect(self._on_clicked)
                it.sigHovered.connect(self._on_hovered)
                self.plot.addItem(it)
                self._items.append(it)
        order = np.argsort(groups, kind="stable")
        bounds = np.searchsorted(groups[order], np.arange(n_groups + 1))
        self._index = []
        for k, it in enumerate(self._items):
            idx = order[bounds[k]:bounds[k + 1]]
            self._index.append(idx)
            it.setData(x=xy[idx, 0], y=xy[idx, 1], size=size)
        self.plot.setTitle(title, size="9pt")
        self.set_selection(self.selected[self.selected < len(xy)])
        self._focus_item.setData([], [])
        self.setCurrentIndex(1)
        if not keep_view:
            self.vb.autoRange(padding=0.05)

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
    def _dataset_index(self, item, point) -> int:
        k = self._items.index(item)
        return int(self._index[k][point.index()])

    def _on_clicked(self, item, points, ev=None) -> None:
        if len(points):
            i = self._dataset_index(item, points[0])
            self.set_focus(i)
            self.point_clicked.emit(i)

    def _on_hovered(self, item, points, ev=None) -> None:
        if len(points):
            self.point_hovered.emit(self._dataset_index(item, points[0]))

    def _on_polygon(self, polygon) -> None:
        from workbench.analysis.latent import points_in_polygon

        mask = points_in_polygon(self.xy, polygon)
        self.set_selection(np.flatnonzero(mask))
        self.selection_changed.emit(self.selected)
