"""Background work for the window: one `Task` class on qasync's asyncio loop, for every job that
must not block the GUI thread (decoding a grid, a folder scan, a t-SNE, a study, the GAN lab's
loop, a training run and the relay of its child process).

    task = Task("decode")
    task.submit(lambda ctx: work(..., ctx), on_done=show, on_error=say,
                on_progress=bar, on_emit=partial, on_cancelled=tidy)

The work runs in the task's own worker thread and receives a core.tasks.TaskContext (`ctx`).
What it reports comes back on the GUI thread, as calls of the callbacks given to `submit`:
`on_progress(done, total, text)` at most ~20 times a second (the last one is never dropped),
`on_emit(payload)` for every partial result, in order, then exactly one of `on_done(result)`,
`on_error(exception)` or `on_cancelled()`.

Latest request wins: a newer `submit` cancels the older request (its `ctx.check()` raises
Cancelled) and drops whatever it would still deliver; the newer one runs once the older one has
stopped (one worker thread per task). Work whose every request matters submits the next one when
the last has been delivered (the metrics panel queues its evaluations so). `cancel()` stops the
current request and delivers only its `on_cancelled`, once the work has stopped. `shutdown()`
cancels and drops everything and waits for the work to end (the window's close waits on it);
the task stays usable afterwards (a view stops one study before showing the next).

Long-lived work is a request too: the GAN lab's loop and a training relay run until cancelled
or done, and hand over their news with `ctx.emit`. Needs qasync's loop as asyncio's event loop
(ui/app.py sets it; so does tests/ui/conftest.py).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

from workbench.core.tasks import Cancelled, TaskContext

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress calls a second reach the GUI thread

_all_tasks: weakref.WeakSet[Task] = weakref.WeakSet()


def busy_tasks() -> list[Task]:
    """Every task with work in flight (tests check that none is left when a window closes)."""
    return [t for t in list(_all_tasks) if t.busy]


def _call(callback: Callable | None, *args) -> None:
    """Run a GUI-side callback; a bug in it reaches sys.excepthook (the log and the error box,
    as an exception in a Qt slot does) instead of asyncio's quiet log."""
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:  # noqa: BLE001 - reported, never swallowed
        sys.excepthook(*sys.exc_info())


class _Request:
    """One `submit`: the work's context, its callbacks, and whether its news is still wanted."""

    def __init__(self, loop, on_done, on_error, on_progress, on_emit, on_cancelled):
        self.loop = loop
        self.on_done, self.on_error, self.on_cancelled = on_done, on_error, on_cancelled
        self.on_progress, self.on_emit = on_progress, on_emit
        self.wanted = True  # False once superseded or shut down: nothing more is delivered
        self.cancelled = False  # cancel(): only on_cancelled is delivered
        self.future: Future | None = None  # the work, in the worker thread
        self.outcome: asyncio.Future | None = None  # awaits it on the GUI thread, then delivers
        self._last_progress = 0.0
        self._held_progress: tuple | None = None  # the newest report the throttle held back
        self._held_lock = threading.Lock()
        self._flush_due = False  # a flush of the held report is scheduled on the GUI thread
        self.ctx = TaskContext(on_progress=self._progress if on_progress else None,
                               on_emit=self._emit if on_emit else None)

    @property
    def listening(self) -> bool:
        return self.wanted and not self.cancelled

    # -- on the worker thread ----------------------------------------------------------------------
    def run(self, fn):
        try:
            return fn(self.ctx)
        finally:  # queued before the outcome, so the bar shows the end before on_done
            held = self._take_held()
            if held is not None:
                self._send(self.on_progress, held)

    def _progress(self, done, total, text) -> None:
        """Throttled: a report within PROGRESS_INTERVAL_S of the last one sent is held, and the
        newest held one goes out when the interval is over (a stage's text is never stuck)."""
        report = (done, total, text)
        if done >= 1.0 if total is None else 0 < total <= done:  # the end: never held
            self._take_held()
            self._send(self.on_progress, report)
            return
        wait = PROGRESS_INTERVAL_S - (time.monotonic() - self._last_progress)
        with self._held_lock:
            if wait <= 0 and not self._flush_due:
                self._last_progress = time.monotonic()
                self._send(self.on_progress, report)
                return
            self._held_progress = report  # the flush that is due, or the one scheduled now
            schedule, self._flush_due = not self._flush_due, True
        if schedule:
            self.loop.call_soon_threadsafe(self.loop.call_later, max(wait, 0.0),
                                           self._flush_held)

    def _take_held(self) -> tuple | None:
        with self._held_lock:
            held, self._held_progress = self._held_progress, None
            return held

    def _emit(self, payload) -> None:
        self._send(self.on_emit, (payload,))

    def _send(self, callback, args: tuple) -> None:
        self.loop.call_soon_threadsafe(self._deliver, callback, args)

    # -- on the GUI thread -------------------------------------------------------------------------
    def _deliver(self, callback, args: tuple) -> None:
        if self.listening:
            _call(callback, *args)

    def _flush_held(self) -> None:
        with self._held_lock:
            held, self._held_progress, self._flush_due = self._held_progress, None, False
            self._last_progress = time.monotonic()
        if held is not None:
            self._deliver(self.on_progress, held)

    def drop(self) -> None:
        """Superseded or shut down: stop the work, deliver nothing more."""
        self.wanted = False
        self.ctx.cancel()
        self.future.cancel()  # not started yet: it never will


