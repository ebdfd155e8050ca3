"""The run the window trains or shows: start, pause, stop and continue training in the
background (a child process or a thread, ui/training_run.py), relay what it reports into the window
state, and open a run directory from disk and follow it while another process writes it.

The weights reach the views only as a `Snapshot` (ui/state.py): a CPU copy sent every few
seconds while training, or a checkpoint read from disk.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QProgressBar

from workbench.core import config as C
from workbench.core.errors import WorkbenchError
from workbench.core.paths import new_run_dir
from workbench.engine.runs import RunDir
from workbench.ui.datasets import DEFAULT_DATASET, folder_source
from workbench.ui.run_follower import RunFollower
from workbench.ui.state import Snapshot, WindowState
from workbench.ui.training_run import TrainingRun


def read_weights(path: Path) -> dict:
    """A checkpoint's weights (safetensors) as CPU tensors."""
    # function-local: safetensors.torch imports torch, which the window loads after painting
    from safetensors.torch import load_file

    return load_file(str(path))


class TrainingSession(QObject):
    training_finished = Signal(object)  # engine.events.Finished, or None after a failure
    newer_checkpoint = Signal(bool)  # the followed run has a checkpoint newer than the one shown

    def __init__(self, state: WindowState, window=None):
        super().__init__(window)
        self.state = state
        self.dialog_parent = window  # message boxes are shown over the window
        self.runner: TrainingRun | None = None
        self.in_process = True  # Training → Train in a separate process
        self.follower = RunFollower(self)
        self.follower.metrics.connect(state.metrics_added)
        self.follower.restarted.connect(self._on_record_rewritten)
        self.follower.checkpoint_saved.connect(self._on_checkpoint_saved)
        self.total_steps = 0
        self._job_meta = None  # (model, config, dataset) of the run being trained
        self._starting = None  # (run dir, resume, plot groups) until the run has started
        self._last_metrics = None
        self._last_ips = 0.0
        self._note = ""  # the run's warnings, shown with its progress
        self.progress = QProgressBar()  # the window puts it in its status bar
        self.progress.setFixedWidth(200)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.status_timer = QTimer(self)
        self.status_timer.setInterval(250)
        self.status_timer.timeout.connect(self._refresh_status)
        self.status_timer.start()

    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.running

    # == training =================================================================================
    def start(self, resume_dir: Path | None = None) -> bool:
        st = self.state
        if self.running or st.model is None:
            return False
        try:
            config, settings = st.edited()
        except WorkbenchError as e:
            QMessageBox.warning(self.dialog_parent, "Check the settings", str(e))
            return False
        name = st.model
        dataset = st.dataset or DEFAULT_DATASET
        st.save_choices()
        resume = bool(resume_dir)
        run_dir = Path(resume_dir) if resume else new_run_dir(name, st.workspace)
        job = {"model": name, "dataset": dataset, "config": C.to_dict(config),
               "settings": C.to_dict(settings), "run_dir": run_dir, "resume": resume}

        self.follower.stop()
        # The run on screen stays until the new one has really started (_on_started): a start
        # that fails (bad data for the model, a broken folder) leaves it where it was.
        self._starting = (run_dir, resume, st.model_infos[name].model_cls.plot_groups)
        t = TrainingRun(job, child_process=self.in_process, parent=self)
        t.started_run.connect(self._on_started)
        t.metrics.connect(self._on_metrics)
        t.grids.connect(st.pictures)
        t.snapshot.connect(self._on_snapshot)
        t.finished_run.connect(self._on_finished)
        t.failed.connect(self._on_failed)
        t.ended.connect(self._on_thread_done)
        self.runner = t
        self._job_meta = (name, config, dataset)
        st.settings.setValue("train_in_process", self.in_process)
        self.progress.setValue(0)
        self.progress.show()
        st.show_status(f"Preparing {name} on {st.datasets.label(dataset)}…")
        t.start()
        st.set_training(True)
        return True

    def continue_run(self) -> None:
        if self.state.opened_run is not None:
            self.start(resume_dir=self.state.opened_run)

    def can_continue(self) -> bool:
        return self.state.opened_run is not None and not self.running \
            and not self.follower.is_live()

    def toggle_pause(self) -> None:
        if not self.running:
            return
        if self.runner.paused:
            self.runner.resume()
            self.state.show_status("Resumed.")
        else:
            self.runner.pause()
            self.state.show_status("Paused. Press Pause again (Ctrl+P) to resume.")
        self.state.set_training(True, self.runner.paused)

    def stop(self) -> None:
        if self.running:
            self.runner.stop()
            self.state.show_status("Stopping after this step…")

    def _on_started(self, ev) -> None:
        run_dir, resume, plot_groups = self._starting
        self.state.set_run(run_dir)
        if not resume:
            self.state.run_reset.emit(plot_groups)
        self.state.set_snapshot(None)
        self.total_steps = ev.total_steps
        self.state.run_started.emit(ev)
        self.progress.setRange(0, max(ev.total_steps, 1))
        self.progress.setValue(ev.start_step)
        self.progress.setFormat("%v / %m")
        self.progress.setToolTip("Optimisation steps done / planned")
        # what the trainer had to say (a batch cut to a small training set) stays in the line
        self._note = "".join(f" · {w}" for w in ev.warnings)
        self.state.show_status(f"Training {ev.model} on {ev.device}, batch {ev.batch_size}, "
                               f"{ev.total_steps} steps ({ev.steps_per_epoch} per epoch)"
                               f"{self._note}")

    def _on_metrics(self, batch) -> None:
        self.state.metrics_added.emit(batch)
        self._last_metrics = batch[-1]
        ips = next((m.images_per_s for m in reversed(batch) if m.phase == "train"), None)
        if ips is not None:
            self._last_ips = ips

    def _refresh_status(self) -> None:
        """Progress and status text at a human pace (each repaint costs the trainer CPU)."""
        last = self._last_metrics
        if last is None or not self.running:
            return
        self._last_metrics = None
        self.progress.setValue(last.step)
        loss = last.values.get("loss")
        loss_txt = f" · loss {loss:.4g}" if loss is not None else ""
        paused = " · paused" if self.runner.paused else ""
        self.state.show_status(f"step {last.step}/{self.total_steps} · epoch {last.epoch + 1}"
                               f" · {self._last_ips:,.0f} img/s{loss_txt}{paused}{self._note}")

    def _on_snapshot(self, message) -> None:
        name, config, dataset = self._job_meta
        self.state.set_snapshot(Snapshot.from_message(message, name, config, dataset))

    def _on_finished(self, ev) -> None:
        if ev.reason == "diverged":
            QMessageBox.warning(self.dialog_parent, "Training diverged", ev.message)
        self.state.show_status(f"{ev.message.capitalize()}. Run saved in {self.state.run_dir}")
        self.training_finished.emit(ev)

    def _on_failed(self, message: str) -> None:
        self.state.show_status("Training failed.")
        QMessageBox.critical(self.dialog_parent, "Training failed", message)
        self.training_finished.emit(None)

    def _on_thread_done(self) -> None:
        self.progress.hide()
        if self.runner is not None:
            self.runner.deleteLater()
        self.runner = None
        self.state.set_training(False)

    # == a run directory from disk ================================================================
    def open_run(self, path: Path) -> bool:
        """Show a run directory: its config, its curves, and samples from its newest checkpoint."""
        st, parent = self.state, self.dialog_parent
        if self.running:
            QMessageBox.information(parent, "genworkbench", "Stop the current training first.")
            return False
        try:
            run = RunDir.open(path)
            config = run.config()
            info = st.model_infos.get(run.model_name)
            if info is None:
                raise WorkbenchError(f"the run's model {run.model_name!r} is not registered")
            ckpts = run.checkpoints()
        except WorkbenchError as e:
            QMessageBox.warning(parent, "Cannot open run", str(e))
            return False
        st.settings.setValue("last_run_parent", str(Path(path).parent))
        st.select_model(run.model_name, config)  # the form shows the run's config
        desc = run.meta.get("dataset", {})
        ds = desc.get("builtin") or desc.get("name")
        if "folder" in desc:  # a run on an image folder: offer that folder again
            ds = st.datasets.add_folder(folder_source(desc))
        if ds is not None:
            st.select_dataset(ds)
        st.run_reset.emit(info.model_cls.plot_groups)
        self.follower.follow(run)
        st.set_run(Path(path), opened=Path(path))
        snapshot = None
        if ckpts:
            try:
                weights = read_weights(ckpts[-1].weights)
            except Exception as e:  # a corrupt newest checkpoint: say so, keep the curves
                QMessageBox.warning(parent, "Checkpoint unreadable",
                                    f"{ckpts[-1].weights} cannot be read: {e}")
            else:
                snapshot = Snapshot(run.model_name, config, run.data_spec(), weights,
                                    ckpts[-1].step, desc or ds)
        st.set_snapshot(snapshot)  # the Training tab decodes a grid from it
        step = ckpts[-1].step if ckpts else 0
        live = " It is being written by another process: its curves follow it live." \
            if self.follower.is_live() else " Training → Continue opened run resumes it."
        st.show_status(f"Opened {path}: {run.model_name}, checkpoint at step {step}." + live)
        return True

    def load_newest_checkpoint(self) -> None:
        """Bring the followed run's newest checkpoint into the sample and latent views."""
        run, st = self.follower.run, self.state
        if run is None:
            st.show_status("Open a run first (File → Open run…).")
            return
        ckpts = run.checkpoints()
        if not ckpts:
            st.show_status("The run has no checkpoint yet.")
            return
        try:
            weights = read_weights(ckpts[-1].weights)
        except Exception as e:  # noqa: BLE001 - being written right now, or corrupt
            st.show_status(f"Cannot read {ckpts[-1].weights.name} yet: {e}")
            return
        st.set_snapshot(Snapshot(run.model_name, run.config(), run.data_spec(), weights,
                                 ckpts[-1].step, run.meta.get("dataset", {})))
        self.newer_checkpoint.emit(False)
        st.show_status(f"Showing {run.path.name} at step {ckpts[-1].step}.")

    def _on_record_rewritten(self) -> None:
        info = self.state.model_infos.get(self.follower.run.model_name)
        if info is not None:  # rewritten from the start: draw it again
            self.state.curves_reset.emit(info.model_cls.plot_groups)

    def _on_checkpoint_saved(self, newest: int) -> None:
        have = self.state.snapshot.step if self.state.snapshot else 0
        self.newer_checkpoint.emit(newest > have)
        if newest > have:
            self.state.show_status(f"{self.follower.run.path.name}: new checkpoint at step "
                                   f"{newest}. Training → Load newest checkpoint (Ctrl+L) "
                                   "shows it.")

    # == shutdown =================================================================================
    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Stop training (it saves a checkpoint) and wait for the runner."""
        if self.runner is not None:
            self.runner.stop()
            self.runner.wait(timeout_ms)
        self.follower.stop()
