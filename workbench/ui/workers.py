"""Training off the GUI thread, its events forwarded as Qt signals, throttled at the source
(~20 metric emissions/s) so the GUI thread never drowns.

Two interchangeable runners with the same signals and controls:
- `TrainingProcess` (the default where a fork server exists): the loop runs in a child process
  (engine/remote.py); this QThread only relays its messages. Painting never competes with
  training for the GIL, and a crash in training cannot take the window down.
- `TrainingThread`: the loop runs in this QThread, in-process (tests patch models this way)."""

from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
import traceback

from PySide6.QtCore import QThread, Signal


class _Runner(QThread):
    """Signals and controls shared by both runners; subclasses deliver the commands."""

    started_run = Signal(object)  # engine.events.Started
    metrics = Signal(list)  # [engine.events.Metrics, ...] batched
    grids = Signal(object)  # {"step", "samples", "reconstructions"}: uint8 pictures
    snapshot = Signal(object)  # {"step", "state", "spec"}: CPU copy of the weights, for decoding
    checkpoint = Signal(object)  # engine.events.CheckpointSaved
    finished_run = Signal(object)  # engine.events.Finished
    failed = Signal(str)  # a message for the user (WorkbenchError) or a traceback

    def __init__(self, job: dict, parent=None):
        """`job`: model, dataset, config and settings (as dicts), run_dir, resume."""
        super().__init__(parent)
        self.job = job
        self._paused = False
        from workbench.ui.crash import log_training

        log_training(self)  # start, end and failure reach the log file (a no-op without one)

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

    def _signal_for(self, kind: str):
        return {"started": self.started_run, "metrics": self.metrics, "grids": self.grids,
                "snapshot": self.snapshot, "checkpoint": self.checkpoint,
                "finished": self.finished_run, "failed": self.failed}[kind]

    def _command(self, cmd: str) -> None:
        """Deliver "pause", "resume" or "stop" to the loop; each runner has its own channel."""


class TrainingThread(_Runner):
    """In-process runner: the loop runs in this QThread."""

    def __init__(self, job: dict, parent=None):
        super().__init__(job, parent)
        self.trainer = None
        self._commands: queue.Queue[str] = queue.Queue()

    def _command(self, cmd: str) -> None:
        self._commands.put(cmd)

    def run(self) -> None:
        from workbench.core.errors import WorkbenchError
        from workbench.engine.remote import make_trainer, relay

        def send(msg):
            self._signal_for(msg[0]).emit(msg[1])

        def poll():
            try:
                return self._commands.get_nowait()
            except queue.Empty:
                return None

        import torch

        if TRAINING_THREADS:
            torch.set_num_threads(TRAINING_THREADS)  # training here gets every core …
        try:
            self.trainer = make_trainer(self.job)
            relay(self.trainer, send, poll, self._commands.get)
        except WorkbenchError as e:
            self.failed.emit(str(e))
        except Exception:  # a bug: show it rather than dying silently in a thread
            self.failed.emit(traceback.format_exc())
        finally:
            if TRAINING_THREADS:
                torch.set_num_threads(1)  # … and the GUI's own decoding goes back to one


# The GUI process runs its own torch work (decoding slider codes, encoding for the scatter,
# t-SNE) on ONE intra-op thread. Those are tiny batches; with two threads and training busy on
# the other core, OpenMP's barrier made a single conv decode take 70–80 ms instead of 2–3 ms
# (bench/latent.py). TRAINING_THREADS is torch's default, kept for the in-process runner.
TRAINING_THREADS: int | None = None


def use_one_torch_thread_for_the_gui() -> None:
    global TRAINING_THREADS
    import torch

    if TRAINING_THREADS is None:
        TRAINING_THREADS = torch.get_num_threads()
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
        from multiprocessing import forkserver

        forkserver.ensure_running()


class TrainingProcess(_Runner):
    """Out-of-process runner; this thread relays the child's messages as signals."""

    def __init__(self, job: dict, parent=None):
        super().__init__(job, parent)
        self._cmd_send = None
        self._lock = threading.Lock()
        self._stop_requested = False
        self.process = None

    def _command(self, cmd: str) -> None:
        if cmd == "stop":
            self._stop_requested = True
        with self._lock:
            if self._cmd_send is not None:
                try:
                    self._cmd_send.send(cmd)
                except (OSError, ValueError):  # the child has already gone
                    pass

    def run(self) -> None:
        from workbench.engine import remote

        ctx = process_context()
        ev_recv, ev_send = ctx.Pipe(duplex=False)
        cmd_recv, cmd_send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=remote.child_main, args=(self.job, ev_send, cmd_recv),
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
                self._signal_for(kind).emit(payload)
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
            code = proc.exitcode
            self.failed.emit(f"The training process ended unexpectedly (exit code {code}). "
                             "The window is unaffected; the last checkpoint in the run "
                             "directory is intact.")
