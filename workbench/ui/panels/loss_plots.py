"""Live loss curves: one plot per metric group of the model, train (solid) and validation
(dashed, dots). Curves are created once per run and fed with setData from a paced timer, so a
flood of metrics costs one redraw per tick, not one per event.

Repainting axes is the expensive part of a redraw (tick text layout), so the view does not
auto-range on every update: the x axis spans the whole run from the start, and the y range only
moves when the data leaves it or fills less than a third of it. A plot the user zooms or pans
stops following until View → Reset plot zoom."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QStackedWidget

REDRAW_MS = 250
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"]


class _Series:
    """One curve's points; it enters its plot's legend with its first point (a metric that is
    only validated, such as the VAE's iwae, lists no empty "(train)" entry)."""

    __slots__ = ("x", "y", "curve", "label", "legend", "listed")

    def __init__(self, curve, label: str, legend):
        self.x: list[float] = []
        self.y: list[float] = []
        self.curve = curve
        self.label, self.legend, self.listed = label, legend, False


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
        self._plot_series: dict[str, list[_Series]] = {}
        self._following: dict[str, bool] = {}  # plot title -> the view follows the data
        self._total_steps = 0
        self._dirty = False
        self._log_y = False
        self._grid = False  # grid lines make every curve update repaint the axes (~2x the cost)
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    # -- layout of a run ------------------------------------------------------------------------
    def setup(self, groups, total_steps: int = 0) -> None:
        """Create the plots and curves for `groups` = ((title, (metric, ...)), ...)."""
        self.glw.clear()
        self.plots.clear()
        self.series.clear()
        self._plot_series.clear()
        self._following.clear()
        self._total_steps = total_steps
        for col, (title, names) in enumerate(groups):
            p = self.glw.addPlot(row=0, col=col, title=title)
            p.showGrid(x=self._grid, y=self._grid, alpha=0.25)
            p.setLabel("bottom", "step")
            legend = p.addLegend(offset=(-10, 10), brush=(255, 255, 255, 200))
            p.setClipToView(True)
            p.setDownsampling(auto=True, mode="peak")
            p.setLogMode(False, self._log_y)
            p.disableAutoRange()
            p.getViewBox().sigRangeChangedManually.connect(
                lambda *_a, t=title: self._following.__setitem__(t, False))
            self._following[title] = True
            self._plot_series[title] = []
            for i, name in enumerate(names):
                color = COLORS[(col + i) % len(COLORS)]
                train = p.plot([], [], pen=pg.mkPen(color, width=2))
                val = p.plot([], [], pen=pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine),
                             symbol="o", symbolSize=5, symbolBrush=color, symbolPen=None)
                self.series[("train", name)] = _Series(train, f"{name} (train)", legend)
                self.series[("val", name)] = _Series(val, f"{name} (val)", legend)
                self._plot_series[title] += [self.series[("train", name)],
                                             self.series[("val", name)]]
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

    def set_total_steps(self, total: int) -> None:
        self._total_steps = total

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for s in self.series.values():
            if s.x:
                s.curve.setData(np.asarray(s.x, float), np.asarray(s.y, float))
                if not s.listed:
                    s.legend.addItem(s.curve, s.label)
                    s.listed = True
            else:
                s.curve.setData([], [])
        for title, p in self.plots.items():
            if self._following.get(title):
                self._follow(p, self._plot_series[title])

    def _follow(self, p: pg.PlotItem, series: list[_Series]) -> None:
        """Move the view only when the data leaves it (or fills little of it)."""
        xs = [x for s in series for x in s.x[-1:]]
        ys = np.concatenate([np.asarray(s.y, float) for s in series if s.y] or [np.zeros(0)])
        ys = ys[np.isfinite(ys)]
        if self._log_y:
            ys = np.log10(ys[ys > 0])
        if not xs or not len(ys):
            return
        vb = p.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        x_end = max(self._total_steps, max(xs))
        if abs(x1 - x_end) > 1e-9 * max(1.0, x_end) or x0 != 0:
            vb.setXRange(0, x_end, padding=0.02)
        lo, hi = float(ys.min()), float(ys.max())
        span = max(hi - lo, 1e-12 * max(1.0, abs(hi)))
        if lo < y0 or hi > y1 or span < (y1 - y0) / 3:
            vb.setYRange(lo, hi, padding=0.05)

    # -- view -----------------------------------------------------------------------------------
    def set_log_y(self, on: bool) -> None:
        self._log_y = on
        for p in self.plots.values():
            p.setLogMode(False, on)
        self.auto_range()

    def set_grid(self, on: bool) -> None:
        self._grid = on
        for p in self.plots.values():
            p.showGrid(x=on, y=on, alpha=0.25)

    def auto_range(self) -> None:
        """Follow the data again in every plot (undoes the user's zoom)."""
        for title in self._following:
            self._following[title] = True
        self._dirty = True
        self.redraw()
