"""Latent sliders: one slider per dimension of the code, the decoded image updating while a
slider is dragged.

Why it stays fast: slider moves only mark the code dirty; one zero-delay timer decodes the
newest code once per event-loop turn (a burst of moves costs one decode), in inference mode on
a CPU copy of the model, and the result goes into an ImageItem with fixed levels (no
per-frame level scan, no new item).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QScrollArea, QSlider, QVBoxLayout, QWidget)

RANGE = 3.0
TICKS = 300  # slider units per 1.0 of code


class DecodedImage(pg.GraphicsLayoutWidget):
    """One decoded image (or 2-D point), drawn with fixed grey levels."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.vb = self.addViewBox(lockAspect=True, enableMouse=False)
        self.vb.invertY(True)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setLevels((0.0, 1.0))
        self.vb.addItem(self.item)
        self.text = pg.TextItem("", color="#333", anchor=(0.5, 0.5))
        self.vb.addItem(self.text, ignoreBounds=True)
        self._shape = None

    def set_data(self, x: np.ndarray) -> None:
        """x: C×H×W in [0, 1], or a 2-D point (shown as its coordinates)."""
        if x.ndim == 1:
            self.item.clear()
            self._shape = None
            self.text.setText(f"decoded point\n({x[0]:.3f}, {x[1]:.3f})")
            self.vb.setRange(xRange=(-1, 1), yRange=(-1, 1))
            return
        self.text.setText("")
        img = x[0] if x.shape[0] == 1 else np.transpose(x, (1, 2, 0))
        self.item.setImage(img, autoLevels=False, levels=(0.0, 1.0))
        if self._shape != img.shape[:2]:
            self._shape = img.shape[:2]
            self.vb.setRange(xRange=(0, img.shape[1]), yRange=(0, img.shape[0]), padding=0)

    def array(self) -> np.ndarray | None:
        return self.item.image


