"""Walks through a latent space: traversal grids (the β-VAE disentanglement picture),
interpolation between two images (linear and spherical, beside a second model and beside
pixel space), and latent arithmetic with attribute vectors.

Each view decodes a small batch of codes on the GUI thread from the session's probe (a CPU
copy of the model in inference mode: ~100 decodes of a 28×28 model take milliseconds)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QPushButton, QSlider, QSpinBox, QTabWidget, QVBoxLayout,
                               QWidget)

from workbench.ui.latent_session import LatentSession
from workbench.ui.state import Snapshot
from workbench.ui.panels.image_grid import ImageGridView

NO_MODEL = "Train a model or open a run: its latent space can then be walked here."


def _grid(images: np.ndarray, ncol: int) -> np.ndarray:
    from workbench.analysis.sheets import sheet_array

    return sheet_array(images, nrow=ncol)


def _caption() -> QLabel:
    lab = QLabel("")
    lab.setWordWrap(True)
    lab.setStyleSheet("color: palette(mid);")
    return lab


class _Walk(QWidget):
    """Shared plumbing: redraw (coalesced) when the session or a control changes. Each view
    defines `update_view()`, which draws from the session's probe (or raises ValueError with
    what is missing, shown as the caption)."""

    status = Signal(str)

    def __init__(self, session: LatentSession, empty: str):
        super().__init__()
        self.session = session
        self.view = ImageGridView(empty)
        self.caption = _caption()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._safe_update)
        session.changed.connect(self.schedule)
        session.focus_changed.connect(lambda _i: self.schedule())

    def schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def showEvent(self, event):
        super().showEvent(event)
        self.schedule()

    def _safe_update(self) -> None:
        if not self.isVisible():
            return
        probe = self.session.probe
        if probe is None or not probe.can_decode:
            self.view.clear_image()
            self.caption.setText(NO_MODEL if probe is None else
                                 f"{probe.name} has no decoder to walk with.")
            return
        try:
            self.update_view()
        except ValueError as e:
            self.view.clear_image()
            self.caption.setText(str(e))

    def _image_shaped(self) -> bool:
        return len(self.session.probe.spec.shape) == 3

    def focus_code(self) -> tuple[np.ndarray | None, int | None]:
        """The clicked image's code and label, if there is one."""
        s = self.session
        enc = s.encoded
        if s.focus is None or enc is None or enc.codes is None or s.focus >= len(enc.codes):
            return None, None
        y = int(enc.labels[s.focus]) if enc.labels is not None else None
        return enc.codes[s.focus], y


# == traversal =======================================================================================
class TraversalView(_Walk):
    def __init__(self, session: LatentSession):
        super().__init__(session, "The traversal grid appears here: one row per latent "
                                  "dimension, sweeping it from −3 to 3 around a base code.")
        lay = QVBoxLayout(self)
        form = QHBoxLayout()
        self.base_combo = QComboBox()
        for text, key in (("zero code", "zero"), ("clicked image", "focus"),
                          ("random code", "random")):
            self.base_combo.addItem(text, key)
        self.base_combo.setToolTip("The code every row starts from; one dimension at a time "
                                   "is then set to each column's value.")
        self.order_combo = QComboBox()
        self.order_combo.addItem("most informative first (KL)", "kl")
        self.order_combo.addItem("in order", "index")
        self.order_combo.setToolTip("Which dimensions get rows. For a VAE, sorting by KL puts "
                                    "the dimensions the decoder uses first; inactive ones "
                                    "(KL ≈ 0) make rows that do not change.")
        self.rows_spin = QSpinBox()
        self.rows_spin.setRange(1, 32)
        self.rows_spin.setValue(10)
        self.rows_spin.setToolTip("How many dimensions (rows) to show.")
        self.cols_spin = QSpinBox()
        self.cols_spin.setRange(3, 21)
        self.cols_spin.setValue(11)
        self.cols_spin.setToolTip("How many values from −range to +range (columns).")
        self.range_spin = QDoubleSpinBox()
        self.range_spin.setRange(0.5, 6.0)
        self.range_spin.setValue(3.0)
        self.range_spin.setSingleStep(0.5)
        self.range_spin.setToolTip("Values swept: −range … +range (the prior's mass is "
                                   "within ±3).")
        for lab, w in (("Base", self.base_combo), ("Rows", self.order_combo), ("", self.rows_spin),
                       ("Columns", self.cols_spin), ("Range ±", self.range_spin)):
            if lab:
                form.addWidget(QLabel(lab))
            form.addWidget(w)
        self.reroll = QPushButton("New random base")
        self.reroll.clicked.connect(self._new_random)
        form.addWidget(self.reroll)
        form.addStretch(1)
        lay.addLayout(form)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.caption)
        for w in (self.base_combo, self.order_combo):
            w.currentIndexChanged.connect(self.schedule)
        for w in (self.rows_spin, self.cols_spin, self.range_spin):
            w.valueChanged.connect(self.schedule)
        self._random = None
        self.codes: np.ndarray | None = None
        self.dims: list[int] = []

    def _new_random(self) -> None:
        self._random = None
        self.base_combo.setCurrentIndex(self.base_combo.findData("random"))
        self.schedule()

    def update_view(self) -> None:
        from workbench.analysis.latent import active_dims_first, traversal_codes

        probe, enc = self.session.probe, self.session.encoded
        dim = probe.dim
        base, y = np.zeros(dim, np.float32), None
        key = self.base_combo.currentData()
        if key == "focus":
            code, y = self.focus_code()
            if code is None:
                raise ValueError("Click an image in the Latent space tab to use its code as "
                                 "the base.")
            base = code
        elif key == "random":
            if self._random is None or len(self._random) != dim:
                self._random = np.random.default_rng().standard_normal(dim).astype(np.float32)
            base = self._random
        kl = enc.kl if enc is not None else None
        order = active_dims_first(kl if self.order_combo.currentData() == "kl" else None, dim)
        self.dims = order[:self.rows_spin.value()]
        r = self.range_spin.value()
        values = np.linspace(-r, r, self.cols_spin.value())
        self.codes = traversal_codes(base, self.dims, values)
        label = y if y is not None else 0
        x = probe.decode(self.codes, label)
        if not self._image_shaped():
            raise ValueError("Traversal grids are drawn for image models.")
        self.view.set_array(_grid(x, len(values)))
        kl_txt = ""
        if kl is not None:
            kl_txt = " · KL " + ", ".join(f"z{d + 1} {kl[d]:.2f}" for d in self.dims[:8])
        self.caption.setText(f"Rows: z{', z'.join(str(d + 1) for d in self.dims)} · columns: "
                             f"{-r:g} … {r:g}{kl_txt}")


