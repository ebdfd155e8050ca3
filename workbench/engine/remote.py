"""Training in a child process, driven over two pipes (Qt-free: the child never imports Qt).

The GUI prefers this to a thread: the child has its own interpreter, so repainting plots never
competes with the training loop for the GIL, and a crash in training (a segfault in a kernel, an
out-of-memory kill) ends the child, not the window.

Messages child → parent, each a (kind, payload) tuple:
    ("started", Started) ("metrics", [Metrics, ...]) ("grids", {step, samples, reconstructions})
    ("snapshot", {step, state, spec}) ("checkpoint", CheckpointSaved) ("finished", Finished)
    ("failed", message)
Commands parent → child: "pause", "resume", "stop".
"""

from __future__ import annotations

import time
import traceback

EMIT_INTERVAL_S = 0.05  # at most ~20 metric messages per second


def pictures(ev) -> dict:
    """Sample/reconstruction grids as uint8 pictures (inputs on odd rows, copies below)."""
    import numpy as np

    from workbench.analysis.sheets import sheet_array

    out = {"step": ev.step, "samples": None, "reconstructions": None}
    if ev.samples is not None:
        out["samples"] = sheet_array(ev.samples, nrow=8)
    if ev.reconstructions is not None:
        if ev.inputs.ndim == 2:
            out["reconstructions"] = sheet_array(ev.reconstructions)
        else:
            # each copy right under its original: rows as wide as the first, the last one
            # padded with blank cells (a validation set smaller than a row stays aligned)
            cols = min(8, len(ev.inputs))
            rows = []
            for a in range(0, len(ev.inputs), cols):
                for part in (ev.inputs[a:a + cols], ev.reconstructions[a:a + cols]):
                    blank = np.ones((cols - len(part), *part.shape[1:]), part.dtype)
                    rows.append(np.concatenate([part, blank]))
            out["reconstructions"] = sheet_array(np.concatenate(rows), nrow=cols)
    return out


def weights_copy(model) -> dict:
    """The weights as numpy arrays: plain bytes through a pipe. (Tensors would travel as
    shared-memory handles that vanish when the training process exits.)"""
    return {k: v.detach().to("cpu", copy=True).numpy() for k, v in model.state_dict().items()}


def make_trainer(job: dict):
    """Build the Trainer a job describes: model, dataset name, config and settings as dicts."""
    from workbench.core import config as C
    from workbench.models.registry import get_model_info
    from workbench.data import load_dataset
    from workbench.engine.trainer import Trainer, TrainSettings

    info = get_model_info(job["model"])
    config = C.from_dict(info.config_cls, job["config"])
    settings = C.from_dict(TrainSettings, job["settings"])
    return Trainer(job["model"], load_dataset(job["dataset"]), settings, config=config,
                   run_dir=job["run_dir"], resume=job.get("resume", False))


def relay(trainer, send, poll_command, wait_command) -> None:
    """Run `trainer.fit()`, sending its events (metrics batched); obey pause/resume/stop."""
    from workbench.engine.events import (CheckpointSaved, Finished, Metrics, Samples,
                                         Started)

    pending: list = []
    last_emit = 0.0
    for ev in trainer.fit():
        cmd = poll_command()
        while cmd is not None:
            if cmd == "stop":
                trainer.stop()
            elif cmd == "pause":
                if pending:
                    send(("metrics", pending))
                    pending = []
                cmd = wait_command()  # block until resume or stop
                continue
            cmd = poll_command()
        if isinstance(ev, Metrics):
            pending.append(ev)
            now = time.perf_counter()
            if now - last_emit >= EMIT_INTERVAL_S:
                send(("metrics", pending))
                pending, last_emit = [], now
            continue
        if pending:
            send(("metrics", pending))
            pending, last_emit = [], time.perf_counter()
        if isinstance(ev, Started):
            send(("started", ev))
        elif isinstance(ev, Samples):
            send(("grids", pictures(ev)))
            send(("snapshot", {"step": ev.step, "state": weights_copy(trainer.model),
                               "spec": trainer.data.spec}))
        elif isinstance(ev, CheckpointSaved):
            send(("checkpoint", ev))
        elif isinstance(ev, Finished):
            send(("finished", ev))
    if pending:
        send(("metrics", pending))


def child_main(job: dict, events, commands) -> None:
    """Entry point of the training process."""
    from workbench.core.errors import WorkbenchError

    def poll():
        return commands.recv() if commands.poll() else None

    def wait():
        return commands.recv()

    try:
        relay(make_trainer(job), events.send, poll, wait)
    except WorkbenchError as e:
        events.send(("failed", str(e)))
    except Exception:
        events.send(("failed", traceback.format_exc()))
    finally:
        events.close()
