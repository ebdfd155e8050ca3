"""The Setup dock: the model list, the dataset picker, the model's config form and the training
settings form, and Train / Pause / Stop.

The forms hold the edits; on `state.edits_requested` they write them into the state (a refused
value is reported as `state.edit_error`). Choosing a model gives its tuned batch size and length
(engine/settings.py, as on the command line) to the Training form, and gives the user's own
values back when the next model has none.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDockWidget, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QScrollArea, QTabWidget,
                               QVBoxLayout, QWidget)

from workbench.core import config as C
from workbench.core.errors import WorkbenchError
from workbench.ui.forms import ConfigForm
from workbench.ui.state import WindowState
from workbench.ui.training import TrainingSession


class SetupDock(QDockWidget):
    def __init__(self, state: WindowState, session: TrainingSession, parent=None):
        super().__init__("Setup", parent)
        self.state = state
        self.setObjectName("setup_dock")
        self.model_form: ConfigForm | None = None
        self._form_model: str | None = None  # the model whose config the form shows
        self._given: dict[str, tuple] = {}  # setting -> (value a model's tuning set, user's own)
        side = QWidget()
        lay = QVBoxLayout(side)
        lay.setContentsMargins(6, 6, 6, 6)

        # said while a tab that trains by itself is in front (PanelEntry.own_training)
        self.own_training_note = QLabel("")
        self.own_training_note.setObjectName("own_training_note")
        self.own_training_note.setWordWrap(True)
        self.own_training_note.setStyleSheet("background: palette(alternate-base); padding: 4px;")
        self.own_training_note.hide()
        lay.addWidget(self.own_training_note)
        state.panel_shown.connect(self._on_panel_shown)
        self.model_label = QLabel("<b>Model</b>")
        lay.addWidget(self.model_label)
        self.model_list = QListWidget()
        self.model_list.setObjectName("model_list")
        self.model_list.setWordWrap(True)
        self.model_list.setToolTip("Registered models. Each trains with its own config below.")
        self.model_list.addItem("Loading PyTorch and the model registry…")
        self.model_list.setEnabled(False)
        self.model_list.currentItemChanged.connect(self._on_model_item)
        self.model_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.model_list.setSpacing(2)
        lay.addWidget(self.model_list, 3)

        self.dataset_row = QWidget()  # one widget, so classroom mode can hide the row
        row = QHBoxLayout(self.dataset_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("<b>Dataset</b>"))
        self.dataset_combo = QComboBox()
        self.dataset_combo.setObjectName("dataset_combo")
        self.dataset_combo.setToolTip("Training data. mnist5k ships with the app and works "
                                      "offline: 5000 digits, 4500 for training, 500 held out.")
        self.dataset_combo.currentIndexChanged.connect(
            lambda _i: state.select_dataset(self.dataset_combo.currentData()))
        row.addWidget(self.dataset_combo, 1)
        lay.addWidget(self.dataset_row)

        # Model config and training settings as two tabs, each scrolling vertically only.
        self.model_box = QWidget()
        self.model_box_layout = QVBoxLayout(self.model_box)
        self.model_box_layout.setContentsMargins(2, 2, 2, 2)
        self.model_box_layout.addStretch(1)
        self.train_form = ConfigForm(state.train_settings)
        self.train_form.setObjectName("train_form")
        self.tabs = QTabWidget()
        for widget, title in ((self.model_box, "Model config"), (self.train_form, "Training")):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(widget)
            self.tabs.addTab(scroll, title)
        self.tabs.setTabToolTip(1, "Batch size, length of the run, seed, device, and how often "
                                   "to log, validate, checkpoint and draw samples.")
        lay.addWidget(self.tabs, 5)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("train_button")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pause_button")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop_button")
        for b in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        self.train_button.clicked.connect(lambda: session.start())
        self.pause_button.clicked.connect(session.toggle_pause)
        self.stop_button.clicked.connect(session.stop)
        lay.addLayout(buttons)

        side.setMinimumWidth(340)
        self.setWidget(side)
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        state.models_loaded.connect(self._fill)
        state.model_changed.connect(self._show_model)
        state.edits_requested.connect(self._write_edits)
        state.train_settings_changed.connect(self.train_form.set_config)
        state.datasets.changed.connect(self._fill_datasets)
        state.dataset_changed.connect(self._show_dataset)
        state.training_changed.connect(self.update_controls)
        state.models_loaded.connect(self.update_controls)
        self.update_controls()

    def _on_panel_shown(self, entry) -> None:
        note = entry.own_training
        self.own_training_note.setText(
            f"{note}; Train here trains the model below, for the Training, Latent space and "
            "Metrics tabs." if note else "")
        self.own_training_note.setVisible(bool(note))

    # -- the lists, once torch has loaded -----------------------------------------------------------
    def _fill(self) -> None:
        self.model_list.blockSignals(True)
        self.model_list.clear()
        for name, info in self.state.model_infos.items():
            item = QListWidgetItem(f"{name}\n{info.description}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            caps = ", ".join(info.model_cls.class_capabilities()) or "train only"
            item.setToolTip(f"<b>{name}</b> ({info.family})<br>{info.description}"
                            f"<br><i>can: {caps}</i>")
            self.model_list.addItem(item)
        self.model_list.blockSignals(False)
        self._fill_datasets()

    def _fill_datasets(self) -> None:
        combo = self.dataset_combo
        combo.blockSignals(True)
        combo.clear()
        for e in self.state.datasets.entries:
            combo.addItem(e.label, e.choice)
            combo.setItemData(combo.count() - 1, e.tooltip, Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(max(0, self.state.datasets.find(self.state.dataset)))
        combo.blockSignals(False)

    def _show_dataset(self, choice) -> None:
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.setCurrentIndex(self.state.datasets.find(choice))
        self.dataset_combo.blockSignals(False)

    # -- the model and its form ------------------------------------------------------------------------
    def _on_model_item(self, item, _prev=None) -> None:
        name = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if name in self.state.model_infos:
            self.state.select_model(name)

    def _show_model(self, name: str) -> None:
        for i in range(self.model_list.count()):  # the list follows a choice made elsewhere
            if self.model_list.item(i).data(Qt.ItemDataRole.UserRole) == name:
                self.model_list.blockSignals(True)
                self.model_list.setCurrentRow(i)
                self.model_list.blockSignals(False)
        if self.model_form is not None:
            self.model_form.setParent(None)
            self.model_form.deleteLater()
        self.model_form = ConfigForm(self.state.config_for(name))
        self.model_form.setObjectName("model_form")
        self.model_form.changed.connect(self._grey_unused_fields)
        self._form_model = name
        self.model_box_layout.insertWidget(0, self.model_form)
        self.tabs.setTabText(0, f"Model: {name}")
        self._grey_unused_fields()
        self._suit_data_to_model(name)

    def _grey_unused_fields(self) -> None:
        """Grey out fields the chosen architecture does not use."""
        raw = self.model_form.raw_values()
        if "arch" in raw:
            self.model_form.set_enabled_fields({"hidden": raw["arch"] == "mlp",
                                                "channels": raw["arch"] == "conv"})

    def _write_edits(self) -> None:
        st = self.state
        if self.model_form is not None and self._form_model is not None:
            try:
                st.configs[self._form_model] = self.model_form.value()
            except WorkbenchError as e:
                st.edit_error = str(e)  # an invalid edit is not remembered
        try:
            st.train_settings = self.train_form.value()
        except WorkbenchError as e:
            st.edit_error = st.edit_error or str(e)

    def _suit_data_to_model(self, name: str) -> None:
        """A model made for another kind of data than the selected set (a 2-D toy GAN on
        digits, a VAE on a 2-D mixture) switches to its own default dataset; a model tuned
        with its own batch size or length gets them in the Training tab."""
        # function-local: engine.settings imports the model registry, i.e. torch; a model can
        # only be chosen once that has loaded
        from workbench.engine.settings import tuned_settings

        st = self.state
        default = st.model_infos[name].default_dataset
        kind = st.datasets.kind
        if default and kind(st.dataset) != kind(default) and not st.training \
                and st.select_dataset(default):
            st.show_status(f"{name} is made for {kind(default)} data: dataset set to {default}.")
        try:
            cur = self.train_form.value()
        except WorkbenchError:
            return
        tuned = tuned_settings(name)
        changes = {}
        for k, v in tuned.items():
            now = getattr(cur, k)
            if now != v:
                given = self._given.get(k)
                changes[k] = v
                self._given[k] = (v, given[1] if given and now == given[0] else now)
        for k in [k for k in self._given if k not in tuned]:
            v, own = self._given[k]
            if getattr(cur, k) == v:  # a model without its own value: give the user's back
                changes[k] = own
                del self._given[k]
        if changes:
            self.train_form.set_config(C.replace(cur, **changes))

    # -- what classroom mode and the training state show ---------------------------------------------
    def set_part_visible(self, part: str, visible: bool) -> None:
        """Classroom mode's "setup.PART" controls (course/lessons.py CONTROLS)."""
        if part == "models":
            self.model_label.setVisible(visible)
            self.model_list.setVisible(visible)
        elif part == "dataset":
            self.dataset_row.setVisible(visible)
        elif part in ("model_config", "train_settings"):
            self.tabs.setTabVisible(0 if part == "model_config" else 1, visible)

    def show_fields(self, names) -> None:
        """Show only these fields of the config form (None: all of them)."""
        if self.model_form is not None:
            self.model_form.show_only(names)

    def update_controls(self) -> None:
        st = self.state
        ready, running = st.ready, st.training
        self.train_button.setEnabled(ready and not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Resume" if running and st.paused else "Pause")
        self.model_list.setEnabled(ready)
        self.dataset_combo.setEnabled(ready and not running)