# == interpolation ====================================================================================
class InterpolationView(_Walk):
    def __init__(self, session: LatentSession):
        super().__init__(session, "Pick two images (A and B): the strip of decoded codes "
                                  "between them appears here.")
        self.compare_probe = None
        self.compare_name = ""
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.a_spin, self.b_spin = QSpinBox(), QSpinBox()
        for sp, name in ((self.a_spin, "A"), (self.b_spin, "B")):
            sp.setRange(0, 0)
            sp.setToolTip(f"Index of image {name} in the encoded images.")
            sp.valueChanged.connect(self.schedule)
        self.b_spin.setValue(1)
        self.use_a = QPushButton("Clicked → A")
        self.use_b = QPushButton("Clicked → B")
        for b, sp in ((self.use_a, self.a_spin), (self.use_b, self.b_spin)):
            b.setToolTip("Use the image clicked in the Latent space tab.")
            b.clicked.connect(lambda _=False, sp=sp: self._use_focus(sp))
        self.random_pair = QPushButton("Random pair")
        self.random_pair.clicked.connect(self._random_pair)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(3, 21)
        self.steps_spin.setValue(10)
        self.steps_spin.valueChanged.connect(self.schedule)
        self.compare_button = QPushButton("Compare with run…")
        self.compare_button.setToolTip(
            "Add a row from a second trained model on the same images: e.g. an AE beside a "
            "VAE, to see why the VAE's space is smooth (its codes between two digits decode "
            "to digits; an AE's gaps decode to blur).")
        self.compare_button.clicked.connect(self.choose_compare_run)
        for w in (QLabel("A"), self.a_spin, self.use_a, QLabel("B"), self.b_spin, self.use_b,
                  self.random_pair, QLabel("Steps"), self.steps_spin, self.compare_button):
            row.addWidget(w)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.caption)
        session.changed.connect(self._sync_ranges)
        self._gan_codes: tuple[np.ndarray, np.ndarray] | None = None
        self.rows: list[str] = []
        self.strip: np.ndarray | None = None

    def _sync_ranges(self) -> None:
        enc = self.session.encoded
        n = len(enc.images) if enc is not None else 1
        for sp in (self.a_spin, self.b_spin):
            sp.setRange(0, max(n - 1, 0))
        if n > 1 and self.a_spin.value() == self.b_spin.value():
            # Start from two different digits: the walk between them is the interesting one.
            a = self.a_spin.value()
            other = np.flatnonzero(enc.labels != enc.labels[a]) if enc.labels is not None \
                else np.array([(a + 1) % n])
            self.b_spin.setValue(int(other[0]) if len(other) else (a + 1) % n)

    def _use_focus(self, spin: QSpinBox) -> None:
        if self.session.focus is None:
            self.status.emit("Click an image in the Latent space tab first.")
            return
        spin.setValue(self.session.focus)

    def _random_pair(self) -> None:
        enc = self.session.encoded
        self._gan_codes = None
        if enc is not None and len(enc.images) > 1:
            a, b = np.random.default_rng().choice(len(enc.images), 2, replace=False)
            self.a_spin.setValue(int(a))
            self.b_spin.setValue(int(b))
        self.schedule()

    def set_compare_probe(self, probe, name: str) -> None:
        self.compare_probe, self.compare_name = probe, name
        self.schedule()

    def choose_compare_run(self) -> None:
        from pathlib import Path

        path = QFileDialog.getExistingDirectory(self, "Run to compare with")
        if path:
            try:
                probe = load_run_probe(Path(path))
            except Exception as e:  # noqa: BLE001 - any unreadable run gets a message
                self.status.emit(f"Cannot compare with {path}: {e}")
                return
            self.set_compare_probe(probe, Path(path).name)

    def update_view(self) -> None:
        from workbench.analysis.latent import interpolate

        probe, enc = self.session.probe, self.session.encoded
        steps = self.steps_spin.value()
        rows, strips = [], []
        if probe.can_encode and enc is not None and enc.codes is not None:
            a, b = self.a_spin.value(), self.b_spin.value()
            xa, xb = enc.images[a], enc.images[b]
            ya = yb = None
            if probe.conditional and enc.labels is not None:
                ya, yb = int(enc.labels[a]), int(enc.labels[b])
            za, zb = enc.codes[a], enc.codes[b]
            label = ya
            names = f"images {a} and {b}"
        else:  # a generator: two random codes stand in for two images
            if self._gan_codes is None or len(self._gan_codes[0]) != probe.dim:
                rng = np.random.default_rng()
                self._gan_codes = (rng.standard_normal(probe.dim).astype(np.float32),
                                   rng.standard_normal(probe.dim).astype(np.float32))
            za, zb = self._gan_codes
            xa = xb = None
            label = 0
            names = "two random codes (a GAN has no encoder)"
        for method in ("linear", "slerp"):
            strips.append(probe.decode(interpolate(za, zb, steps, method), label))
            rows.append(f"{probe.name}, {method}")
        cp = self.compare_probe
        if cp is not None and xa is not None and cp.can_encode and cp.can_decode \
                and tuple(cp.spec.shape) == tuple(probe.spec.shape):
            ca = cp.encode(xa[None], None if not cp.conditional else [ya])[0]
            cb = cp.encode(xb[None], None if not cp.conditional else [yb])[0]
            strips.append(cp.decode(interpolate(ca, cb, steps, "linear"), ya))
            rows.append(f"{self.compare_name}, linear")
        if xa is not None:
            t = np.linspace(0, 1, steps, dtype=np.float32)[:, None, None, None]
            strips.append((1 - t) * xa[None] + t * xb[None])
            rows.append("pixel space (cross-fade)")
        if not self._image_shaped():
            raise ValueError("Interpolation strips are drawn for image models.")
        self.strip = strips[0]
        self.rows = rows
        self.view.set_array(_grid(np.concatenate(strips), steps))
        self.caption.setText(f"From {names}, left to right. Rows: " + " · ".join(rows)
                             + ". Slerp keeps codes at a typical norm; the cross-fade shows "
                               "what mixing pixels gives instead.")


