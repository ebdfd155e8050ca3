"""Anomaly detection and denoising, the two lecture demos built on reconstruction
(workbench/analysis/anomaly.py does the numbers):

- AnomalyView: the reconstruction-error histogram over the validation set (normal images vs the
  chosen class, coloured), the ROC curve of "error ≥ t means the chosen class" with its AUC, and
  the worst-reconstructed images. Either for the current weights, or for the experiment "train
  without digit k, score all digits", which trains as a background task with progress and Cancel.
- DenoisingView: clean, corrupted and reconstructed validation images side by side, Gaussian or
  masking noise with its level on a slider, decoded live from a CPU copy of the newest weights.

Both take `source()` -> {"snapshot": ui.state.Snapshot or None, "dataset": ...} from the window.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.analysis.sheets import sheet_array
from workbench.core.errors import WorkbenchError
from workbench.data.cache import cached_dataset, dataset_key
from workbench.ui.panels.image_grid import ImageGridView
from workbench.ui.tasks import Task

# The models, the scores and the hold-out run import torch: they are imported where they are used,
# so the panel module stays cheap to import before torch loads.
NORMAL_COLOR = "#1f77b4"
ANOMALY_COLOR = "#ff7f0e"
WORST_N = 24


def _plot(title: str, left: str, bottom: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w")
    p = w.getPlotItem()
    p.setMenuEnabled(False)
    p.hideButtons()
    p.setTitle(title)
    p.setLabel("left", left)
    p.setLabel("bottom", bottom)
    return w


def _caption(text: str = "") -> QLabel:
    lab = QLabel(text)
    lab.setWordWrap(True)
    return lab


def _holdout(ctx, load: Callable[[object], object], model: str, dataset, holdout: int,
             steps: int, kind: str):
    """The work of the view's experiment task: train without class `holdout`, then score."""
    from workbench.experiments.holdout import holdout_experiment

    return holdout_experiment(model, load(dataset), holdout, steps, kind=kind, device="cpu",
                              ctx=ctx)


