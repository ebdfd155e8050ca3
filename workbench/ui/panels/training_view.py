"""The Training tab: the loss curves above, the sample grid, the reconstructions and (for GANs)
the class histogram of the samples below, for the run on screen, live or opened from disk.

It draws what the window state reports. While training runs the grids come from the trainer;
weights that arrive without grids (a run opened from disk, its newest checkpoint) are decoded
here, off the GUI thread, from the snapshot, never from a model being trained.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QGroupBox, QMessageBox, QSplitter, QVBoxLayout

from workbench.core.applog import log
from workbench.core.atomic import atomic_save_png
from workbench.data.cache import cached_dataset, dataset_key
from workbench.engine.remote import pictures
from workbench.engine.trainer import grid_pictures
from workbench.ui.panels.class_histogram import ClassHistogram
from workbench.ui.panels.image_grid import ImageGridView
from workbench.ui.panels.loss_plots import LossPlots
from workbench.ui.state import Snapshot, WindowState
from workbench.ui.tasks import Task

SAMPLES_HINT = ("Samples from the prior appear here while training\n"
                "(fixed noise, so you see the same codes improve).")
RECON_HINT = ("Reconstructions appear here while training:\n"
              "held-out images above, the model's copy below.")


class TrainingView(QSplitter):
    def __init__(self, state: WindowState, parent=None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.state = state
        self.setObjectName("main_splitter")
        self.plots = LossPlots()
        self.samples_view = ImageGridView(SAMPLES_HINT)
        self.samples_view.setToolTip("64 samples decoded from fixed noise z ~ N(0, I).")
        self.recon_view = ImageGridView(RECON_HINT)
        self.recon_view.setToolTip("Validation images (odd rows) and their reconstructions "
                                   "(the row below each).")
        self.class_hist = ClassHistogram()
        self.class_hist.setToolTip("Which classes the samples fall in, by a classifier trained "
                                   "on the dataset: a GAN collapsing onto a few digits shows "
                                   "as bars emptying.")
        self.decode_jobs = Task("decode")
        self.hist_jobs = Task("classes")
        self._hist_time = 0.0
        grids = QSplitter(Qt.Orientation.Horizontal)
        self.grid_boxes = {}
        for title, view in (("Samples", self.samples_view),
                            ("Reconstructions", self.recon_view),
                            ("Classes of the samples", self.class_hist)):
            box = QGroupBox(title)
            bl = QVBoxLayout(box)
            bl.setContentsMargins(4, 4, 4, 4)
            bl.addWidget(view)
            grids.addWidget(box)
            self.grid_boxes[title] = box
        self.addWidget(self.plots)
        self.addWidget(grids)
        self.setSizes([380, 420])
        state.model_changed.connect(self._on_model)
        state.run_reset.connect(self._on_run_reset)
        state.curves_reset.connect(self.plots.setup)
        state.run_started.connect(lambda ev: self.plots.set_total_steps(ev.total_steps))
        state.metrics_added.connect(self.plots.add)
        state.pictures.connect(self._show_pictures)
        state.snapshot_changed.connect(self._on_snapshot)

    # -- what the state reports ------------------------------------------------------------------
    def _on_model(self, name: str) -> None:
        """Empty views say what the model lacks; a GAN's class histogram replaces its (empty)
        reconstructions."""
        caps = self.state.model_infos[name].model_cls.class_capabilities()
        self.samples_view.set_empty_text(
            SAMPLES_HINT if "sample" in caps else
            f"{name} cannot draw new samples: an autoencoder has no prior over its codes.\n"
            "Its reconstructions show what it learned.")
        self.recon_view.set_empty_text(
            RECON_HINT if "reconstruct" in caps else
            f"{name} has no encoder, so there is nothing to reconstruct.\n"
            "Its samples show what it learned.")
        self.grid_boxes["Reconstructions"].setVisible("reconstruct" in caps)
        self.grid_boxes["Classes of the samples"].setVisible("reconstruct" not in caps
                                                            and "sample" in caps)
        self.class_hist.clear()

    def _on_run_reset(self, plot_groups) -> None:
        self.plots.setup(plot_groups)
        self.samples_view.clear_image()
        self.recon_view.clear_image()

    def _show_pictures(self, pics) -> None:
        if pics["samples"] is not None:
            self.samples_view.set_array(pics["samples"])
        if pics["reconstructions"] is not None:
            self.recon_view.set_array(pics["reconstructions"])

    def _on_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        if self.state.training:  # the trainer sends its own grids
            self._classify_samples(snap)
        else:  # weights from disk come without grids: draw them from these weights
            self.recon_view.clear_image()
            self.resample()

    # -- decoding from the snapshot (latest request wins) ------------------------------------------
    def resample(self) -> None:
        snap = self.state.snapshot
        if snap is None:
            self.state.show_status("No weights yet: train or open a run first.")
            return
        seed = int(time.time() * 1000) % (2**31)
        # An opened run has no training grids: reconstruct held-out images once as well.
        dataset = snap.dataset if self.recon_view.array is None else None
        self.decode_jobs.submit(lambda _ctx: decode_grid(snap, seed, dataset),
                                on_done=self._on_resampled,
                                on_error=lambda e: self.state.show_status(f"Could not sample: {e}"))

    def _on_resampled(self, pics: dict) -> None:
        if pics["reconstructions"] is not None:
            self.recon_view.set_array(pics["reconstructions"])
        if pics["samples"] is None:
            self.state.show_status("This model cannot draw samples (no prior).")
            return
        self.samples_view.set_array(pics["samples"])
        self.state.show_status("New samples decoded from random codes.")

    def _classify_samples(self, snap: Snapshot) -> None:
        """Every few seconds, 500 samples of the snapshot classified by a classifier of the
        dataset (trained once per dataset, then cached on disk) for the class histogram."""
        box = self.grid_boxes["Classes of the samples"]
        if not box.isVisible() or self.hist_jobs.busy or time.monotonic() - self._hist_time < 5:
            return
        self._hist_time = time.monotonic()
        step = snap.step

        def done(result):
            if result is None:
                self.class_hist.caption.setText("The dataset has no labels to classify by.")
                return
            hist, names = result
            if len(names) != len(self.class_hist.class_names):
                self._replace_class_histogram(names)
            self.class_hist.set_histogram(hist, step)

        self.hist_jobs.submit(lambda _ctx: class_histogram(snap), on_done=done,
                              on_error=lambda e: self.class_hist.caption.setText(
                                  f"Could not classify the samples: {e}"))

    def _replace_class_histogram(self, names) -> None:
        box = self.grid_boxes["Classes of the samples"]
        old = self.class_hist
        self.class_hist = ClassHistogram(names)
        self.class_hist.setToolTip(old.toolTip())
        box.layout().replaceWidget(old, self.class_hist)
        old.deleteLater()

    # -- File → Export samples as PNG… ---------------------------------------------------------------
    def export_samples(self) -> None:
        arr = self.samples_view.array
        if arr is None:
            QMessageBox.information(self.window(), "Nothing to export",
                                    "There is no sample grid yet: train a model or open a run.")
            return
        run_dir = self.state.run_dir
        default = str((run_dir or Path.home()) / "samples.png")
        path, _ = QFileDialog.getSaveFileName(self.window(), "Export samples", default,
                                              "PNG (*.png)")
        if not path:
            return
        try:
            atomic_save_png(arr, Path(path), {"run": str(run_dir or ""),
                                              "model": self.state.model or ""})
        except OSError as e:
            QMessageBox.warning(self.window(), "Export failed",
                                f"Cannot write {path}: {e.strerror}")
            return
        log.info("samples exported: %s", path)
        self.state.show_status(f"Saved {path}")

    def shutdown(self) -> None:
        self.decode_jobs.shutdown()
        self.hist_jobs.shutdown()


# == work done off the GUI thread =================================================================
# Function-local imports below: torch and the analysis modules load after the window paints.
_decoder_cache: dict = {}


def decode_grid(snap: Snapshot, seed: int, dataset=None) -> dict:
    """Pictures from a CPU copy of the weights (never the model being trained): 64 samples, and,
    given the dataset, held-out images above their reconstructions (for an opened run, which has
    no training grids)."""
    import torch

    from workbench.analysis.latent import LatentProbe

    model = LatentProbe.from_snapshot(snap, _decoder_cache).model
    x_val = y_val = None
    if dataset is not None and model.can("reconstruct"):
        data = cached_dataset(dataset)
        if tuple(data.spec.shape) == tuple(model.data.shape):
            x_val, y_val = data.x_val, data.y_val
    with torch.inference_mode():
        return pictures(grid_pictures(model, snap.step, seed, x_val, y_val))


_hist_cache: dict = {}


def class_histogram(snap: Snapshot):
    """(class shares of 500 samples, class names), or None for an unlabelled dataset."""
    import torch

    from workbench.analysis.latent import LatentProbe
    from workbench.analysis.metrics import class_histogram as shares, digit_classifier, predict

    data = cached_dataset(snap.dataset)
    if data.y_train is None or data.spec.kind != "image":
        return None
    key = dataset_key(snap.dataset)
    if _hist_cache.get("key") != key:  # the classifier trained on this dataset (once, on disk)
        _hist_cache.clear()
        _hist_cache.update(key=key, classifier=digit_classifier(data))
    classifier = _hist_cache["classifier"]
    model = LatentProbe.from_snapshot(snap, _hist_cache.setdefault("models", {})).model
    g = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        x = model.sample(500, labels=model.cycling_labels(500), generator=g).float()
    names = data.class_names or tuple(str(k) for k in range(data.spec.num_classes))
    return shares(predict(classifier, x)[0]), names