# == arithmetic ===================================================================================
class ArithmeticView(_Walk):
    def __init__(self, session: LatentSession):
        super().__init__(session, "Choose two sets and a base image: the base's code plus "
                                  "strength × (mean code of A − mean code of B) appears here.")
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.a_combo, self.b_combo = QComboBox(), QComboBox()
        for c in (self.a_combo, self.b_combo):
            c.setToolTip("A class, or a set stored from a selection in the Latent space tab "
                         "(e.g. thick digits and thin ones).")
            c.currentIndexChanged.connect(self.schedule)
        store = QHBoxLayout()
        self.store_a = QPushButton("Selection → set A")
        self.store_b = QPushButton("Selection → set B")
        self.store_a.clicked.connect(lambda: self._store("A"))
        self.store_b.clicked.connect(lambda: self._store("B"))
        store.addWidget(self.store_a)
        store.addWidget(self.store_b)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(-200, 200)
        self.strength.setValue(100)
        self.strength.setToolTip("How far to move along the attribute vector (1 = the full "
                                 "difference of the two means).")
        self.strength.valueChanged.connect(self.schedule)
        self.strength_label = QLabel("1.00")
        srow = QHBoxLayout()
        srow.addWidget(self.strength, 1)
        srow.addWidget(self.strength_label)
        form.addRow("Set A (towards)", self.a_combo)
        form.addRow("Set B (away from)", self.b_combo)
        form.addRow("", store)
        form.addRow("Strength", srow)
        lay.addLayout(form)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.caption)
        self.sets: dict[str, np.ndarray] = {}
        self.result: np.ndarray | None = None
        session.changed.connect(self._sync_sets)

    def _sync_sets(self) -> None:
        enc = self.session.encoded
        names = list(enc.class_names) if enc is not None and enc.labels is not None else []
        items = [(f"class {n}", ("class", k)) for k, n in enumerate(names)]
        items += [(f"stored set {k} ({len(v)} images)", ("set", k)) for k, v in self.sets.items()]
        for c, default in ((self.a_combo, 1), (self.b_combo, 0)):
            cur = c.currentData()
            c.blockSignals(True)
            c.clear()
            for text, data in items:
                c.addItem(text, data)
            i = c.findData(cur) if cur is not None else -1
            c.setCurrentIndex(i if i >= 0 else min(default, c.count() - 1))
            c.blockSignals(False)

    def _store(self, name: str) -> None:
        sel = self.session.selection
        if not len(sel):
            self.status.emit("Select images in the Latent space tab first (Rectangle or Lasso).")
            return
        self.sets[name] = sel.copy()
        self._sync_sets()
        combo = self.a_combo if name == "A" else self.b_combo
        combo.setCurrentIndex(combo.findData(("set", name)))
        self.schedule()

    def _mask(self, data) -> np.ndarray:
        enc = self.session.encoded
        kind, key = data
        if kind == "class":
            return np.flatnonzero(enc.labels == key)
        return self.sets.get(key, np.zeros(0, np.int64))

    def update_view(self) -> None:
        from workbench.analysis.latent import attribute_vector

        probe, enc = self.session.probe, self.session.encoded
        s = self.strength.value() / 100
        self.strength_label.setText(f"{s:+.2f}")
        if not probe.can_encode or enc is None or enc.codes is None:
            raise ValueError(f"{probe.name} has no encoder: attribute vectors are differences "
                             "of mean codes of real images, so they need one.")
        if self.a_combo.currentData() is None or self.b_combo.currentData() is None:
            raise ValueError("Needs labels or stored selections to define sets A and B.")
        v = attribute_vector(enc.codes, self._mask(self.a_combo.currentData()),
                             self._mask(self.b_combo.currentData()))
        base, y = self.focus_code()
        row = self.session.focus
        if base is None:
            row = 0
            base = enc.codes[0]
            y = int(enc.labels[0]) if enc.labels is not None else None
        strengths = np.linspace(-2, 2, 9, dtype=np.float32)
        codes = np.concatenate([base[None] + s * v[None], base[None] + strengths[:, None] * v])
        x = probe.decode(codes, y if probe.conditional else None)
        if not self._image_shaped():
            raise ValueError("Latent arithmetic is drawn for image models.")
        self.result = x[0]
        pics = np.concatenate([enc.images[row][None], x])
        self.view.set_array(_grid(pics, len(pics)))
        self.caption.setText(
            f"Left: image {row}; next: its code + {s:+.2f} × (A − B); then strengths −2 … +2. "
            f"‖A − B‖ = {float(np.linalg.norm(v)):.2f}. Click another image in the Latent space "
            "tab to change the base.")