# == anomaly detection ================================================================================
class AnomalyView(QWidget):
    status = Signal(str)

    def __init__(self, source: Callable[[], dict | None] | None = None,
                 data: Callable[[object], object] | None = None, parent=None):
        super().__init__(parent)
        self.source = source
        self.load = data or cached_dataset  # a dataset description -> TensorData on the CPU
        self.result = None  # the AnomalyResult shown
        self.experiment = Task("anomaly-experiment")  # the hold-out run
        self._jobs = Task("anomaly")  # scoring the current weights

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model"))
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("An unconditional autoencoder or VAE: the anomaly score is "
                                    "its reconstruction error.")
        row.addWidget(self.model_combo)
        row.addWidget(QLabel("anomalous class"))
        self.holdout = QSpinBox()
        self.holdout.setRange(0, 9)
        self.holdout.setValue(3)
        self.holdout.setToolTip("The class treated as the anomaly: the experiment trains without "
                                "it; the ROC curve asks how well the error picks it out.")
        row.addWidget(self.holdout)
        row.addWidget(QLabel("steps"))
        self.steps = QSpinBox()
        self.steps.setRange(1, 1_000_000)
        self.steps.setSingleStep(100)
        self.steps.setValue(1000)
        row.addWidget(self.steps)
        row.addWidget(QLabel("error"))
        self.kind = QComboBox()
        self.kind.addItem("squared error / pixel", "mse")
        self.kind.addItem("BCE / image", "bce")
        row.addWidget(self.kind)
        self.run_button = QPushButton("Train without it")
        self.run_button.setToolTip("Train the model on the training set minus the anomalous "
                                   "class, then score every validation image.")
        self.run_button.clicked.connect(self.run_experiment)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.score_button = QPushButton("Score current model")
        self.score_button.setToolTip("Reconstruction errors of the newest weights on the "
                                     "validation set, the chosen class coloured.")
        self.score_button.clicked.connect(self.score_current)
        row.addStretch(1)
        lay.addLayout(row)
        # The buttons go on the caption's row: one row of everything made the tab wider than a
        # 1280-px window beside the setup dock.
        prow = QHBoxLayout()
        for w in (self.run_button, self.cancel_button, self.score_button):
            prow.addWidget(w)
        self.progress = QProgressBar()
        self.progress.setFormat("training %v / %m")
        self.progress.hide()
        self.caption = _caption("Train an autoencoder without one digit, then see whether its "
                                "reconstruction error flags that digit.")
        self.caption.setObjectName("anomaly_caption")
        prow.addWidget(self.caption, 1)
        prow.addWidget(self.progress)
        lay.addLayout(prow)

        self.hist_plot = _plot("Reconstruction error", "images", "error")
        self.hist_plot.addLegend(offset=(-10, 10))
        self.normal_curve = pg.PlotDataItem(stepMode="center", fillLevel=0,
                                            brush=pg.mkBrush(NORMAL_COLOR + "80"),
                                            pen=pg.mkPen(NORMAL_COLOR), name="other classes")
        self.anomaly_curve = pg.PlotDataItem(stepMode="center", fillLevel=0,
                                             brush=pg.mkBrush(ANOMALY_COLOR + "a0"),
                                             pen=pg.mkPen(ANOMALY_COLOR), name="the chosen class")
        self.hist_plot.addItem(self.normal_curve)
        self.hist_plot.addItem(self.anomaly_curve)
        self.roc_plot = _plot("ROC", "true positive rate", "false positive rate")
        self.roc_plot.setXRange(0, 1, padding=0.02)
        self.roc_plot.setYRange(0, 1, padding=0.02)
        self.roc_plot.getPlotItem().setMouseEnabled(False, False)  # the unit square is the plot
        self.roc_plot.plot([0, 1], [0, 1], pen=pg.mkPen("#999", style=Qt.PenStyle.DashLine))
        self.roc_curve = self.roc_plot.plot([], [], pen=pg.mkPen(ANOMALY_COLOR, width=2))
        self.worst_view = ImageGridView("The worst-reconstructed images appear here.")
        self.worst_view.setToolTip("The validation images with the largest reconstruction "
                                   "error, worst first.")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.hist_plot)
        split.addWidget(self.roc_plot)
        box = QWidget()
        bl = QVBoxLayout(box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(QLabel("<b>Worst reconstructed</b>"))
        bl.addWidget(self.worst_view, 1)
        split.addWidget(box)
        split.setSizes([420, 320, 420])
        lay.addWidget(split, 1)
        self._fill_models()

    def _fill_models(self) -> None:
        from workbench.models.registry import get_model_info, list_models

        for name in list_models():
            cls = get_model_info(name).model_cls
            if callable(getattr(cls, "reconstruct", None)) and not cls.conditional:
                self.model_combo.addItem(name)
        i = self.model_combo.findText("ae_mlp")
        self.model_combo.setCurrentIndex(max(i, 0))

    def _dataset(self):
        src = self.source() if self.source is not None else None
        return (src or {}).get("dataset") or "mnist5k"

    # -- the experiment ---------------------------------------------------------------------------
    @property
    def experiment_running(self) -> bool:
        return self.experiment.busy

    def run_experiment(self) -> bool:
        if self.experiment_running:
            return False
        self._jobs.cancel()  # the experiment's result supersedes a scoring still in flight
        args = (self.load, self.model_combo.currentText(), self._dataset(),
                self.holdout.value(), self.steps.value(), self.kind.currentData())

        def done(res):
            self._experiment_ended()
            self._on_result(res)

        def failed(e):
            self._experiment_ended()
            self._on_failed(str(e) if isinstance(e, (WorkbenchError, ValueError))
                            else f"{type(e).__name__}: {e}")

        def cancelled():
            self._experiment_ended()
            self._on_failed("cancelled")

        self.experiment.submit(lambda ctx: _holdout(ctx, *args), on_progress=self._on_progress,
                               on_done=done, on_error=failed, on_cancelled=cancelled)
        self.progress.setRange(0, self.steps.value())
        self.progress.setValue(0)
        self.progress.show()
        self.caption.setText(f"Training {self.model_combo.currentText()} without class "
                             f"{self.holdout.value()}…")
        self._set_running(True)
        return True

    def cancel(self) -> None:
        self.experiment.cancel()

    def _on_progress(self, done: int, total: int, _text: str = "") -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _on_failed(self, message: str) -> None:
        self.caption.setText("Cancelled." if message == "cancelled" else
                             f"The experiment failed: {message}")
        if message != "cancelled":
            self.status.emit(f"Anomaly experiment failed: {message}")

    def _experiment_ended(self) -> None:
        self.progress.hide()
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.score_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    # -- the current weights -----------------------------------------------------------------------
    def score_current(self) -> bool:
        src = self.source() if self.source is not None else None
        snap = (src or {}).get("snapshot")
        if snap is None:
            self.caption.setText("No weights yet: train a model or open a run first.")
            return False
        dataset, holdout, kind = self._dataset(), self.holdout.value(), self.kind.currentData()

        def work(_ctx):
            from workbench.analysis.anomaly import score_set
            from workbench.analysis.latent import LatentProbe

            model = LatentProbe.from_snapshot(snap).model
            data = self.load(dataset)
            k = holdout if data.y_val is not None and holdout < data.spec.num_classes else None
            res = score_set(model, data, k, kind)
            res.model, res.steps = snap.model, int(snap.step or 0)
            return res

        self.caption.setText(f"Scoring the validation set with {snap.model}…")
        self._jobs.submit(work, on_done=self._on_result,
                          on_error=lambda e: self._on_failed(str(e)))
        return True

    # -- drawing ----------------------------------------------------------------------------------
    def _on_result(self, res) -> None:
        from workbench.analysis.anomaly import error_histogram, worst

        self.result = res
        a = res.anomalous
        edges, normal, anomalous = error_histogram(res.errors, a, bins=40)
        self.normal_curve.setData(edges, normal)
        self.anomaly_curve.setData(edges, anomalous if a is not None else np.zeros_like(normal))
        name = (res.class_names[res.holdout] if res.holdout is not None and res.class_names
                else str(res.holdout))
        if res.fpr is not None:
            self.roc_curve.setData(res.fpr, res.tpr)
            self.roc_plot.getPlotItem().setTitle(f"ROC for class {name}: AUC {res.auc:.3f}")
        else:
            self.roc_curve.setData([], [])
            self.roc_plot.getPlotItem().setTitle("ROC (needs labels)")
        idx = worst(res.errors, WORST_N)
        if res.images.ndim == 4:
            self.worst_view.set_array(sheet_array(res.images[idx], nrow=8))
        else:
            self.worst_view.clear_image()
        what = (f"{res.model} after {res.steps} steps" if res.steps else res.model)
        text = f"{what} on {res.dataset}: {len(res.errors)} validation images scored."
        if res.auc is not None:
            text += (f" AUC {res.auc:.3f} for class {name} (1 = its errors are all above the "
                     "others', 0.5 = chance).")
            if res.labels is not None and res.holdout is not None:
                share = float(np.isin(idx, np.flatnonzero(res.labels == res.holdout)).mean())
                text += f" {share:.0%} of the {len(idx)} worst are class {name}."
        self.caption.setText(text)

    def shutdown(self, timeout_ms: int = 30000) -> None:
        self.experiment.shutdown(timeout_ms / 1000)
        self._jobs.shutdown()


# == denoising ==========================================================================================
N_DENOISE = 8


class DenoisingView(QWidget):
    """Clean / corrupted / reconstructed rows for a few validation images, decoded on the GUI
    thread from a CPU copy of the newest weights (8 small images take milliseconds)."""

    def __init__(self, source: Callable[[], dict | None] | None = None,
                 data: Callable[[object], object] | None = None, parent=None):
        super().__init__(parent)
        self.source = source
        self.load = data or cached_dataset  # a dataset description -> TensorData on the CPU
        self.probe = None
        self.images: np.ndarray | None = None  # N×C×H×W clean
        self._eps: np.ndarray | None = None  # fixed noise, so the slider morphs one picture
        self._u: np.ndarray | None = None
        self._seed = 0
        self._key = None  # (id of the snapshot, dataset) last built
        self._model_name = None
        self._jobs = Task("denoise")
        self.errors: tuple[float, float] | None = None  # (corrupted, reconstructed) MSE

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        grid = QGridLayout()
        grid.addWidget(QLabel("Corruption"), 0, 0)
        self.kind = QComboBox()
        self.kind.addItem("Gaussian noise", "gaussian")
        self.kind.addItem("Masking (pixels set to 0)", "mask")
        self.kind.currentIndexChanged.connect(self.redraw)
        grid.addWidget(self.kind, 0, 1)
        self.level_label = QLabel("")
        grid.addWidget(self.level_label, 1, 0)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(50)
        self.slider.setToolTip("Gaussian: the noise's standard deviation (0 to 1); masking: "
                               "the fraction of pixels set to 0.")
        self.slider.valueChanged.connect(self.redraw)
        grid.addWidget(self.slider, 1, 1)
        self.new_button = QPushButton("Other images")
        self.new_button.clicked.connect(self.other_images)
        grid.addWidget(self.new_button, 0, 2)
        lay.addLayout(grid)
        self.view = ImageGridView("Train an autoencoder or VAE (ae_denoising is made for this) "
                                  "or open a run: its reconstructions of corrupted images "
                                  "appear here.")
        lay.addWidget(self.view, 1)
        self.caption = _caption("Rows: clean · corrupted · reconstructed from the corrupted.")
        self.caption.setObjectName("denoise_caption")
        lay.addWidget(self.caption)
        self._poll = QTimer(self)
        self._poll.setInterval(1000)  # follow training: a new snapshot every few seconds
        self._poll.timeout.connect(self.refresh)

    @property
    def level(self) -> float:
        return self.slider.value() / 100.0

    def showEvent(self, event):
        super().showEvent(event)
        self._poll.start()
        self.refresh()

    def hideEvent(self, event):
        super().hideEvent(event)
        self._poll.stop()

    def refresh(self) -> None:
        """Rebuild the probe when the window has newer weights (off the GUI thread)."""
        src = self.source() if self.source is not None else None
        snap = (src or {}).get("snapshot")
        if snap is None:
            return
        dataset = src.get("dataset") or "mnist5k"
        key = (id(snap.state), snap.step, dataset_key(dataset))
        if key == self._key:
            return
        self._key = key
        seed = self._seed

        def work(_ctx):
            from workbench.analysis.latent import LatentProbe

            probe = LatentProbe.from_snapshot(snap)
            data = self.load(dataset)
            rng = np.random.default_rng(seed)
            idx = rng.choice(data.n_val, size=min(N_DENOISE, data.n_val), replace=False)
            return probe, data.x_val[np.sort(idx)].numpy(), snap.model

        self._jobs.submit(work, on_done=self._on_built,
                          on_error=lambda e: self.caption.setText(f"Cannot show denoising: {e}"))

    def other_images(self) -> None:
        self._seed += 1
        self._key = None
        self.refresh()

    def _on_built(self, result) -> None:
        probe, images, name = result
        if images is not self.images and (self.images is None or
                                          images.shape != self.images.shape or
                                          not np.array_equal(images, self.images)):
            rng = np.random.default_rng(1000 + self._seed)
            self._eps = rng.standard_normal(images.shape).astype(np.float32)
            self._u = rng.random(images.shape).astype(np.float32)
        self.probe, self.images = probe, images
        cfg = probe.model.config
        if name != self._model_name and hasattr(cfg, "corruption"):
            # a denoising AE: start at the corruption it was trained with
            self.kind.blockSignals(True)
            self.kind.setCurrentIndex(max(self.kind.findData(cfg.corruption), 0))
            self.kind.blockSignals(False)
            self.slider.blockSignals(True)
            self.slider.setValue(round(min(cfg.noise_level, 1.0) * 100))
            self.slider.blockSignals(False)
        self._model_name = name
        self.redraw()

    def corrupted(self) -> np.ndarray:
        x, lv = self.images, self.level
        if self.kind.currentData() == "mask":
            return x * (self._u >= lv)
        return np.clip(x + lv * self._eps, 0.0, 1.0)

    def redraw(self) -> None:
        kind = self.kind.currentData()
        self.level_label.setText(f"σ = {self.level:.2f}" if kind == "gaussian"
                                 else f"masked {self.level:.0%}")
        p = self.probe
        if p is None or self.images is None:
            return
        if self.images.ndim != 4:
            self.view.clear_image()
            self.caption.setText("Denoising is shown for images; this dataset holds points.")
            return
        if not (p.can_encode and p.can_decode) or p.conditional:
            self.view.clear_image()
            self.caption.setText(f"{p.name} cannot reconstruct an image without its label"
                                 if p.conditional else
                                 f"{p.name} has no encoder: denoising needs an autoencoder or "
                                 "a VAE.")
            return
        noisy = self.corrupted().astype(np.float32)
        recon = p.reconstruct(noisy)
        self.errors = (float(((noisy - self.images) ** 2).mean()),
                       float(((recon - self.images) ** 2).mean()))
        n = len(self.images)
        self.view.set_array(sheet_array(np.concatenate([self.images, noisy, recon]), nrow=n))
        self.caption.setText(
            f"Rows: clean · corrupted · reconstructed by {p.name}. Squared error per pixel "
            f"against the clean images: corrupted {self.errors[0]:.4f}, reconstructed "
            f"{self.errors[1]:.4f}" + (" (the model removes noise)" if self.errors[1] <
                                       self.errors[0] else "") + ".")

    def shutdown(self) -> None:
        self._poll.stop()
        self._jobs.shutdown()


class AnomalyPanel(QWidget):
    """The tab: anomaly detection and denoising (their datasets from the one cache)."""

    status = Signal(str)

    def __init__(self, source: Callable[[], dict | None] | None = None, parent=None):
        super().__init__(parent)
        self.anomaly = AnomalyView(source)
        self.denoising = DenoisingView(source)
        self.anomaly.status.connect(self.status)
        tabs = QTabWidget()
        tabs.addTab(self.anomaly, "Anomaly detection")
        tabs.addTab(self.denoising, "Denoising")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(tabs)
        self.tabs = tabs

    def apply_lesson(self, options: dict) -> None:
        """A lesson's [panel] options: page = "anomaly" | "denoising", run = true."""
        page = options.get("page")
        if page:
            self.tabs.setCurrentWidget(self.anomaly if page == "anomaly" else self.denoising)
        if options.get("run"):
            self.anomaly.run_experiment()

    def shutdown(self) -> None:
        self.anomaly.shutdown()
        self.denoising.shutdown()
