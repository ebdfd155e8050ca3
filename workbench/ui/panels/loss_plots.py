"""Live loss curves: one plot per metric group of the model, train (solid) and validation
(dashed, dots). Curves are created once per run and fed with setData from a paced timer, so a
flood of metrics costs one redraw per tick, not one per event."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QStackedWidget

REDRAW_MS = 100
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"]


class _Series:
    __slots__ = ("x", "y", "curve")

    def __init__(self, curve):
        self.x: list[float] = []
        self.y: list[float] = []
        self.curve = curve


class LossPlots(QStackedWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        hint = QLabel("Press <b>Train</b> (Ctrl+Enter) to start.<br>"
                      "Loss curves appear here as the model learns:<br>"
                      "solid = training (mean over each logging interval), "
                      "dashed = validation.")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setStyleSheet("color: palette(mid); font-size: 13px;")
        self.addWidget(hint)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        self.addWidget(self.glw)
        self.plots: dict[str, pg.PlotItem] = {}
        self.series: dict[tuple[str, str], _Series] = {}  # (phase, metric) -> series
        self._dirty = False
        self._log_y = False
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    # -- layout of a run ------------------------------------------------------------------------
    def setup(self, groups) -> None:
        """Create the plots and curves for `groups` = ((title, (metric, ...)), ...)."""
        self.glw.clear()
        self.plots.clear()
        self.series.clear()
        for col, (title, names) in enumerate(groups):
            p = self.glw.addPlot(row=0, col=col, title=title)
            p.showGrid(x=True, y=True, alpha=0.25)
            p.setLabel("bottom", "step")
            p.addLegend(offset=(-10, 10))
            p.setClipToView(True)
            p.setDownsampling(auto=True, mode="peak")
            p.setLogMode(False, self._log_y)
            for i, name in enumerate(names):
                color = COLORS[(col + i) % len(COLORS)]
                train = p.plot([], [], pen=pg.mkPen(color, width=2), name=f"{name} (train)")
                val = p.plot([], [], pen=pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine),
                             symbol="o", symbolSize=5, symbolBrush=color, symbolPen=None,
                             name=f"{name} (val)")
                self.series[("train", name)] = _Series(train)
                self.series[("val", name)] = _Series(val)
            self.plots[title] = p
        self.setCurrentIndex(1 if groups else 0)

    def clear_data(self) -> None:
        for s in self.series.values():
            s.x.clear()
            s.y.clear()
        self._dirty = True

    # -- data -----------------------------------------------------------------------------------
    def add(self, metrics) -> None:
        """Append engine.events.Metrics (or dicts with step/phase/values)."""
        for m in metrics:
            for name, v in m.values.items():
                s = self.series.get((m.phase, name))
                if s is not None:
                    s.x.append(m.step)
                    s.y.append(v)
        self._dirty = True

    def point_count(self, phase: str = "train") -> int:
        return sum(len(s.x) for (ph, _), s in self.series.items() if ph == phase)

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for s in self.series.values():
            if s.x:
                s.curve.setData(np.asarray(s.x, float), np.asarray(s.y, float))
            else:
                s.curve.setData([], [])

    # -- view -----------------------------------------------------------------------------------
    def set_log_y(self, on: bool) -> None:
        self._log_y = on
        for p in self.plots.values():
            p.setLogMode(False, on)

    def auto_range(self) -> None:
        for p in self.plots.values():
            p.enableAutoRange()
