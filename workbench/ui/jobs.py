"""Short background jobs for the GUI (decode a grid, export a sheet) on qasync's event loop:
the blocking work runs in a worker thread, and only the newest request's result is delivered,
so dragging or clicking fast never queues stale work."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from PySide6.QtCore import QObject, Signal


class LatestOnly:
    def __init__(self, name: str = "job"):
        self._token = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._tasks: set[asyncio.Future] = set()

    def submit(self, fn: Callable[[], object], on_done: Callable[[object], None],
               on_error: Callable[[BaseException], None] | None = None) -> asyncio.Future:
        self._token += 1
        token = self._token

        async def job():
            loop = asyncio.get_event_loop()
            try:
                result = await loop.run_in_executor(self._executor, fn)
            except Exception as e:  # delivered to the newest requester only
                if token == self._token and on_error is not None:
                    on_error(e)
                return
            if token == self._token:
                on_done(result)

        task = asyncio.ensure_future(job())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def shutdown(self) -> None:
        self._token += 1  # drop whatever is in flight
        self._executor.shutdown(wait=True, cancel_futures=True)


class ProgressRelay(QObject):
    """Progress from a worker thread to the GUI: `report(done, total)` may be called from any
    thread; the queued `progress` signal delivers it on the GUI thread."""

    progress = Signal(int, int)

    def report(self, done: int, total: int) -> None:
        self.progress.emit(int(done), int(total))
