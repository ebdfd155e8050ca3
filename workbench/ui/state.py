"""The window's state, under every widget (napari's ViewerModel idea): the chosen model and its
edited config, the training settings, the dataset, the run on screen, whether training runs,
and the newest weights as a typed `Snapshot`. Docks and panels read and write it and listen to
its signals; none of them reaches into another widget.

Torch-free at module level: the window builds its state before torch loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from workbench.core import config as C
from workbench.core.errors import WorkbenchError
from workbench.data.cache import dataset_key
from workbench.engine.trainer import TrainSettings
from workbench.ui.datasets import DEFAULT_DATASET, DatasetList, dataset_choice
from workbench.ui.latent_session import LatentSession


@dataclass(frozen=True, eq=False)  # eq=False: two snapshots are the same only if one object
class Snapshot:
    """A CPU copy of a model's weights and what rebuilds the model around them. The window
    decodes, encodes and scores from snapshots, never from the model being trained."""

    model: str  # the registered name
    config: object  # the model's frozen config dataclass
    spec: object  # workbench.data.spec.DataSpec the model was built for
    state: dict  # parameter name -> CPU tensor or numpy array
    step: int
    dataset: object = None  # what it was trained on: a name, a folder's source or a run's record

    @classmethod
    def from_message(cls, message: dict, model: str, config, dataset) -> "Snapshot":
        """The training process sends {"step", "state", "spec"} (engine/remote.py); the window
        knows the rest from the job it started."""
        return cls(model, config, message["spec"], message["state"], int(message["step"]),
                   dataset)

    def sheet_source(self, run: Path | None) -> dict:
        """The weights as workbench.reports.export.render_sheet takes them."""
        return {"model": self.model, "config": self.config, "spec": self.spec,
                "state": self.state, "step": self.step, "run": run, "dataset": self.dataset}


class WindowState(QObject):
    models_loaded = Signal()  # torch is in: model_infos and the dataset list are filled
    model_changed = Signal(str)  # also when the same model is chosen again with a new config
    train_settings_changed = Signal(object)  # TrainSettings put in from outside the form
    dataset_changed = Signal(object)  # the chosen dataset (a name or a source dict)
    run_changed = Signal()  # run_dir / opened_run
    training_changed = Signal()  # training or paused flipped
    snapshot_changed = Signal(object)  # Snapshot or None
    edits_requested = Signal()  # the forms are asked to write their pending edits (commit_edits)
    status = Signal(str)  # a line for the status bar
    panel_requested = Signal(str)  # a registry key: bring that tab forward
    panel_shown = Signal(object)  # the ui.panels.registry.PanelEntry of the tab now in front
    # The run on screen, live or from disk: the Training tab draws these.
    run_reset = Signal(object)  # plot groups: a new run or an opened one, views start over
    curves_reset = Signal(object)  # plot groups: a followed run's record was rewritten
    run_started = Signal(object)  # engine.events.Started
    metrics_added = Signal(list)  # [engine.events.Metrics, ...]
    pictures = Signal(object)  # {"samples", "reconstructions"}: uint8 grids, None = unchanged

    def __init__(self, settings, workspace: Path | None = None, parent=None):
        super().__init__(parent)
        self.settings = settings  # QSettings: what the user chose last time
        self.workspace = workspace  # where new runs go (None: the default workspace)
        self.model_infos: dict = {}  # name -> ModelInfo, once torch has loaded
        self.datasets = DatasetList(settings)  # the entries of the dataset picker
        self.model: str | None = None
        self.configs: dict[str, object] = {}  # edited configs per model, this session
        self.train_settings = self._saved_train_settings()
        self.edit_error: str | None = None  # why the form's current edit is refused
        self.dataset = DEFAULT_DATASET
        self.run_dir: Path | None = None  # the run being trained or shown
        self.opened_run: Path | None = None  # a run opened from disk, which can be continued
        self.training = False
        self.paused = False
        self.snapshot: Snapshot | None = None
        # What the latent panels share: a probe of the newest weights and the encoded data.
        self.latent = LatentSession(self)
        self.latent.failed.connect(self.status)
        self.snapshot_changed.connect(self._feed_latent)
        self.run_reset.connect(lambda _groups: self.latent.clear())

    def _feed_latent(self, snap: "Snapshot | None") -> None:
        if snap is not None:
            self.latent.set_snapshot(snap, snap.dataset)

    # -- the model registry and the dataset list, once torch has loaded ---------------------------
    def set_models(self, infos: dict, datasets) -> None:
        self.model_infos = infos
        self.datasets.fill(datasets)
        saved = dataset_choice(str(self.settings.value("dataset", DEFAULT_DATASET)))
        i = self.datasets.find(saved)
        self.dataset = self.datasets.entries[max(0, i)].choice if self.datasets.entries \
            else saved
        self.models_loaded.emit()

    @property
    def ready(self) -> bool:
        return bool(self.model_infos)

    # -- the model and its config ----------------------------------------------------------------
    def select_model(self, name: str, config=None) -> None:
        """Show model `name` (an unknown name: the first one), with `config` when given (a run,
        a recipe or a lesson) instead of its remembered edit. The edit shown now is kept."""
        if not self.model_infos:
            return
        self.commit_edits()
        if name not in self.model_infos:
            name = next(iter(self.model_infos))
        if config is not None:
            self.configs[name] = config
        self.model = name
        self.model_changed.emit(name)

    def config_for(self, name: str):
        """The config to show for `name`: this session's edit, else the saved one, else the
        registered default."""
        if name in self.configs:
            return self.configs[name]
        default = self.model_infos[name].default_config()
        raw = self.settings.value(f"config/{name}")
        if raw:
            try:
                return C.replace(default, **{k: tuple(v) if isinstance(v, list) else v
                                             for k, v in json.loads(raw).items()})
            except (WorkbenchError, ValueError, TypeError):
                pass  # a stale saved config (fields changed): fall back to the defaults
        return default

    def commit_edits(self) -> None:
        """Ask the forms to write what they hold (a text field reports only when editing
        finishes); a refused value leaves `edit_error` set and the last good config kept."""
        self.edit_error = None
        self.edits_requested.emit()

    def edited(self):
        """(the model's config, the training settings) as edited now; raises WorkbenchError
        naming a refused field."""
        self.commit_edits()
        if self.edit_error:
            raise WorkbenchError(self.edit_error)
        if self.model is None:
            raise WorkbenchError("no model is selected yet")
        return self.config_for(self.model), self.train_settings

    def set_train_settings(self, settings: TrainSettings) -> None:
        self.train_settings = settings
        self.train_settings_changed.emit(settings)

    # -- the dataset -------------------------------------------------------------------------------
    def select_dataset(self, choice) -> bool:
        """Choose a dataset of the list (False when it is not in the list)."""
        i = self.datasets.find(choice)
        if i < 0:
            return False
        choice = self.datasets.entries[i].choice
        if dataset_key(choice) != dataset_key(self.dataset):
            self.dataset = choice
            self.dataset_changed.emit(choice)
        return True

    # -- the run on screen ---------------------------------------------------------------------------
    def set_run(self, run_dir: Path | None, opened: Path | None = None) -> None:
        self.run_dir, self.opened_run = run_dir, opened
        self.run_changed.emit()

    def set_training(self, training: bool, paused: bool = False) -> None:
        self.training, self.paused = training, paused
        self.training_changed.emit()

    def set_snapshot(self, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot
        self.snapshot_changed.emit(snapshot)

    def analysis_source(self) -> dict:
        """What the Metrics and Anomaly tabs work on: the newest weights (or None), their
        dataset (else the selected one) and the opened run directory."""
        snap = self.snapshot
        dataset = snap.dataset if snap is not None and snap.dataset else self.dataset
        return {"snapshot": snap, "dataset": dataset or DEFAULT_DATASET,
                "run_dir": self.opened_run}

    # -- messages to the window ----------------------------------------------------------------------
    def show_status(self, text: str) -> None:
        self.status.emit(text)

    def show_panel(self, key: str) -> None:
        self.panel_requested.emit(key)

    # -- what is remembered between sessions ------------------------------------------------------------
    def save_choices(self) -> None:
        s = self.settings
        if self.model:
            s.setValue("model", self.model)
        s.setValue("dataset", dataset_key(self.dataset or DEFAULT_DATASET))
        for name, cfg in self.configs.items():
            s.setValue(f"config/{name}", json.dumps(C.to_dict(cfg)))
        s.setValue("train_settings", json.dumps(C.to_dict(self.train_settings)))

    def _saved_train_settings(self) -> TrainSettings:
        raw = self.settings.value("train_settings")
        if raw:
            try:
                return C.replace(TrainSettings(), **json.loads(raw))
            except (WorkbenchError, ValueError, TypeError):
                pass
        return TrainSettings()