class LatentSliders(QWidget):
    code_changed = Signal(object)  # the code (np.ndarray) after each decode
    decoded = Signal()  # the image on screen shows the current code

    def __init__(self, parent=None):
        super().__init__(parent)
        self.probe = None
        self.z = np.zeros(0, np.float32)
        self.label = 0
        self._sliders: list[QSlider] = []
        self._values: list[QLabel] = []
        self._kl_bars: list[QProgressBar] = []
        self._selected_code: np.ndarray | None = None
        self._decode_timer = QTimer(self)
        self._decode_timer.setSingleShot(True)
        self._decode_timer.setInterval(0)
        self._decode_timer.timeout.connect(self.decode_now)
        self._rng = np.random.default_rng()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.image = DecodedImage()
        self.image.setMinimumSize(150, 150)
        self.image.setMaximumHeight(240)
        self.image.setToolTip("The decoder's output for the code set by the sliders below.")
        lay.addWidget(self.image, 2)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: palette(mid);")
        lay.addWidget(self.caption)

        row = QHBoxLayout()
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("Draw a code from the prior N(0, I): what sampling does.")
        self.zero_button = QPushButton("Zero")
        self.zero_button.setToolTip("The code 0: the centre of the prior.")
        self.selected_button = QPushButton("Selected image")
        self.selected_button.setToolTip("The code the encoder gives the image clicked in the "
                                        "scatter (a VAE's posterior mean).")
        self.selected_button.setEnabled(False)
        for b in (self.random_button, self.zero_button, self.selected_button):
            row.addWidget(b)
        self.label_combo = QComboBox()
        self.label_combo.setToolTip("The label the conditional decoder is asked to draw.")
        self.label_combo.hide()
        row.addWidget(self.label_combo)
        lay.addLayout(row)
        self.random_button.clicked.connect(self.random_code)
        self.zero_button.clicked.connect(lambda: self.set_code(np.zeros_like(self.z)))
        self.selected_button.clicked.connect(self._use_selected)
        self.label_combo.currentIndexChanged.connect(self._on_label)

        self.rows = QWidget()
        self.grid = QGridLayout(self.rows)
        self.grid.setContentsMargins(2, 2, 2, 2)
        self.grid.setVerticalSpacing(2)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.rows)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay.addWidget(self.scroll, 4)

    # -- model ------------------------------------------------------------------------------------
    def set_probe(self, probe, kl: np.ndarray | None = None, class_names=()) -> None:
        """A (new) model to decode with. Keeps the code when the size is unchanged, so the
        picture visibly changes as training refreshes the weights."""
        self.probe = probe
        dim = probe.dim if probe is not None and probe.can_decode else 0
        if dim != len(self.z):
            self.z = np.zeros(dim, np.float32)
            self._build_rows(dim)
        self._set_kl(kl)
        self.label_combo.setVisible(bool(probe is not None and probe.conditional))
        if probe is not None and probe.conditional and \
                self.label_combo.count() != probe.num_classes:
            self.label_combo.blockSignals(True)
            self.label_combo.clear()
            for k in range(probe.num_classes):
                self.label_combo.addItem(f"label {class_names[k] if k < len(class_names) else k}")
            self.label_combo.setCurrentIndex(min(self.label, probe.num_classes - 1))
            self.label_combo.blockSignals(False)
        if dim:
            kind = "generator" if not probe.can_encode else "decoder"
            self.caption.setText(f"{dim} sliders, one per input of the {kind}, range ±{RANGE:g}"
                                 + (" · bars: KL of each dimension (≈0 = unused)"
                                    if kl is not None else ""))
            self.decode_now()
        else:
            self.caption.setText("")

    def _build_rows(self, dim: int) -> None:
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self._sliders, self._values, self._kl_bars = [], [], []
        for d in range(dim):
            name = QLabel(f"z{d + 1}")
            s = QSlider(Qt.Orientation.Horizontal)
            s.setRange(int(-RANGE * TICKS), int(RANGE * TICKS))
            s.setPageStep(TICKS // 2)
            s.setObjectName(f"z{d + 1}")
            s.setToolTip(f"Code dimension {d + 1}: drag to see what it controls.")
            val = QLabel(" 0.00")
            val.setMinimumWidth(38)
            val.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            bar.setFixedSize(46, 10)
            bar.setToolTip("KL(q(z_j|x) ‖ N(0,1)) averaged over the data: how much this "
                           "dimension carries. Near 0: the encoder ignores it (inactive).")
            s.valueChanged.connect(lambda v, d=d: self._on_slider(d, v))
            for col, w in enumerate((name, s, val, bar)):
                self.grid.addWidget(w, d, col)
            self._sliders.append(s)
            self._values.append(val)
            self._kl_bars.append(bar)
        self.grid.setColumnStretch(1, 1)
        self.grid.setRowStretch(dim, 1)

    def _set_kl(self, kl) -> None:
        show = kl is not None and len(kl) == len(self._kl_bars)
        top = float(np.max(kl)) if show and len(kl) and np.max(kl) > 0 else 1.0
        for d, bar in enumerate(self._kl_bars):
            bar.setVisible(show)
            if show:
                bar.setValue(int(1000 * float(kl[d]) / top))
                bar.setToolTip(f"KL of z{d + 1}: {float(kl[d]):.3f} nats"
                               + (" — inactive" if kl[d] < 0.01 * top else ""))

    # -- code ------------------------------------------------------------------------------------
    def set_code(self, z, selected: bool = False) -> None:
        """Move every slider to `z` (clipped to the range) and decode once."""
        z = np.asarray(z, np.float32).reshape(-1)
        if len(z) != len(self.z):
            return
        if selected:
            self._selected_code = z.copy()
            self.selected_button.setEnabled(True)
        self.z = z.copy()
        for d, s in enumerate(self._sliders):
            s.blockSignals(True)
            s.setValue(int(round(np.clip(z[d], -RANGE, RANGE) * TICKS)))
            s.blockSignals(False)
            self._values[d].setText(f"{z[d]:+.2f}")
        self.schedule_decode()

    def random_code(self) -> None:
        self.set_code(self._rng.standard_normal(len(self.z)).astype(np.float32))

    def set_label(self, y: int) -> None:
        if self.label_combo.isVisible() or self.probe is not None and self.probe.conditional:
            self.label_combo.setCurrentIndex(int(y))
        self.label = int(y)

    def _use_selected(self) -> None:
        if self._selected_code is not None:
            self.set_code(self._selected_code)

    def _on_label(self, k: int) -> None:
        self.label = max(0, k)
        self.schedule_decode()

    def _on_slider(self, d: int, v: int) -> None:
        self.z[d] = v / TICKS
        self._values[d].setText(f"{self.z[d]:+.2f}")
        self.schedule_decode()

    def schedule_decode(self) -> None:
        if not self._decode_timer.isActive():
            self._decode_timer.start()

    def decode_now(self) -> None:
        if self.probe is None or not self.probe.can_decode or not len(self.z):
            return
        y = self.label if self.probe.conditional else None
        x = self.probe.decode(self.z, y)[0]
        self.image.set_data(x)
        self.code_changed.emit(self.z)
        self.decoded.emit()
