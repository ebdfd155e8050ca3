"""File → Export sample sheet…: choose a sheet (samples, reconstructions, traversal,
interpolation), see it re-rendered live, and save it as a PNG that carries its provenance (and a
`.png.json` sidecar). Rendering is workbench.reports.export.render_sheet, the same code
`genworkbench sample` runs, so a saved sheet can be drawn again pixel for pixel from the CLI."""

from __future__ import annotations

import random
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from workbench.core.errors import ConfigError, WorkbenchError
from workbench.data.cache import cached_dataset
from workbench.engine.runs import RunDir
from workbench.models.registry import get_model_info
from workbench.reports.export import SheetSpec, render_sheet, save_sheet_with_provenance
from workbench.ui.panels.image_grid import ImageGridView
from workbench.ui.tasks import Task

KIND_LABELS = {"samples": "Samples", "reconstructions": "Reconstructions (input above output)",
               "traversal": "Traversal grid", "interpolation": "Interpolation strips"}
KIND_NEEDS = {"samples": "sample", "reconstructions": "reconstruct", "traversal": "decode",
              "interpolation": "decode"}


class SheetExportDialog(QDialog):
    """`source`: the window's weights (a ui.state.Snapshot; `run`: the run directory they
    belong to, if any) or a run directory. `saved(path)` is emitted after a save."""

    saved = Signal(object)
    rendered = Signal()  # a new preview is shown (tests wait on it)

    def __init__(self, source, parent=None, default_dir: Path | None = None,
                 run: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export sample sheet")
        if isinstance(source, (str, Path)):
            run = RunDir.open(Path(source))
            self._source, model_name = run, run.model_name
            self._dataset, self._run_path = run.meta["dataset"], run.path
            spec_kind = run.data_spec().kind
        else:  # the weights as reports.export takes them
            self._source, model_name = source.sheet_source(run), source.model
            self._run_path = Path(run) if run else None
            self._dataset = source.dataset
            if self._run_path is not None and (self._run_path / "run.json").exists():
                # the run's own record, exactly as the CLI reads it
                try:
                    self._dataset = RunDir.open(self._run_path).meta["dataset"]
                except WorkbenchError:  # a half-written run.json: keep the window's description
                    pass
            spec_kind = source.spec.kind
        info = get_model_info(model_name)
        caps = set(info.model_cls.class_capabilities())
        self.model_name = model_name
        self.conditional = bool(info.model_cls.conditional)
        self.points = spec_kind == "points"
        self._default_dir = Path(default_dir) if default_dir else (self._run_path or Path.home())
        self._jobs = Task("sheet")
        self.array = None
        self.provenance: dict | None = None
        self._shown_spec = None

        # -- controls --------------------------------------------------------------------------
        self.kind = QComboBox()
        for k, text in KIND_LABELS.items():
            self.kind.addItem(text, k)
            ok = KIND_NEEDS[k] in caps and (k == "samples" or not self.points)
            if not ok:  # say why instead of hiding the choice
                item = self.kind.model().item(self.kind.count() - 1)
                item.setEnabled(False)
                item.setToolTip(f"{model_name} cannot {KIND_NEEDS[k]}")
        first = next((i for i in range(self.kind.count())
                      if self.kind.model().item(i).isEnabled()), 0)
        self.kind.setCurrentIndex(first)
        self.rows, self.cols = self._spin(1, 64, 8), self._spin(1, 64, 8)
        grid = QHBoxLayout()
        grid.addWidget(self.rows)
        grid.addWidget(QLabel("×"))
        grid.addWidget(self.cols)
        self.padding = self._spin(0, 32, 2)
        self.background = QComboBox()
        self.background.addItems(["white", "black", "grey"])
        self.upscale = self._spin(1, 16, 1)
        self.upscale.setSuffix("×")
        self.upscale.setToolTip("Nearest-neighbour upscaling, for small images")
        self.seed = self._spin(0, 2**31 - 1, 0)
        self.random_seed = QPushButton("Random")
        self.random_seed.setToolTip("Draw a new seed (it is saved with the sheet)")
        self.random_seed.clicked.connect(lambda: self.seed.setValue(random.randrange(2**31)))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        self.label_rows = QCheckBox("One row per label")
        self.label_rows.setEnabled(self.conditional)
        if not self.conditional:
            self.label_rows.setToolTip(f"{model_name} is not conditional")
        self.caption = QCheckBox("Caption (model, step, seed)")
        # traversal
        self.dims = QLineEdit()
        self.dims.setPlaceholderText("most informative first")
        self.dims.setToolTip("Comma-separated latent dimensions, one per row")
        self.span = QDoubleSpinBox()
        self.span.setRange(0.1, 10.0)
        self.span.setValue(3.0)
        self.span.setPrefix("±")
        # interpolation
        self.index_a, self.index_b = self._spin(0, 10**6, 0), self._spin(0, 10**6, 1)
        self.method = QComboBox()
        self.method.addItems(["linear", "slerp"])

        form = QFormLayout()
        form.addRow("Sheet", self.kind)
        form.addRow("Rows × columns", grid)
        form.addRow("Padding (px)", self.padding)
        form.addRow("Background", self.background)
        form.addRow("Upscale", self.upscale)
        form.addRow("Seed", seed_row)
        form.addRow("", self.label_rows)
        form.addRow("", self.caption)
        self._kind_rows = {"traversal": [("Dimensions", self.dims), ("Values", self.span)],
                           "interpolation": [("From image", self.index_a),
                                             ("To image", self.index_b),
                                             ("Path", self.method)]}
        for rows in self._kind_rows.values():
            for label, w in rows:
                form.addRow(label, w)
        self._form = form

        self.preview = ImageGridView("Rendering…")
        self.preview.setMinimumSize(320, 320)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox()
        self.save_button = buttons.addButton("Save…", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setEnabled(False)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.save_button.clicked.connect(self.save_dialog)
        buttons.rejected.connect(self.reject)

        left = QWidget()
        left.setLayout(form)
        top = QHBoxLayout()
        top.addWidget(left)
        top.addWidget(self.preview, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top, 1)
        lay.addWidget(self.info)
        lay.addWidget(buttons)
        self.resize(900, 560)

        # Changes coalesce for a moment, then one render runs off the GUI thread; a newer
        # request replaces an older one (latest wins), so dragging a spin box never queues work.
        self._timer = QTimer(self, singleShot=True, interval=60)
        self._timer.timeout.connect(self._render)
        for w in (self.rows, self.cols, self.padding, self.upscale, self.seed, self.index_a,
                  self.index_b):
            w.valueChanged.connect(self.schedule)
        self.span.valueChanged.connect(self.schedule)
        for w in (self.kind, self.background, self.method):
            w.currentIndexChanged.connect(self.schedule)
        for w in (self.label_rows, self.caption):
            w.toggled.connect(self.schedule)
        self.dims.editingFinished.connect(self.schedule)
        self.kind.currentIndexChanged.connect(self._show_kind_rows)
        self._show_kind_rows()
        self.schedule()

    @staticmethod
    def _spin(lo, hi, value) -> QSpinBox:
        s = QSpinBox()
        s.setRange(lo, hi)
        s.setValue(value)
        s.setKeyboardTracking(False)
        return s

    def _show_kind_rows(self) -> None:
        kind = self.kind.currentData()
        for k, rows in self._kind_rows.items():
            for _, w in rows:
                self._form.setRowVisible(w, k == kind)

    # -- the spec --------------------------------------------------------------------------------
    def spec(self):
        try:
            dims = tuple(int(d) for d in self.dims.text().replace(" ", "").split(",") if d)
        except ValueError:
            raise ConfigError("dimensions are comma-separated integers, e.g. 0,1,2") from None
        return SheetSpec(kind=self.kind.currentData(), rows=self.rows.value(),
                         cols=self.cols.value(), padding=self.padding.value(),
                         background=self.background.currentText(), upscale=self.upscale.value(),
                         seed=self.seed.value(), label_rows=self.label_rows.isChecked(),
                         caption=self.caption.isChecked(), dims=dims, span=self.span.value(),
                         index_a=self.index_a.value(), index_b=self.index_b.value(),
                         method=self.method.currentText())

    def schedule(self) -> None:
        self._timer.start()

    def _render(self) -> None:
        try:
            spec = self.spec()
            spec.check()
        except WorkbenchError as e:
            self._on_error(e)
            return
        self.info.setText("Rendering…")
        self._jobs.submit(lambda _ctx: self._work(spec), on_done=self._on_rendered,
                          on_error=self._on_error)

    def _load_data(self):
        """The dataset, for kinds that show real images (loaded once, off the GUI thread)."""
        if self._dataset is None:
            return None
        return cached_dataset(self._dataset)

    def _work(self, spec):
        needs = spec.kind != "samples" and not (spec.kind == "traversal" and spec.dims)
        data = self._load_data() if needs else None
        dataset = self._dataset if isinstance(self._dataset, dict) else (
            data.describe() if data is not None else None)
        arr, prov = render_sheet(self._source, spec, data, dataset=dataset)
        return spec, arr, prov

    def _on_rendered(self, result) -> None:
        spec, self.array, self.provenance = result
        self._shown_spec = spec
        self.preview.set_array(self.array)
        h, w = self.array.shape[:2]
        note = "" if self.provenance.get("checkpoint") or self._run_path is None else (
            " · drawn from live weights between checkpoints: the CLI cannot redraw it")
        self.info.setText(f"{w} × {h} px · {self.model_name} at step "
                          f"{self.provenance.get('step')} · seed {spec.seed}{note}")
        self.save_button.setEnabled(True)
        self.rendered.emit()

    def _on_error(self, e: BaseException) -> None:
        self.save_button.setEnabled(False)
        self.info.setText(f"Cannot draw this sheet: {e}")
        self.rendered.emit()

    # -- saving ----------------------------------------------------------------------------------
    def save_dialog(self) -> None:
        name = f"{self.model_name}-{self.kind.currentData()}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Save sample sheet",
                                              str(self._default_dir / name), "PNG (*.png)")
        if path:
            self.save_to(Path(path))

    def save_to(self, path: Path) -> Path | None:
        """Write the PNG (with provenance) and its sidecar; the shown preview if it is current,
        else a fresh render."""
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_name(path.name + ".png")
        try:
            spec = self.spec()
            if spec != self._shown_spec or self.array is None:
                _, self.array, self.provenance = self._work(spec)
                self._shown_spec = spec
            save_sheet_with_provenance(path, self.array, self.provenance)
        except (WorkbenchError, OSError) as e:
            self.info.setText(f"Could not save {path}: {e}")
            return None
        self.info.setText(f"Saved {path} and {path.name}.json")
        self.saved.emit(path)
        return path

    def done(self, result: int) -> None:
        self._timer.stop()
        self._jobs.shutdown()
        super().done(result)
