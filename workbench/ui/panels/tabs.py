"""The window's centre: one tab per entry of the panel registry, lazy ones built on first view.
Nothing runs where nobody looks: a panel with work of its own (PanelEntry.background) is paused
when its tab is left and when a training starts, unless the user keeps it running."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from workbench.ui.panels.registry import PANELS, PanelEntry
from workbench.ui.state import WindowState

KEEP_RUNNING_KEY = "keep_background_panels_running"  # QSettings: View → Keep … running


class LazyPage(QWidget):
    """A tab whose content is built by `factory` the first time it is shown."""

    def __init__(self, factory):
        super().__init__()
        self._factory = factory
        self.content: QWidget | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)

    def showEvent(self, event):
        super().showEvent(event)
        self.ensure()

    def ensure(self) -> QWidget:
        """Build the content now (a lesson configures a page before it is shown)."""
        if self.content is None:
            self.content = self._factory()
            self.layout().addWidget(self.content)
        return self.content


class PanelTabs(QTabWidget):
    def __init__(self, state: WindowState, entries: tuple[PanelEntry, ...] = PANELS,
                 parent=None):
        super().__init__(parent)
        self.state = state
        self.setObjectName("center_tabs")
        self.setDocumentMode(True)
        self.entries = {e.key: e for e in entries}
        self._pages: dict[str, QWidget] = {}
        for e in entries:
            page = LazyPage(lambda e=e: e.factory(state)) if e.lazy else e.factory(state)
            self._pages[e.key] = page
            self.addTab(page, e.title)
            self.setTabToolTip(self.count() - 1, e.tooltip)
        self.currentChanged.connect(self._on_current)
        state.panel_requested.connect(self.show_panel)
        state.training_changed.connect(self._on_training)

    def page(self, key: str) -> QWidget:
        """The tab's page (for a lazy panel, the frame it is built into)."""
        return self._pages[key]

    def panel(self, key: str) -> QWidget:
        """The panel itself, built now if it was not yet."""
        page = self._pages[key]
        return page.ensure() if isinstance(page, LazyPage) else page

    def built(self, key: str) -> QWidget | None:
        """The panel, or None while a lazy one has not been shown."""
        page = self._pages[key]
        return page.content if isinstance(page, LazyPage) else page

    def show_panel(self, key: str) -> QWidget:
        self.setCurrentWidget(self._pages[key])
        return self.panel(key)

    def current_key(self) -> str:
        return next(k for k, p in self._pages.items() if p is self.currentWidget())

    def set_panel_visible(self, key: str, visible: bool) -> None:
        self.setTabVisible(self.indexOf(self._pages[key]), visible)

    def is_panel_visible(self, key: str) -> bool:
        return self.isTabVisible(self.indexOf(self._pages[key]))

    def _on_current(self, _index: int) -> None:
        # Encoding costs CPU the trainer could use: only while a latent view is on screen.
        current = self.current_key()
        self.state.latent.set_active(self.entries[current].encodes)
        self.state.panel_shown.emit(self.entries[current])
        self.pause_background("its tab was left", keep=current)

    def _on_training(self) -> None:
        if self.state.training and not self.state.paused:
            self.pause_background("a training started")

    @property
    def keep_running(self) -> bool:
        return self.state.settings.value(KEEP_RUNNING_KEY, False, type=bool)

    def pause_background(self, why: str, keep: str | None = None) -> None:
        """Pause every built background panel but `keep`, and say so, unless the user keeps
        them running."""
        if self.keep_running:
            return
        for key, entry in self.entries.items():
            panel = self.built(key)
            if entry.background and key != keep and panel is not None and panel.playing:
                panel.pause()
                self.state.show_status(f"{entry.title} paused: {why} (Play resumes it; View → "
                                       "Keep background panels running keeps it going).")

    def shutdown(self) -> None:
        """Stop what the built panels run in the background."""
        for key in self._pages:
            panel = self.built(key)
            if panel is not None and hasattr(panel, "shutdown"):
                panel.shutdown()
