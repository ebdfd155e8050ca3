"""The Experiments tab: a picker of the lesson studies (workbench.experiments) above the view
that sets one up, runs it and shows its table and picture (ExperimentView)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.experiments.registry import list_experiments
from workbench.ui.panels.experiment_view import ExperimentView


class ExperimentPage(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Experiment"))
        self.combo = QComboBox()
        self.combo.setToolTip("Small, self-contained studies that end in a table and a "
                              "picture; the lessons open them with their own settings.")
        for info in list_experiments():
            self.combo.addItem(info.title, info.name)
        row.addWidget(self.combo, 1)
        lay.addLayout(row)
        self.view = ExperimentView()
        lay.addWidget(self.view, 1)
        self.combo.currentIndexChanged.connect(lambda _i: self.choose(self.combo.currentData()))
        if self.combo.count():
            self.view.set_experiment(self.combo.currentData())

    def choose(self, name: str, params: dict | None = None) -> None:
        """Show experiment `name` (a running one is cancelled first)."""
        if self.view.running:
            self.view.shutdown()
        self.view.set_experiment(name, params)
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(self.combo.findData(name))
        self.combo.blockSignals(False)

    def shutdown(self) -> None:
        self.view.shutdown()
