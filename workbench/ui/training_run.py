"""Training off the GUI thread: a `TrainingRun` runs one job as a Task (ui/tasks.py) and turns
the events it emits into Qt signals. The events are throttled at the source (engine/remote.py
batches metrics, ~20 emissions/s) so the GUI thread never drowns.

Where the loop runs:
- in a child process (`child_process=True`, the default; forked from a warm server where the
  platform has one, else spawned): the task only relays the child's messages. Painting never competes with training for the GIL, and a
  crash in training cannot take the window down.
- in the task's own thread, in this process (tests patch models this way).
Pause, resume and stop go to the loop through a command channel (the child's pipe, or a queue).

Also here: the GUI process's torch thread count (one, except in heavy background work)."""

from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
import traceback
from contextlib import contextmanager

from PySide6.QtCore import QObject, Signal

from workbench.core.errors import WorkbenchError
from workbench.engine.remote import child_main, make_trainer, relay
from workbench.ui.crash import log_training
from workbench.ui.tasks import Task


class TrainingRun(QObject):
    """One training job: `start()`, then `pause()`, `resume()`, `stop()`; the signals below
    carry what the loop reports, on the GUI thread; `ended` follows the last of them."""

    started_run = Signal(object)  # engine.events.Started
    metrics = Signal(list)  # [engine.events.Metrics, ...] batched
    grids = Signal(object)  # {"step", "samples", "reconstructions"}: uint8 pictures
    snapshot = Signal(object)  # {"step", "state", "spec"}: CPU copy of the weights, for decoding
    checkpoint = Signal(object)  # engine.events.CheckpointSaved
    finished_run = Signal(object)  # engine.events.Finished
    failed = Signal(str)  # a message for the user (WorkbenchError) or a traceback
    ended = Signal()  # the run is over, whichever way: the window tidies up

    def __init__(self, job: dict, child_process: bool = True, parent=None):
        """`job`: model, dataset, config and settings (as dicts), run_dir, resume."""
        super().__init__(parent)
        self.job = job
        self.child_process = child_process
        self.process = None  # the child (a multiprocessing.Process) once it has started
        self._task = Task("training")
        self._paused = False
        self._commands: queue.Queue[str] = queue.Queue()  # in this process: the loop polls it
        self._cmd_send = None  # in a child: the pipe's sending end, while the child lives
        self._lock = threading.Lock()
        self._stop_requested = False  # a stop that came before the child's pipe was ready
        log_training(self)  # start, end and failure reach the log file (a no-op without one)

    def start(self) -> None:
        self._task.submit(self._train_in_child if self.child_process else self._train_here,
                          on_emit=self._on_event, on_done=lambda _r: self.ended.emit(),
                          on_error=self._on_error)

    @property
    def running(self) -> bool:
        return self._task.busy

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        self._command("pause")

    def resume(self) -> None:
        self._paused = False
        self._command("resume")

    def stop(self) -> None:
        """End after the current step (a checkpoint is saved), paused or not."""
        self._paused = False
        self._command("stop")

    def wait(self, timeout_ms: int) -> bool:
        """Block until the run has ended (after `stop()`: the window's close); what it would
        still report is dropped. True when it ended within `timeout_ms`."""
        return self._task.shutdown(timeout_ms / 1000)

    # -- on the GUI thread ---------------------------------------------------------------------
    def _on_event(self, event) -> None:
        kind, payload = event
        {"started": self.started_run, "metrics": self.metrics, "grids": self.grids,
         "snapshot": self.snapshot, "checkpoint": self.checkpoint,
         "finished": self.finished_run, "failed": self.failed}[kind].emit(payload)

    def _on_error(self, e: BaseException) -> None:
        # a WorkbenchError is a message for the user; anything else is a bug: show it whole
        self.failed.emit(str(e) if isinstance(e, WorkbenchError)
                         else "".join(traceback.format_exception(e)))
        self.ended.emit()

    def _command(self, cmd: str) -> None:
        """Deliver "pause", "resume" or "stop" to the loop, wherever it runs."""
        if not self.child_process:
            self._commands.put(cmd)
            return
        if cmd == "stop":
            self._stop_requested = True
        with self._lock:
            if self._cmd_send is not None:
                try:
                    self._cmd_send.send(cmd)
                except (OSError, ValueError):  # the child has already gone
                    pass

    # -- in the task's thread ------------------------------------------------------------------
    def _train_here(self, ctx) -> None:
        def poll():
            try:
                return self._commands.get_nowait()
            except queue.Empty:
                return None

        with all_torch_threads():
            relay(make_trainer(self.job), ctx.emit, poll, self._commands.get)

    def _train_in_child(self, ctx) -> None:
        mp = process_context()
        ev_recv, ev_send = mp.Pipe(duplex=False)
        cmd_recv, cmd_send = mp.Pipe(duplex=False)
        proc = mp.Process(target=child_main, args=(self.job, ev_send, cmd_recv),
                          name="genworkbench-training", daemon=True)
        proc.start()
        self.process = proc
        ev_send.close()
        cmd_recv.close()
        with self._lock:
            self._cmd_send = cmd_send
        if self._stop_requested:
            self._command("stop")
        ended = False
        try:
            while True:
                try:
                    kind, payload = ev_recv.recv()
                except (EOFError, OSError):
                    break
                ctx.emit((kind, payload))
                ended = ended or kind in ("finished", "failed")
        finally:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()
            with self._lock:
                self._cmd_send = None
                cmd_send.close()
            ev_recv.close()
        if not ended:
            ctx.emit(("failed", f"The training process ended unexpectedly (exit code "
                                f"{proc.exitcode}). The window is unaffected; the last "
                                "checkpoint in the run directory is intact."))


# The GUI process runs its own torch work (decoding slider codes, encoding for the scatter,
# t-SNE) on ONE intra-op thread. Those are tiny batches; with two threads and training busy on
# the other core, OpenMP's barrier made a single conv decode take 70–80 ms instead of 2–3 ms
# (bench/latent.py). TRAINING_THREADS is torch's default, for heavy work in a task's thread.
TRAINING_THREADS: int | None = None


def use_one_torch_thread_for_the_gui() -> None:
    global TRAINING_THREADS
    import torch  # here, not at the top: the window imports this module before torch loads

    if TRAINING_THREADS is None:
        TRAINING_THREADS = torch.get_num_threads()
    torch.set_num_threads(1)


@contextmanager
def all_torch_threads():
    """In a task's thread: torch's default thread count for heavy work (training in this
    process, a study), and back to one afterwards (the setting is per thread)."""
    import torch  # heavy work runs after the backend has loaded torch

    if TRAINING_THREADS:
        torch.set_num_threads(TRAINING_THREADS)
    try:
        yield
    finally:
        if TRAINING_THREADS:
            torch.set_num_threads(1)


_CONTEXT = None


def process_context():
    """A fork server with torch preloaded where the platform has one (Linux); else spawn."""
    global _CONTEXT
    if _CONTEXT is None:
        if sys.platform.startswith("linux"):
            _CONTEXT = multiprocessing.get_context("forkserver")
            _CONTEXT.set_forkserver_preload(["workbench.engine.preload"])
        else:
            _CONTEXT = multiprocessing.get_context("spawn")
    return _CONTEXT


def warm_up_process_runner() -> None:
    """Start the fork server now (it imports torch once), so Train starts promptly later."""
    ctx = process_context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver  # only where the platform has one

        forkserver.ensure_running()
