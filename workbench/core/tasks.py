"""Long work that reports progress and can be stopped: a folder scan, a t-SNE, a study, a
hold-out run, the GAN lab's loop, a training relay. The work receives one `TaskContext` and
talks to whoever asked for it only through that: `progress(...)`, `emit(payload)` for partial
results, and `check()`, which raises `Cancelled` once the asker has called `cancel()`. Whoever
asked treats Cancelled as "nothing to show", never as an error.

Qt-free: the CLI and the tests build a context from plain callbacks (`on_progress`,
`should_stop`); the window's one task class (workbench/ui/tasks.py) builds one whose callbacks
cross to the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """The work was stopped by whoever asked for it (a Cancel button, a newer request)."""

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)


ProgressFn = Callable[[float, "float | None", str], None]  # done, total (None: a fraction), text


class TaskContext:
    """What long work receives besides its inputs.

    `on_progress(done, total, text)` and `on_emit(payload)` are called on the work's own
    thread; `should_stop()`, when given, is a second way to ask for a stop (a callable or a
    threading.Event's `is_set` that the asker owns)."""

    def __init__(self, on_progress: ProgressFn | None = None,
                 on_emit: Callable[[object], None] | None = None,
                 should_stop: Callable[[], bool] | None = None):
        self._on_progress = on_progress
        self._on_emit = on_emit
        self._should_stop = should_stop
        self._stop = threading.Event()

    def progress(self, done: float, total: float | None = None, text: str = "") -> None:
        """`done` of `total` (steps, files, iterations), or a fraction in [0, 1] when `total`
        is None; `text` says what is happening."""
        if self._on_progress is not None:
            self._on_progress(done, total, text)

    def emit(self, payload) -> None:
        """Hand over a partial result (a study's curve so far, a lab snapshot, a training
        event); the asker receives each one, in order."""
        if self._on_emit is not None:
            self._on_emit(payload)

    def cancel(self) -> None:
        """Ask the work to stop (any thread); it raises Cancelled at its next `check()`."""
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set() or (self._should_stop is not None and self._should_stop())

    def check(self) -> None:
        """Raise Cancelled if a stop was asked for; long work calls it often."""
        if self.cancelled:
            raise Cancelled()
