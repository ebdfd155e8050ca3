"""The Runs dock (the workspace's runs: open, resume, compare; panels/runs_panel.py) and the
recipe files that repeat a run (File → Save / Open recipe…)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDockWidget, QFileDialog, QMessageBox

from workbench.core.errors import WorkbenchError
from workbench.core.paths import workspace_dir
from workbench.engine.recipes import load_recipe, save_recipe
from workbench.ui.panels.runs_panel import RunsPanel, apply_recipe, recipe_from_state
from workbench.ui.state import WindowState
from workbench.ui.training import TrainingSession


class RunsDock(QDockWidget):
    def __init__(self, state: WindowState, session: TrainingSession, parent=None):
        super().__init__("Runs", parent)
        self.state = state
        self.setObjectName("runs_dock")
        self.panel = RunsPanel(state.workspace or workspace_dir())
        self.panel.open_requested.connect(session.open_run)
        self.panel.resume_requested.connect(
            lambda p: session.open_run(p) and session.continue_run())
        self.panel.workspace_changed.connect(self._on_workspace_changed)
        self.setWidget(self.panel)

    def _on_workspace_changed(self, path) -> None:
        self.state.workspace = Path(path)  # new runs from the window go here
        self.state.settings.setValue("workspace", str(path))

    # -- recipe files ------------------------------------------------------------------------------
    def save_recipe_dialog(self) -> None:
        start = str(self.state.settings.value("last_recipe_dir", str(Path.home())))
        path, _ = QFileDialog.getSaveFileName(self.window(), "Save recipe",
                                              start + "/recipe.toml", "Recipe (*.toml *.json)")
        if path:
            self.save_recipe(Path(path))

    def save_recipe(self, path: Path) -> bool:
        if path.suffix.lower() not in (".toml", ".json"):
            path = path.with_suffix(".toml")
        try:
            save_recipe(recipe_from_state(self.state), path)
        except WorkbenchError as e:
            QMessageBox.warning(self.window(), "Cannot save the recipe", str(e))
            return False
        self.state.settings.setValue("last_recipe_dir", str(path.parent))
        self.state.show_status(f"Saved {path}: `genworkbench train --recipe {path}` "
                               "or File → Open recipe… repeats it.")
        return True

    def open_recipe_dialog(self) -> None:
        start = str(self.state.settings.value("last_recipe_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self.window(), "Open recipe", start,
                                              "Recipe (*.toml *.json)")
        if path:
            self.open_recipe(Path(path))

    def open_recipe(self, path: Path) -> bool:
        if self.state.training:
            QMessageBox.information(self.window(), "genworkbench",
                                    "Stop the current training first.")
            return False
        try:
            notes = apply_recipe(self.state, load_recipe(path))
        except WorkbenchError as e:
            QMessageBox.warning(self.window(), "Cannot open the recipe", str(e))
            return False
        self.state.settings.setValue("last_recipe_dir", str(Path(path).parent))
        self.state.show_status(f"Loaded {Path(path).name}: press Train to run it."
                               + "".join(f" Note: {n}." for n in notes))
        return True