class Task:
    """One line of background work with its own worker thread; see the module's docstring."""

    def __init__(self, name: str = "task"):
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"task-{name}")
        self._requests: list[_Request] = []  # submitted, outcome not yet handled; oldest first
        _all_tasks.add(self)

    def submit(self, fn: Callable[[TaskContext], object], *,
               on_done: Callable[[object], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None,
               on_progress: Callable[[float, float | None, str], None] | None = None,
               on_emit: Callable[[object], None] | None = None,
               on_cancelled: Callable[[], None] | None = None) -> None:
        """Run `fn(ctx)` in the worker thread, after cancelling and dropping older requests.
        Without `on_error`, an error reaches sys.excepthook (the log and the error box)."""
        loop = asyncio.get_event_loop()
        for old in self._requests:
            old.drop()
        req = _Request(loop, on_done, on_error, on_progress, on_emit, on_cancelled)
        req.future = self._executor.submit(req.run, fn)
        self._requests.append(req)
        req.outcome = asyncio.ensure_future(self._outcome(req), loop=loop)

    async def _outcome(self, req: _Request) -> None:
        try:
            result = await asyncio.wrap_future(req.future, loop=req.loop)
            error = None
        except (Cancelled, asyncio.CancelledError):
            result, error = None, Cancelled()
        except Exception as e:  # noqa: BLE001 - delivered to on_error
            result, error = None, e
        if req in self._requests:  # not busy any more before the callback runs: it may submit
            self._requests.remove(req)
        if not req.wanted:
            return
        if req.cancelled or isinstance(error, Cancelled):
            _call(req.on_cancelled)
        elif error is not None:
            if req.on_error is not None:
                _call(req.on_error, error)
            else:
                sys.excepthook(type(error), error, error.__traceback__)
        else:
            _call(req.on_done, result)

    @property
    def busy(self) -> bool:
        """Work submitted and not yet ended (or its outcome not yet delivered)."""
        return bool(self._requests)

    def cancel(self) -> None:
        """Stop the current work: `ctx.check()` raises Cancelled in it; whatever it still
        reports is dropped, and its `on_cancelled` is called once it has stopped."""
        for req in self._requests:
            req.cancelled = True
            req.ctx.cancel()
            req.future.cancel()  # still queued: it never starts (on_cancelled follows)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Cancel and drop every request (nothing more is delivered) and wait up to `timeout`
        seconds (None: as long as it takes) for the work to end. True when it has ended."""
        requests = list(self._requests)
        for req in requests:
            req.drop()
        _, running = wait_futures([r.future for r in requests], timeout)
        # Their outcomes would only be dropped: not busy any more once the work has ended.
        self._requests = [r for r in self._requests if not r.future.done()]
        return not running

    def __repr__(self) -> str:
        return f"<Task {self.name!r}{' busy' if self.busy else ''}>"
