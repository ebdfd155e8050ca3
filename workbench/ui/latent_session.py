"""What the latent panels share: a probe (a CPU copy of the model, in inference mode) and the
encoded dataset, refreshed from weight snapshots while training and from a run opened later.

The heavy part (building the model from a snapshot, loading the dataset, encoding it) runs in a
background job, latest request wins. The new probe is swapped in only when it is complete, so
the GUI thread decodes slider codes with a model nobody else touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from workbench.data.cache import cached_dataset, dataset_key
from workbench.ui.tasks import Task


@dataclass
class Encoded:
    """One split of the dataset and its codes (codes is None for a model without an encoder)."""

    split: str  # "val" | "train"
    images: np.ndarray  # N×C×H×W float32 in [0, 1] (or N×2 points)
    labels: np.ndarray | None  # N int64
    class_names: tuple[str, ...]
    codes: np.ndarray | None  # N×d float32
    kl: np.ndarray | None  # (d,) mean KL per latent dimension (VAEs)

    def label_name(self, i: int) -> str:
        if self.labels is None:
            return ""
        k = int(self.labels[i])
        return self.class_names[k] if k < len(self.class_names) else str(k)


class LatentSession(QObject):
    changed = Signal()  # a new probe and/or new codes are in place
    busy_changed = Signal(bool)
    failed = Signal(str)
    focus_changed = Signal(int)  # the image clicked in the scatter (index into encoded)
    selection_changed = Signal(object)  # indices into encoded, from a rectangle or lasso

    def __init__(self, parent=None):
        super().__init__(parent)
        self.probe = None  # workbench.analysis.latent.LatentProbe
        self.encoded: Encoded | None = None
        self.step: int | None = None
        self.dataset: str | None = None
        self.split = "val"
        self.active = False  # panels visible: only then is a snapshot encoded
        self._pending: tuple | None = None  # (snapshot, dataset) not encoded yet
        self._last: tuple | None = None  # the newest one encoded, to re-encode another split
        self._jobs = Task("latent")
        self.busy = False
        self.focus: int | None = None
        self.selection = np.zeros(0, np.int64)

    # -- inputs ------------------------------------------------------------------------------------
    def set_snapshot(self, snap, dataset) -> None:
        """New weights (every few seconds while training, or from an opened run)."""
        if snap is None:
            return
        self._pending = (snap, dataset)
        if self.active:
            self._refresh()

    def set_active(self, active: bool) -> None:
        self.active = active
        if active and self._pending is not None:
            self._refresh()

    def set_split(self, split: str) -> None:
        if split != self.split:
            self.split = split
            if self._pending is None and self._last is not None:
                self._pending = self._last
            if self.active:
                self._refresh()

    def set_focus(self, index: int) -> None:
        self.focus = int(index)
        self.focus_changed.emit(self.focus)

    def set_selection(self, indices) -> None:
        self.selection = np.asarray(indices, np.int64)
        self.selection_changed.emit(self.selection)

    def clear(self) -> None:
        self.probe, self.encoded, self.step, self._pending, self._last = None, None, None, None, None
        self.focus, self.selection = None, np.zeros(0, np.int64)
        self.changed.emit()

    # -- work --------------------------------------------------------------------------------------
    def _refresh(self) -> None:
        snap, dataset = self._pending
        self._pending = None
        self._last = (snap, dataset)
        split = self.split
        self._set_busy(True)
        self._jobs.submit(lambda _ctx: self._build(snap, dataset, split),
                          on_done=self._on_built, on_error=self._on_error)

    def _build(self, snap, dataset, split: str):
        """Off the GUI thread: a fresh model with the snapshot's weights, and the codes."""
        # here, not at the top: it imports torch, and the window imports this module at start-up
        from workbench.analysis.latent import LatentProbe

        probe = LatentProbe.from_snapshot(snap)  # no cache: the GUI's probe stays untouched
        data = cached_dataset(dataset) if dataset else None
        encoded = None
        if data is not None and tuple(data.spec.shape) == tuple(probe.spec.shape):
            x, y = (data.x_val, data.y_val) if split == "val" else (data.x_train, data.y_train)
            images = x.numpy()
            labels = None if y is None else y.numpy()
            codes = kl = None
            if probe.can_encode:
                enc_labels = labels if probe.conditional else None
                codes = probe.encode(images, enc_labels)
                kl = probe.kl_per_dim(images[:1000], None if enc_labels is None
                                      else enc_labels[:1000])
            encoded = Encoded(split, images, labels, data.class_names, codes, kl)
        return probe, encoded, snap.step, dataset

    def _on_built(self, result) -> None:
        old = self.encoded
        old_source = (getattr(self.probe, "name", None), dataset_key(self.dataset))
        self.probe, self.encoded, self.step, self.dataset = result
        if old is None or self.encoded is None or old.split != self.encoded.split \
                or len(old.images) != len(self.encoded.images) \
                or old_source != (self.probe.name, dataset_key(self.dataset)):
            self.focus, self.selection = None, np.zeros(0, np.int64)  # indices meant other rows
        self._set_busy(False)
        self.changed.emit()

    def _on_error(self, e: BaseException) -> None:
        self._set_busy(False)
        self.failed.emit(f"Could not prepare the latent view: {e}")

    def _set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.busy_changed.emit(busy)

    def shutdown(self) -> None:
        self._jobs.shutdown()
