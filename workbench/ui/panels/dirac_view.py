"""The Dirac-GAN view: the gradient vector field of the two-parameter game of Mescheder et al.
2018 (workbench/analysis/dirac.py), gradient-play trajectories from a start point the user drags,
and the eigenvalues that decide whether play converges.

Everything is recomputed on the GUI thread: a 500-step path costs a few milliseconds (the scalar
fast path of dirac.simulate), so the view follows a drag live. Arrows are drawn as line segments
(`connect="pairs"`) in a handful of curves, one per magnitude band, not one item per arrow."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout,
                               QGroupBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider,
                               QSpinBox, QVBoxLayout, QWidget)

from workbench.analysis import dirac

EXTENT = 2.0
GRID = 21  # arrows per side
BANDS = 6  # colour bands of arrow magnitude
SIM_COLOR, ALT_COLOR = "#d62728", "#1f77b4"
ANIM_MS = 30

LOSSES = [("GAN (saturating)", "gan"), ("GAN (non-saturating G)", "gan_ns"), ("WGAN", "wgan")]
REGS = [("none", None), ("R1 / R2 gradient penalty", "r1"), ("instance noise", "instance_noise"),
        ("WGAN weight clipping", "wgan_clip"), ("WGAN-GP", "wgan_gp"),
        ("consensus (combined field)", "consensus")]
REG_TIPS = {
    None: "Plain gradient play: the field rotates around the equilibrium.",
    "r1": "Zero-centred gradient penalty γ/2‖∇ₓD‖² on real (R1) or fake (R2) data. Here ∇ₓD = ψ, "
          "so D's component gets −γψ: D is pulled back to 0 and the rotation is damped.",
    "instance_noise": "Gaussian noise σ on D's inputs, real and fake. The distributions overlap, "
                      "which damps the rotation like a penalty of strength σ²/2.",
    "wgan_clip": "ψ is clamped to [−c, c] after every D step (c = γ). Bounds D but does not "
                 "remove the rotation: play keeps orbiting.",
    "wgan_gp": "λ(‖∇ₓD‖ − 1)² (λ = γ) pulls |ψ| to 1, not 0, so D never settles at the "
               "equilibrium: play does not converge (and the Jacobian at 0 does not exist).",
    "consensus": "v − γ∇(½‖v‖²): also descend the size of the field itself. This 'combined "
                 "field' points inwards and removes the cycles.",
}
CAPTION = (
    "<b>What you see.</b> The plane is the whole game: θ is where the generator puts its single "
    "sample (the data sit at 0), ψ is the slope of the linear discriminator D(x) = ψx. Arrows show "
    "the gradient field v = (−∂L/∂θ, ∂L/∂ψ), normalised, darker = stronger. Drag the <b>+</b> to "
    "start play elsewhere: <span style='color:%s'>simultaneous</span> steps move both players from "
    "the same point, <span style='color:%s'>alternating</span> steps let D move first. Without a "
    "regulariser the field circles the equilibrium (eigenvalues ±i/2): simultaneous play spirals "
    "out, alternating play orbits for ever. R1, instance noise and consensus add a negative real "
    "part and play converges. On the right: eigenvalues of the Jacobian J (left half-plane = the "
    "continuous flow converges) and of one discrete update (inside the unit circle = the steps "
    "converge)." % (SIM_COLOR, ALT_COLOR))


def arrow_segments(x, y, u, v, length):
    """Line-segment endpoints (pairs) for arrows of fixed `length` along (u, v) centred at
    (x, y): a shaft and two head strokes each, so all arrows draw as one `connect="pairs"`."""
    mag = np.hypot(u, v)
    safe = np.where(mag > 0, mag, 1.0)
    dx, dy = u / safe * length, v / safe * length
    x0, y0, x1, y1 = x - dx / 2, y - dy / 2, x + dx / 2, y + dy / 2
    c, s = np.cos(np.pi / 7), np.sin(np.pi / 7)  # head strokes at ±26°, 35 % of the length
    hx, hy = -dx * 0.35, -dy * 0.35
    hl = (x1 + c * hx - s * hy, y1 + s * hx + c * hy)
    hr = (x1 + c * hx + s * hy, y1 - s * hx + c * hy)
    xs = np.stack([x0, x1, x1, hl[0], x1, hr[0]], -1).ravel()
    ys = np.stack([y0, y1, y1, hl[1], y1, hr[1]], -1).ravel()
    return xs, ys


def fmt_complex(z: complex) -> str:
    if not np.isfinite(z):
        return "—"
    re, im = z.real + 0.0, z.imag + 0.0
    real = f"{re:+.3f}".replace("-", "−")  # a typographic minus, like the formulas
    if abs(im) < 5e-4:
        return real
    return f"{real} {'+' if im >= 0 else '−'} {abs(im):.3f}i"


class DiracPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.paths: dict[str, np.ndarray] = {}
        self.shown = 1  # trajectory points revealed so far by the animation
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(ANIM_MS)
        self.timer.timeout.connect(self._tick)
        self.recompute()

    # -- layout -----------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        outer.addLayout(top, 1)

        self.field_plot = pg.PlotWidget(background="w")
        self.field_plot.setObjectName("dirac_field")
        p = self.field_plot.getPlotItem()
        p.setTitle("Gradient field of the Dirac-GAN game")
        p.setLabel("bottom", "θ  (generator: where the fake sample sits)")
        p.setLabel("left", "ψ  (discriminator slope, D(x) = ψx)")
        p.setAspectLocked(True)
        p.setRange(xRange=(-EXTENT, EXTENT), yRange=(-EXTENT, EXTENT), padding=0.04)
        p.disableAutoRange()
        p.showGrid(x=True, y=True, alpha=0.15)
        self.legend = p.addLegend(offset=(8, 8), brush=(255, 255, 255, 210))
        ramp = [(205, 210, 220), (8, 48, 107)]
        self.band_curves = []
        for i in range(BANDS):
            t = i / (BANDS - 1)
            color = tuple(int(ramp[0][k] + t * (ramp[1][k] - ramp[0][k])) for k in range(3))
            c = pg.PlotCurveItem(pen=pg.mkPen(color, width=1.0 + 0.5 * t), connect="pairs",
                                 antialias=True)
            p.addItem(c)
            self.band_curves.append(c)
        self.curves = {
            "simultaneous": p.plot([], [], pen=pg.mkPen(SIM_COLOR, width=2.2), connect="finite",
                                   name="simultaneous steps"),
            "alternating": p.plot([], [], pen=pg.mkPen(ALT_COLOR, width=2.2), connect="finite",
                                  name="alternating steps"),
        }
        self.heads = {k: pg.ScatterPlotItem(size=8, brush=c, pen=pg.mkPen("w"))
                      for k, c in (("simultaneous", SIM_COLOR), ("alternating", ALT_COLOR))}
        for h in self.heads.values():
            p.addItem(h)
        eq = pg.ScatterPlotItem([0], [0], symbol="star", size=16, brush="#2ca02c",
                                pen=pg.mkPen("k", width=0.5))
        p.addItem(eq)
        self.legend.addItem(eq, "equilibrium (0, 0)")
        self.start = pg.TargetItem(pos=(1.0, 1.0), size=16, movable=True,
                                   pen=pg.mkPen("k", width=2), label="start",
                                   labelOpts={"color": "k", "offset": (8, -14)})
        self.start.setToolTip("Drag me: the start point (θ₀, ψ₀) of both trajectories.")
        p.addItem(self.start)
        self.start.sigPositionChanged.connect(self._start_moved)
        top.addWidget(self.field_plot, 3)

        right = QVBoxLayout()
        top.addLayout(right, 2)
        self.eig_plot = pg.PlotWidget(background="w")
        self.eig_plot.setObjectName("dirac_eigenvalues")
        ep = self.eig_plot.getPlotItem()
        ep.setTitle("Eigenvalues on the complex plane")
        ep.setLabel("bottom", "real part")
        ep.setLabel("left", "imaginary part")
        ep.setAspectLocked(True)
        ep.showGrid(x=True, y=True, alpha=0.15)
        ep.addLegend(offset=(6, 6), brush=(255, 255, 255, 210))
        phi = np.linspace(0, 2 * np.pi, 200)
        ep.plot(np.cos(phi), np.sin(phi), name="unit circle |μ| = 1",
                pen=pg.mkPen("#555", width=1.5, style=Qt.PenStyle.DashLine))
        ep.addLine(x=0, pen=pg.mkPen("#aaa"))
        ep.addLine(y=0, pen=pg.mkPen("#aaa"))
        self.eig_items = {
            "J": ep.plot([], [], pen=None, symbol="x", symbolSize=13,
                         symbolPen=pg.mkPen("k", width=2),
                         name="λ of J (flow)"),
            "simultaneous": ep.plot([], [], pen=None, symbol="o", symbolSize=10,
                                    symbolBrush=SIM_COLOR, symbolPen=None,
                                    name="μ of I + lr·J (simultaneous)"),
            "alternating": ep.plot([], [], pen=None, symbol="t", symbolSize=10,
                                   symbolBrush=ALT_COLOR, symbolPen=None,
                                   name="μ of alternating update"),
        }
        ep.setRange(xRange=(-1.3, 1.3), yRange=(-1.25, 2.1))  # room for the legend on top
        self.eig_plot.setToolTip(
            "× eigenvalues λ of the Jacobian J of the field at the equilibrium: real part < 0 "
            "means the continuous flow converges.\n● eigenvalues μ of one discrete update "
            "(I + lr·J for simultaneous steps): inside the unit circle means the steps "
            "converge, on it they orbit, outside they spiral away.")
        right.addWidget(self.eig_plot, 3)
        self.eig_label = QLabel()
        self.eig_label.setObjectName("eig_label")
        self.eig_label.setTextFormat(Qt.TextFormat.RichText)
        self.eig_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.eig_label.setToolTip(self.eig_plot.toolTip())
        right.addWidget(self.eig_label)
        right.addWidget(self._controls())

        self.caption = QLabel(CAPTION)
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        outer.addWidget(self.caption, 0)

    def _controls(self) -> QWidget:
        box = QGroupBox("Game and training")
        form = QFormLayout(box)
        self.loss_combo = QComboBox()
        for text, key in LOSSES:
            self.loss_combo.addItem(text, key)
        self.loss_combo.setToolTip(
            "f in L(θ, ψ) = f(ψθ) + f(0). GAN: f(t) = −log(1 + e^−t), f'(0) = ½. Non-saturating: "
            "G maximises log D of its sample instead (same eigenvalues, stronger far-off pull). "
            "WGAN: f(t) = t, a pure rotation of speed 1 everywhere.")
        form.addRow("Loss", self.loss_combo)
        self.reg_combo = QComboBox()
        for text, key in REGS:
            self.reg_combo.addItem(text, key)
            self.reg_combo.setItemData(self.reg_combo.count() - 1, REG_TIPS[key],
                                       Qt.ItemDataRole.ToolTipRole)
        self.reg_combo.setToolTip("How the game is stabilised; hover an entry for what it does.")
        form.addRow("Regulariser", self.reg_combo)

        self.gamma_slider, self.gamma_value = self._slider(0, 200, 100)
        self.gamma_slider.setToolTip(
            "Strength γ of the regulariser: R1/R2 γ, consensus γ, WGAN-GP λ, clipping bound c.")
        form.addRow(self._row_label("γ", self.gamma_slider.toolTip()),
                    self._pair(self.gamma_slider, self.gamma_value))
        self.sigma_slider, self.sigma_value = self._slider(0, 200, 100)
        self.sigma_slider.setToolTip(
            "Standard deviation σ of the instance noise added to D's inputs. The field is its "
            "expectation over the noise.")
        form.addRow(self._row_label("σ", self.sigma_slider.toolTip()),
                    self._pair(self.sigma_slider, self.sigma_value))
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setRange(0.01, 2.0)
        self.lr_spin.setSingleStep(0.05)
        self.lr_spin.setValue(0.2)
        self.lr_spin.setDecimals(3)
        self.lr_spin.setToolTip("Learning rate of both players: the length of each step along "
                                "the field. Larger steps exaggerate the spiral of simultaneous "
                                "play.")
        form.addRow("Learning rate", self.lr_spin)
        self.dsteps_spin = QSpinBox()
        self.dsteps_spin.setRange(1, 20)
        self.dsteps_spin.setToolTip("Discriminator updates per generator update (k).")
        form.addRow("D steps per G step", self.dsteps_spin)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(10, 5000)
        self.steps_spin.setSingleStep(50)
        self.steps_spin.setValue(500)
        self.steps_spin.setToolTip("Generator steps in each trajectory.")
        form.addRow("G steps", self.steps_spin)
        self.show_field = QCheckBox("show arrows")
        self.show_field.setChecked(True)
        self.show_field.setToolTip("Show or hide the vector field.")
        form.addRow(self.show_field)

        buttons = QGridLayout()
        self.play_button = QPushButton("Pause")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Animate the trajectories step by step, or pause them.")
        self.reset_button = QPushButton("Replay")
        self.reset_button.setToolTip("Start both trajectories again from the start point.")
        self.full_button = QPushButton("Show all")
        self.full_button.setToolTip("Show the whole trajectories at once.")
        buttons.addWidget(self.play_button, 0, 0)
        buttons.addWidget(self.reset_button, 0, 1)
        buttons.addWidget(self.full_button, 0, 2)
        form.addRow(buttons)

        self.loss_combo.currentIndexChanged.connect(self.recompute)
        self.reg_combo.currentIndexChanged.connect(self.recompute)
        self.gamma_slider.valueChanged.connect(self.recompute)
        self.sigma_slider.valueChanged.connect(self.recompute)
        self.lr_spin.valueChanged.connect(self.recompute)
        self.dsteps_spin.valueChanged.connect(self.recompute)
        self.steps_spin.valueChanged.connect(self.recompute)
        self.show_field.toggled.connect(lambda on: [c.setVisible(on) for c in self.band_curves])
        self.play_button.toggled.connect(self._play_toggled)
        self.reset_button.clicked.connect(self.replay)
        self.full_button.clicked.connect(self.show_all)
        return box

    def _slider(self, lo, hi, value):
        s = QSlider(Qt.Orientation.Horizontal)
        s.setRange(lo, hi)
        s.setValue(value)
        label = QLabel()
        label.setMinimumWidth(38)
        s.valueChanged.connect(lambda v: label.setText(f"{v / 100:.2f}"))
        label.setText(f"{value / 100:.2f}")
        return s, label

    @staticmethod
    def _pair(a, b) -> QWidget:
        w = QWidget()
        lay = QHBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(a, 1)
        lay.addWidget(b)
        return w

    @staticmethod
    def _row_label(text, tip) -> QLabel:
        lab = QLabel(text)
        lab.setToolTip(tip)
        return lab

    # -- state ------------------------------------------------------------------------------------
    def params(self) -> dict:
        return {"loss": self.loss_combo.currentData(), "reg": self.reg_combo.currentData(),
                "gamma": self.gamma_slider.value() / 100,
                "sigma": self.sigma_slider.value() / 100
                if self.reg_combo.currentData() == "instance_noise" else 0.0}

    def start_point(self) -> tuple[float, float]:
        pos = self.start.pos()
        return float(pos.x()), float(pos.y())

    def set_start(self, theta: float, psi: float) -> None:
        self.start.setPos(theta, psi)  # emits sigPositionChanged, as a drag does

    def select(self, loss: str | None = None, reg: str | None = "keep") -> None:
        """Pick a loss and/or regulariser by key (e.g. select(reg="r1"))."""
        if loss is not None:
            self.loss_combo.setCurrentIndex(self.loss_combo.findData(loss))
        if reg != "keep":
            self.reg_combo.setCurrentIndex(self.reg_combo.findData(reg))

    # -- computing --------------------------------------------------------------------------------
    def recompute(self) -> None:
        p = self.params()
        reg = p["reg"]
        self.gamma_slider.setEnabled(reg in ("r1", "consensus", "wgan_gp", "wgan_clip"))
        self.sigma_slider.setEnabled(reg == "instance_noise")
        self.reg_combo.setToolTip(REG_TIPS[reg])
        self._draw_field(p)
        self._compute_paths()
        self._update_eigenvalues(p)

    def _draw_field(self, p) -> None:
        g = np.linspace(-EXTENT, EXTENT, GRID)
        th, ps = np.meshgrid(g, g)
        field_reg = None if p["reg"] == "wgan_clip" else p["reg"]
        u, v = dirac.vector_field(th, ps, p["loss"], field_reg, p["gamma"], p["sigma"])
        mag = np.hypot(u, v).ravel()
        top = mag.max() if mag.size and mag.max() > 0 else 1.0
        band = np.minimum((mag / top * BANDS).astype(int), BANDS - 1)
        xs, ys = arrow_segments(th.ravel(), ps.ravel(), u.ravel(), v.ravel(),
                                length=0.75 * (g[1] - g[0]))
        xs, ys = xs.reshape(-1, 6), ys.reshape(-1, 6)
        for i, curve in enumerate(self.band_curves):
            sel = band == i
            curve.setData(xs[sel].ravel(), ys[sel].ravel())
        self.field_max = float(top)

    def _compute_paths(self) -> None:
        p = self.params()
        for method in dirac.METHODS:
            self.paths[method] = dirac.simulate(
                p["loss"], p["reg"], p["gamma"], method=method, lr=self.lr_spin.value(),
                steps=self.steps_spin.value(), start=self.start_point(),
                d_steps=self.dsteps_spin.value(), sigma=p["sigma"])
        self._draw_paths()

    def _draw_paths(self) -> None:
        for method, path in self.paths.items():
            shown = path[: min(self.shown, len(path))]
            self.curves[method].setData(shown[:, 0], shown[:, 1])
            last = shown[np.isfinite(shown).all(1)][-1:]
            self.heads[method].setData(last[:, 0], last[:, 1])

    def _update_eigenvalues(self, p) -> None:
        lr, k = self.lr_spin.value(), self.dsteps_spin.value()
        lam = dirac.eigenvalues(p["loss"], p["reg"], p["gamma"], p["sigma"])
        mus = {m: dirac.update_eigenvalues(p["loss"], p["reg"], p["gamma"], p["sigma"], m, lr, k)
               for m in dirac.METHODS}
        self.eigenvalues = {"J": lam, **mus}
        for key, ev in self.eigenvalues.items():
            ev = ev[np.isfinite(ev)]
            self.eig_items[key].setData(ev.real, ev.imag)
        if not np.all(np.isfinite(lam)):
            text = ("<b>λ(J)</b>: not defined: the WGAN-GP penalty has a kink at ψ = 0 and "
                    "pushes |ψ| towards 1, so play cannot settle at the equilibrium.")
        else:
            def verdict(ev, disc):
                r = np.abs(ev).max() if disc else ev.real.max()
                edge = 1.0 if disc else 0.0
                if r < edge - 1e-9:
                    return "<span style='color:#2ca02c'>converges</span>"
                if r > edge + 1e-9:
                    return "<span style='color:#d62728'>diverges</span>"
                return "<span style='color:#ff7f0e'>orbits</span>"
            text = (f"<b>λ(J)</b> = {', '.join(fmt_complex(z) for z in lam)} → flow "
                    f"{verdict(lam, False)}<br>"
                    f"<span style='color:{SIM_COLOR}'>simultaneous</span> |μ| = "
                    f"{np.abs(mus['simultaneous']).max():.4f} → "
                    f"{verdict(mus['simultaneous'], True)}"
                    f"; <span style='color:{ALT_COLOR}'>alternating</span> |μ| = "
                    f"{np.abs(mus['alternating']).max():.4f} → {verdict(mus['alternating'], True)}")
            if p["reg"] == "wgan_clip":
                text += "<br>(clipping only acts away from 0: the linearisation is plain WGAN's)"
        self.eig_label.setText(text)

    # -- animation --------------------------------------------------------------------------------
    def _start_moved(self) -> None:
        self._compute_paths()

    def _play_toggled(self, paused: bool) -> None:
        self.play_button.setText("Play" if paused else "Pause")
        if paused:
            self.timer.stop()
        elif self.isVisible():
            self.timer.start()

    def replay(self) -> None:
        self.shown = 1
        self._draw_paths()
        if not self.play_button.isChecked():
            self.timer.start()

    def show_all(self) -> None:
        self.shown = max(len(p) for p in self.paths.values())
        self._draw_paths()

    def _tick(self) -> None:
        total = max(len(p) for p in self.paths.values())
        if self.shown >= total:
            self.timer.stop()
            return
        # about four seconds for a whole trajectory, whatever its length
        self.shown = min(total, self.shown + max(1, total * ANIM_MS // 4000))
        self._draw_paths()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.play_button.isChecked() and self.shown < self.steps_spin.value() + 1:
            self.timer.start()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # a word-wrapped label's size hint assumes some narrow width and reserves rows of empty
        # space; give it exactly the height its text needs at the width it has
        margins = self.layout().contentsMargins()
        width = max(100, self.width() - margins.left() - margins.right())
        self.caption.setFixedHeight(self.caption.heightForWidth(width))

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.timer.stop()  # no work while the tab is not visible