class LatentWalks(QTabWidget):
    status = Signal(str)

    def __init__(self, session: LatentSession, parent=None):
        super().__init__(parent)
        self.traversal = TraversalView(session)
        self.interpolation = InterpolationView(session)
        self.arithmetic = ArithmeticView(session)
        for w, title, tip in (
                (self.traversal, "Traversal", "Rows = latent dimensions, columns = values: "
                 "what each dimension controls (the β-VAE disentanglement picture)."),
                (self.interpolation, "Interpolation", "Decoded codes between two images, "
                 "linear and spherical, beside a second model and pixel space."),
                (self.arithmetic, "Arithmetic", "Attribute vectors: mean code of set A − "
                 "mean code of set B, added to an image's code.")):
            self.addTab(w, title)
            self.setTabToolTip(self.count() - 1, tip)
            w.status.connect(self.status)

    def apply_lesson(self, options: dict) -> None:
        """A lesson's [panel] options: page = "traversal" | "interpolation" | "arithmetic"."""
        if options.get("page"):
            self.setCurrentWidget(getattr(self, options["page"]))


def load_run_probe(path):
    """A probe of a run directory's newest readable checkpoint (for comparisons)."""
    from safetensors.torch import load_file

    from workbench.analysis.latent import LatentProbe
    from workbench.core.errors import CheckpointError
    from workbench.engine.runs import RunDir

    run = RunDir.open(path)
    ckpts = run.checkpoints()
    if not ckpts:
        raise CheckpointError(f"{path} has no checkpoint yet")
    return LatentProbe.from_snapshot(Snapshot(run.model_name, run.config(), run.data_spec(),
                                              load_file(str(ckpts[-1].weights)), ckpts[-1].step))
