"""Class histogram of generated images: the share of samples a digit classifier assigns to each
class, as bars, with the uniform share as a dashed line. A GAN that collapses onto a few digits
shows a few tall bars and empty ones.

Fed by the window: `set_histogram(metrics.class_histogram(predict(classifier, samples)[0]), step)`
from workbench/analysis/metrics.py; the classifier and the prediction run off the GUI thread."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

BAR_COLOR = "#7b2cbf"


class ClassHistogram(QWidget):
    def __init__(self, class_names=None, parent=None):
        super().__init__(parent)
        self.class_names = list(class_names) if class_names is not None else \
            [str(i) for i in range(10)]
        self.histogram: np.ndarray | None = None
        self.step: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="w")
        p = self.plot.getPlotItem()
        p.setMenuEnabled(False)
        p.hideButtons()
        p.setMouseEnabled(False, False)
        p.setLabel("left", "% of generated samples")
        p.setLabel("bottom", "class predicted by the digit classifier")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=BAR_COLOR)
        p.addItem(self.bars)
        self.uniform = p.addLine(y=100 / len(self.class_names),
                                 pen=pg.mkPen("#2ca02c", width=1.5, style=Qt.PenStyle.DashLine))
        p.getAxis("bottom").setTicks([list(enumerate(self.class_names))])
        p.setRange(xRange=(-0.6, len(self.class_names) - 0.4), yRange=(0, 30), padding=0)
        self.plot.setToolTip("Share of generated samples a classifier trained on the data set "
                             "assigns to each class. The dashed line is the share of a generator "
                             "that draws every class equally; empty bars = collapsed classes.")
        layout.addWidget(self.plot, 1)
        self.caption = QLabel("No samples classified yet.")
        self.caption.setObjectName("class_histogram_caption")
        self.caption.setWordWrap(True)
        layout.addWidget(self.caption)

    def set_histogram(self, histogram, step: int | None = None) -> None:
        """`histogram`: shares per class (summing to 1) or raw counts; `step`: training step."""
        h = np.asarray(histogram, dtype=float).ravel()
        if h.size != len(self.class_names):
            raise ValueError(f"expected {len(self.class_names)} classes, got {h.size}")
        total = h.sum()
        share = h / total if total > 0 else h
        self.histogram, self.step = share, step
        k = len(share)
        self.bars.setOpts(x=np.arange(k), height=100 * share, width=0.8)
        self.plot.getPlotItem().setRange(yRange=(0, max(30.0, 105 * float(share.max()))),
                                         padding=0)
        # a class is "covered" when it gets at least a fifth of its fair share
        covered = int(np.count_nonzero(share >= 0.2 / k))
        top = np.argsort(share)[::-1][:3]
        where = f" at step {step}" if step is not None else ""
        self.caption.setText(
            f"Classes covered{where}: <b>{covered} / {k}</b> (≥ 20 % of a fair share). Most "
            "generated: " + ", ".join(f"{self.class_names[i]} ({100 * share[i]:.0f} %)"
                                      for i in top))

    def clear(self) -> None:
        self.histogram, self.step = None, None
        self.bars.setOpts(x=[], height=[])
        self.caption.setText("No samples classified yet.")
