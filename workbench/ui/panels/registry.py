"""The panels of the window's centre, one entry per tab: its key (the `view` a lesson names,
workbench/course/lessons.py VIEWS), title, tooltip, how it is built from the window state, and
what a lesson may ask of it. The window builds its tabs from PANELS and the lesson controller
opens panels through them; tests/ui/test_panel_registry.py checks PANELS against the lessons.

Adding a panel: write its widget (one file in ui/panels/, built from the WindowState) and add
its entry here; for lessons, add its key to course/lessons.py VIEWS (and PAGES).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtWidgets import QWidget

from workbench.ui.panels.dataset_page import DatasetPage
from workbench.ui.panels.latent_explorer import LatentExplorer
from workbench.ui.panels.latent_walks import LatentWalks
from workbench.ui.panels.training_view import TrainingView
from workbench.ui.state import WindowState


@dataclass(frozen=True)
class PanelEntry:
    key: str
    title: str
    tooltip: str
    factory: Callable[[WindowState], QWidget]
    lazy: bool = False  # built the first time it is shown: start-up does not pay for it
    pages: tuple[str, ...] = ()  # sub-pages a lesson may open: [panel] page = …
    options: tuple[str, ...] = ()  # the other [panel] keys it takes, via apply_lesson(options)
    encodes: bool = False  # shows the latent codes: encoding runs only while it is on screen
    # runs work of its own (the GAN lab's loop): paused, with `pause()`, when its tab is left or
    # a training starts, unless the user keeps background panels running (View menu)
    background: bool = False
    # what the tab trains by itself, if anything: while it is in front, the Setup panel says so,
    # so that its Train (the model below, for the other tabs) is not taken for the tab's own
    own_training: str = ""


def _reporting(panel: QWidget, state: WindowState) -> QWidget:
    """A panel whose `status` signal speaks in the window's status bar."""
    panel.status.connect(state.show_status)
    return panel


# Lazily built panels import their modules on first view (function-local on purpose): the GAN
# lab starts a worker thread and several draw a lot, none of which start-up should pay for.
def _gan_lab(state: WindowState) -> QWidget:
    from workbench.ui.panels.gan_lab import GanLabPanel

    return GanLabPanel()


def _dirac(state: WindowState) -> QWidget:
    from workbench.ui.panels.dirac_view import DiracPanel

    return DiracPanel()


def _metrics(state: WindowState) -> QWidget:
    from workbench.ui.panels.metrics_panel import MetricsPanel

    return _reporting(MetricsPanel(state.analysis_source), state)


def _anomaly(state: WindowState) -> QWidget:
    from workbench.ui.panels.anomaly import AnomalyPanel

    return _reporting(AnomalyPanel(state.analysis_source), state)


def _experiments(state: WindowState) -> QWidget:
    from workbench.ui.panels.experiment_page import ExperimentPage

    return ExperimentPage()


PANELS: tuple[PanelEntry, ...] = (
    PanelEntry("training", "Training", "Loss curves, samples and reconstructions, live",
               TrainingView),
    PanelEntry("latent", "Latent space", "Scatter of the codes coloured by label, the clicked "
               "image and its reconstruction, and latent sliders",
               lambda s: _reporting(LatentExplorer(s.latent), s), options=("kmeans",),
               encodes=True),
    PanelEntry("walks", "Latent walks", "Traversal grids, interpolation and latent arithmetic",
               lambda s: _reporting(LatentWalks(s.latent), s),
               pages=("traversal", "interpolation", "arithmetic"), encodes=True),
    PanelEntry("dataset", "Dataset", "The selected dataset: images per class, class counts, "
               "sizes and modes, and what a folder scan skipped", DatasetPage),
    PanelEntry("gan_lab", "GAN lab", "A 2-D GAN trained live: the discriminator's map, the "
               "generator's manifold, the gradient field on the fakes and the modes captured; "
               "step D and G by hand, switch losses and stabilisers while it runs",
               _gan_lab, lazy=True, background=True,
               own_training="The GAN lab trains its own 2-D GAN (Play, Step D, Step G)"),
    PanelEntry("dirac", "Dirac-GAN", "The two-parameter game of Mescheder et al. 2018: its "
               "gradient field, trajectories of simultaneous and alternating steps, and the "
               "eigenvalues that decide convergence", _dirac, lazy=True,
               own_training="The Dirac-GAN tab plays its own two-parameter game"),
    PanelEntry("metrics", "Metrics", "Every offline metric of the current model and of chosen "
               "runs, one column each: validation losses, reconstruction error, classifier "
               "score, Fréchet distance, class histogram, mode report", _metrics, lazy=True),
    PanelEntry("anomaly", "Anomaly && denoising", "Reconstruction error as an anomaly score "
               "(train without one digit: histogram, ROC, worst images) and clean / corrupted "
               "/ reconstructed images with the noise level on a slider", _anomaly, lazy=True,
               pages=("anomaly", "denoising"), options=("run",)),
    PanelEntry("experiment", "Experiments", "Small experiments that end in a table and a "
               "picture: PCA against a linear AE, few-label learning, JS against Wasserstein, "
               "f-divergence fits, the generator's gradients…", _experiments, lazy=True,
               own_training="An experiment trains its own small models (Run)"),
)


def panel_entry(key: str) -> PanelEntry:
    return next(e for e in PANELS if e.key == key)
