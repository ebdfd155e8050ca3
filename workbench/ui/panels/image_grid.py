"""A picture of a sample or reconstruction grid, scaled with nearest-neighbour (pixels stay
crisp), with a hint in place of the picture until there is one."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy


class ImageGridView(QLabel):
    def __init__(self, empty_text: str, parent=None):
        super().__init__(parent)
        self._empty = empty_text
        self._image: QImage | None = None
        self._array: np.ndarray | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setWordWrap(True)
        self.clear_image()

    def set_empty_text(self, text: str) -> None:
        """The hint shown while there is no picture (e.g. why this model has none)."""
        self._empty = text
        if self._image is None:
            self.setText(text)

    def clear_image(self) -> None:
        self._image, self._array = None, None
        self.setPixmap(QPixmap())
        self.setText(self._empty)
        self.setStyleSheet("color: palette(mid);")

    @property
    def array(self) -> np.ndarray | None:
        return self._array

    def set_array(self, arr: np.ndarray) -> None:
        arr = np.ascontiguousarray(arr, dtype=np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = np.ascontiguousarray(arr[:, :, 0])
        h, w = arr.shape[:2]
        if arr.ndim == 2:
            img = QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_Grayscale8)
        else:
            img = QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_RGB888)
        self._array = arr  # QImage borrows the buffer: keep it alive
        self._image = img.copy()
        self.setStyleSheet("")
        self.setText("")
        self._rescale()

    def _rescale(self) -> None:
        if self._image is None:
            return
        size = self.contentsRect().size()
        pm = QPixmap.fromImage(self._image).scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
        self.setPixmap(pm)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._rescale()
