"""The latent space tab: the scatter of encoded images (coloured by label or k-means cluster,
2-D codes as they are, more through PCA live, t-SNE on request in the background) beside the
clicked image and its reconstruction, the selected images, and the latent sliders."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QGroupBox, QHBoxLayout,
                               QLabel, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QVBoxLayout, QWidget)

from workbench.analysis.sheets import sheet_array
from workbench.ui.latent_session import LatentSession
from workbench.ui.panels.image_grid import ImageGridView
from workbench.ui.panels.latent_scatter import LatentScatter
from workbench.ui.panels.latent_sliders import LatentSliders
from workbench.ui.tasks import Task

# workbench.analysis.latent (PCA, k-means, t-SNE) imports torch, so it is imported where it is
# used: the window imports this module before torch loads.
TSNE_MAX_POINTS = 2000  # exact t-SNE is O(N²): 2000 points take about a minute on 2 cores
NO_RUN = ("Train a model (or open a run) to explore its latent space.\n\n"
          "Every few seconds of training the codes of the held-out images are drawn here,\n"
          "coloured by label; click one to load its code into the sliders.")


def _pair_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Input | reconstruction side by side as one uint8 picture."""
    return sheet_array(np.stack([a, b]), nrow=2)


class LatentExplorer(QWidget):
    status = Signal(str)

    def __init__(self, session: LatentSession, parent=None):
        super().__init__(parent)
        self.session = session
        self.xy: np.ndarray | None = None
        self.view_idx = np.zeros(0, np.int64)  # scatter point -> row of session.encoded
        self.projection_note = ""
        self.tsne_step: int | None = None
        self._tsne_jobs = Task("tsne")
        self._build()
        session.changed.connect(self.refresh)
        session.busy_changed.connect(self._on_busy)
        self.refresh()

    # == layout ====================================================================================
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.split_combo = QComboBox()
        self.split_combo.addItem("held-out images", "val")
        self.split_combo.addItem("training images", "train")
        self.split_combo.setToolTip("Which images to encode: the 10% held out from training, "
                                    "or the training set (larger; holes show less).")
        self.split_combo.currentIndexChanged.connect(
            lambda: self.session.set_split(self.split_combo.currentData()))
        self.proj_combo = QComboBox()
        self.proj_combo.addItem("codes / PCA", "pca")
        self.proj_combo.addItem("t-SNE", "tsne")
        self.proj_combo.setToolTip(
            "How codes of more than 2 dimensions are drawn. PCA: the plane of largest variance, "
            "a faithful linear shadow, updated live. t-SNE: a non-linear map that keeps "
            "neighbours together (distances between clusters mean little); computed on "
            "request in the background.")
        self.proj_combo.currentIndexChanged.connect(self._on_projection)
        self.tsne_button = QPushButton("Run t-SNE")
        self.tsne_button.setToolTip(f"Compute t-SNE of the current codes (at most "
                                    f"{TSNE_MAX_POINTS} points, perplexity 30).")
        self.tsne_button.clicked.connect(self.run_tsne)
        self.tsne_progress = QProgressBar()
        self.tsne_progress.setFixedWidth(90)
        self.tsne_progress.hide()
        self.tsne_cancel_button = QPushButton("Cancel")
        self.tsne_cancel_button.hide()
        self.tsne_cancel_button.clicked.connect(self.cancel_tsne)
        self.kmeans_check = QCheckBox("k-means, k =")
        self.kmeans_check.setToolTip("Cluster the codes (in the full latent space) and colour "
                                     "points by cluster. Purity: the share of points whose "
                                     "cluster's majority label is their own.")
        self.kmeans_check.toggled.connect(self.redraw)
        self.k_spin = QSpinBox()
        self.k_spin.setRange(2, 50)
        self.k_spin.setValue(10)
        self.k_spin.valueChanged.connect(lambda: self.kmeans_check.isChecked() and self.redraw())
        self.purity_label = QLabel("")
        self.purity_label.setObjectName("purity_label")
        self.mode_buttons = QButtonGroup(self)
        mode_row = QHBoxLayout()
        mode_row.setSpacing(0)
        for mode, text, tip in (("pan", "Pan", "Drag pans, the wheel zooms, click picks a point"),
                                ("rect", "Rectangle", "Drag a rectangle to select images"),
                                ("lasso", "Lasso", "Draw around images to select them")):
            b = QPushButton(text)
            b.setCheckable(True)
            b.setToolTip(tip)
            b.setProperty("mode", mode)
            self.mode_buttons.addButton(b)
            mode_row.addWidget(b)
            if mode == "pan":
                b.setChecked(True)
        self.mode_buttons.buttonClicked.connect(
            lambda b: self.scatter.set_mode(b.property("mode")))
        # Two short rows, so the window's minimum width does not grow with the controls.
        for w in (QLabel("Encode"), self.split_combo, QLabel("Draw"), self.proj_combo,
                  self.tsne_button, self.tsne_progress, self.tsne_cancel_button):
            bar.addWidget(w)
        bar.addStretch(1)
        lay.addLayout(bar)
        bar2 = QHBoxLayout()
        bar2.addWidget(self.kmeans_check)
        bar2.addWidget(self.k_spin)
        bar2.addWidget(self.purity_label)
        bar2.addStretch(1)
        bar2.addWidget(QLabel("Mouse:"))
        bar2.addLayout(mode_row)
        lay.addLayout(bar2)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.scatter = LatentScatter(NO_RUN)
        self.scatter.point_clicked.connect(self._on_point_clicked)
        self.scatter.point_hovered.connect(self._on_point_hovered)
        self.scatter.selection_changed.connect(self._on_selection)
        split.addWidget(self.scatter)

        # Right: the clicked image and the selection side by side, the sliders below.
        right = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        tl = QHBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Image → reconstruction")
        bl = QVBoxLayout(box)
        self.pair_view = ImageGridView("Click a point: its image and the\nmodel's reconstruction "
                                       "appear here.\nHover to preview.")
        self.pair_view.setObjectName("pair_view")
        self.pair_view.setMinimumSize(140, 80)
        self.pair_caption = QLabel("")
        self.pair_caption.setWordWrap(True)
        bl.addWidget(self.pair_view, 1)
        bl.addWidget(self.pair_caption)
        tl.addWidget(box)
        box = QGroupBox("Selection")
        bl = QVBoxLayout(box)
        self.selection_view = ImageGridView("Select points with\nRectangle or Lasso:\n"
                                            "the images appear here.")
        self.selection_view.setMinimumSize(140, 80)
        self.selection_caption = QLabel("")
        self.selection_caption.setWordWrap(True)
        bl.addWidget(self.selection_view, 1)
        bl.addWidget(self.selection_caption)
        tl.addWidget(box)
        right.addWidget(top)
        box = QGroupBox("Latent sliders")
        bl = QVBoxLayout(box)
        self.sliders = LatentSliders()
        bl.addWidget(self.sliders)
        self.sliders_hint = QLabel("")
        self.sliders_hint.setWordWrap(True)
        self.sliders_hint.setStyleSheet("color: palette(mid);")
        bl.addWidget(self.sliders_hint)
        right.addWidget(box)
        right.setSizes([240, 520])
        split.addWidget(right)
        split.setSizes([640, 380])
        lay.addWidget(split, 1)

    # == refresh from the session =====================================================================
    def refresh(self) -> None:
        s = self.session
        probe, enc = s.probe, s.encoded
        # A new model, dataset or run drops the clicked image and the selection: they were rows
        # of the data that was encoded before.
        if s.focus is None:
            self.pair_view.clear_image()
            self.pair_caption.setText("")
        if not len(s.selection):
            self.selection_view.clear_image()
            self.selection_caption.setText("")
        if probe is None:
            self.scatter.show_hint(NO_RUN)
            self.sliders.set_probe(None)
            self.sliders_hint.setText("No model yet.")
            self.xy = None
            return
        names = enc.class_names if enc is not None else ()
        self.sliders.set_probe(probe, enc.kl if enc is not None else None, names)
        self.sliders_hint.setText(
            "" if probe.can_decode else f"{probe.name} has no decoder to drive.")
        if not probe.can_encode:
            self.scatter.show_hint(
                f"{probe.name} has no encoder: nothing maps an image to a code, so there is no "
                "scatter of the data.\nThe sliders on the right drive its generator over z; "
                "a (V)AE shows its codes here.")
            self.xy = None
            return
        if enc is None or enc.codes is None:
            self.scatter.show_hint("The model's data does not match the selected dataset.")
            self.xy = None
            return
        if self.proj_combo.currentData() == "tsne" and self.xy is not None \
                and len(self.view_idx) and self.view_idx.max() < len(enc.codes):
            self.projection_note = f"t-SNE of step {self.tsne_step} (press Run t-SNE to update)"
            self.redraw(keep_view=True)
            return
        self._project_pca(keep_view=self.xy is not None)

    def _project_pca(self, keep_view: bool = False) -> None:
        from workbench.analysis.latent import project_2d

        enc = self.session.encoded
        old = self.xy if self.xy is not None and len(self.view_idx) == len(enc.codes) else None
        self.xy, how = project_2d(enc.codes)
        if old is not None and old.shape == self.xy.shape:
            # PCA axes have no sign: keep the one closest to the last picture, so points do
            # not jump to the mirror side each time training refreshes the codes.
            flip = (self.xy * old).sum(0) < 0
            self.xy[:, flip] *= -1
        self.view_idx = np.arange(len(enc.codes))
        self.projection_note = how
        self.redraw(keep_view=keep_view)

    def redraw(self, keep_view: bool = True) -> None:
        enc = self.session.encoded
        if enc is None or enc.codes is None or self.xy is None:
            return
        codes = enc.codes[self.view_idx]
        labels = enc.labels[self.view_idx] if enc.labels is not None else None
        step = f" · step {self.session.step}" if self.session.step is not None else ""
        title = f"{len(self.view_idx)} {self._split_name()} · {self.projection_note}{step}"
        if self.kmeans_check.isChecked():
            from workbench.analysis.latent import cluster_purity, kmeans

            assign, _ = kmeans(codes, self.k_spin.value(), seed=0)
            names = [f"cluster {j + 1}" for j in range(int(assign.max()) + 1)]
            self.scatter.set_points(self.xy, assign, names, title, keep_view=keep_view)
            centres = np.array([self.xy[assign == j].mean(0) for j in range(len(names))])
            self.scatter.set_centres(centres)
            if labels is not None:
                purity = cluster_purity(assign, labels)
                self.purity_label.setText(f"purity {purity:.0%}")
                self.purity_label.setToolTip(
                    f"{purity:.1%} of the points share their cluster's majority label "
                    f"(chance for balanced classes: about {1 / max(len(enc.class_names), 1):.0%})")
            else:
                self.purity_label.setText("(no labels)")
        else:
            groups = labels if labels is not None else np.zeros(len(codes), np.int64)
            names = list(enc.class_names) if labels is not None else ["images"]
            self.scatter.set_points(self.xy, groups, names, title, keep_view=keep_view)
            self.scatter.set_centres(None)
            self.purity_label.setText("")
        sel = np.flatnonzero(np.isin(self.view_idx, self.session.selection))
        self.scatter.set_selection(sel)
        if self.session.focus is not None:
            where = np.flatnonzero(self.view_idx == self.session.focus)
            self.scatter.set_focus(int(where[0]) if len(where) else None)

    def _split_name(self) -> str:
        return "held-out images" if self.session.split == "val" else "training images"

    def _on_busy(self, busy: bool) -> None:
        if busy and self.session.probe is None:
            self.scatter.show_hint("Encoding the images…")

    # == interaction ==================================================================================
    def _on_point_clicked(self, i: int) -> None:
        row = int(self.view_idx[i])
        enc, probe = self.session.encoded, self.session.probe
        self.session.set_focus(row)
        self._show_pair(row)
        if probe is not None and probe.conditional and enc.labels is not None:
            self.sliders.set_label(int(enc.labels[row]))
        if probe is not None and probe.can_decode:
            self.sliders.set_code(enc.codes[row], selected=True)
        self.status.emit(f"Image {row} ({enc.label_name(row)}): code loaded into the sliders.")

    def _on_point_hovered(self, i: int) -> None:
        if 0 <= i < len(self.view_idx):
            self._show_pair(int(self.view_idx[i]), hover=True)

    def _show_pair(self, row: int, hover: bool = False) -> None:
        enc, probe = self.session.encoded, self.session.probe
        if enc is None or probe is None:
            return
        x = enc.images[row]
        y = int(enc.labels[row]) if enc.labels is not None and probe.conditional else None
        rec = probe.decode(enc.codes[row], y)[0] if probe.can_decode else x
        if x.ndim != 3:
            return  # 2-D points: nothing to picture
        self.pair_view.set_array(_pair_image(x, rec))
        label = enc.label_name(row)
        what = "hovered" if hover else "clicked"
        self.pair_caption.setText(f"{what}: image {row}" + (f", label {label}" if label else "")
                                  + " · left: input, right: reconstruction")

    def _on_selection(self, indices) -> None:
        rows = self.view_idx[np.asarray(indices, np.int64)]
        self.session.set_selection(rows)
        enc = self.session.encoded
        if not len(rows):
            self.selection_view.clear_image()
            self.selection_caption.setText("")
            return
        if enc.images.ndim == 4:
            self.selection_view.set_array(sheet_array(enc.images[rows[:64]]))
        counts = ""
        if enc.labels is not None:
            vals, cnt = np.unique(enc.labels[rows], return_counts=True)
            top = sorted(zip(cnt, vals), reverse=True)[:5]
            counts = " · " + ", ".join(f"{enc.class_names[v] if v < len(enc.class_names) else v}"
                                        f": {c}" for c, v in top)
        shown = " (first 64 shown)" if len(rows) > 64 else ""
        self.selection_caption.setText(f"{len(rows)} selected{shown}{counts}")

    # == projections ==================================================================================
    def _on_projection(self) -> None:
        if self.proj_combo.currentData() == "pca":
            self.cancel_tsne()
            if self.session.encoded is not None and self.session.encoded.codes is not None:
                self._project_pca(keep_view=False)
        elif self.tsne_step is None or self.xy is None:
            self.run_tsne()

    def run_tsne(self) -> None:
        enc = self.session.encoded
        if enc is None or enc.codes is None:
            self.status.emit("Nothing to map yet: train or open a model with an encoder.")
            return
        self.cancel_tsne()
        n = len(enc.codes)
        idx = np.arange(n)
        if n > TSNE_MAX_POINTS:
            idx = np.sort(np.random.default_rng(0).choice(n, TSNE_MAX_POINTS, replace=False))
        codes = enc.codes[idx]
        step = self.session.step
        self.tsne_progress.setRange(0, 100)
        self.tsne_progress.setValue(0)
        self.tsne_progress.show()
        self.tsne_cancel_button.show()
        self.tsne_button.setEnabled(False)

        def work(ctx):
            from workbench.analysis.latent import tsne

            return tsne(codes, ctx=ctx)

        def done(xy):
            self._tsne_finished()
            self.xy, self.view_idx, self.tsne_step = xy, idx, step
            note = f" (a random {len(idx)} of {n})" if len(idx) < n else ""
            self.projection_note = f"t-SNE{note}"
            if self.proj_combo.currentData() != "tsne":
                self.proj_combo.blockSignals(True)
                self.proj_combo.setCurrentIndex(self.proj_combo.findData("tsne"))
                self.proj_combo.blockSignals(False)
            self.redraw(keep_view=False)
            self.status.emit("t-SNE done.")

        def failed(e):
            self._tsne_finished()
            self.status.emit(f"t-SNE failed: {e}")

        def progress(done, total, _text):
            self.tsne_progress.setValue(int(100 * done / max(total, 1)))

        self.status.emit(f"t-SNE of {len(idx)} codes running in the background…")
        self._tsne_jobs.submit(work, on_done=done, on_error=failed, on_progress=progress,
                               on_cancelled=lambda: self.status.emit("t-SNE cancelled."))

    def cancel_tsne(self) -> None:
        self._tsne_jobs.cancel()
        self._tsne_finished()

    def _tsne_finished(self) -> None:
        self.tsne_progress.hide()
        self.tsne_cancel_button.hide()
        self.tsne_button.setEnabled(True)

    @property
    def tsne_running(self) -> bool:
        return self._tsne_jobs.busy

    def apply_lesson(self, options: dict) -> None:
        """A lesson's [panel] options: kmeans = true | false."""
        if "kmeans" in options:
            self.kmeans_check.setChecked(bool(options["kmeans"]))

    def shutdown(self) -> None:
        self._tsne_jobs.shutdown()

