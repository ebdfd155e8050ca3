"""The run directory (contract in DESIGN.md):

    RUN_DIR/run.json         model, config, dataset, seed, workbench_version, created (+ train)
    RUN_DIR/metrics.jsonl    one JSON object per logged step; append-only
    RUN_DIR/checkpoints/     see checkpoint.py
    RUN_DIR/samples/         sheets written during or after training
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from pathlib import Path

from workbench import __version__
from workbench.core import config as C
from workbench.core.errors import CheckpointError
from workbench.core.atomic import atomic_write_text
from workbench.engine.events import Metrics
from workbench.engine.checkpoint import Checkpoint, list_checkpoints, load_state, load_weights


class RunDir:
    def __init__(self, path: Path, meta: dict):
        self.path = Path(path)
        self.meta = meta

    # -- paths ----------------------------------------------------------------------------------
    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def model_name(self) -> str:
        return self.meta["model"]

    # -- create / open --------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, model: str, config, dataset: dict, seed: int,
               train: dict | None = None) -> "RunDir":
        path = Path(path)
        if (path / "run.json").exists():
            raise CheckpointError(f"{path} already holds a run; pass --resume to continue it, "
                                  "or choose another --out")
        if path.exists() and not path.is_dir():
            raise CheckpointError(f"{path} exists and is not a folder")
        meta = {
            "model": model,
            "config": C.to_dict(config),
            "dataset": dataset,
            "seed": int(seed),
            "workbench_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "train": train or {},
        }
        try:
            path.mkdir(parents=True, exist_ok=True)
            (path / "checkpoints").mkdir(exist_ok=True)
            (path / "samples").mkdir(exist_ok=True)
            atomic_write_text(path / "run.json", json.dumps(meta, indent=2))
        except OSError as e:
            raise CheckpointError(f"cannot create the run directory {path}: {e.strerror}") from None
        return cls(path, meta)

    @classmethod
    def open(cls, path: Path) -> "RunDir":
        path = Path(path)
        f = path / "run.json"
        if not path.is_dir():
            raise CheckpointError(f"{path} is not a run directory (no such folder)")
        if not f.exists():
            raise CheckpointError(f"{path} is not a run directory (no run.json)")
        try:
            meta = json.loads(f.read_text("utf-8"))
            for key in ("model", "config", "dataset"):
                if key not in meta:
                    raise KeyError(key)
            if "spec" not in meta["dataset"] or "name" not in meta["dataset"]:
                raise KeyError("dataset.spec and dataset.name")
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{f} is corrupt or incomplete (missing {e})") from None
        return cls(path, meta)

    def config(self):
        from workbench.models.registry import get_model_info

        info = get_model_info(self.model_name)
        return C.from_dict(info.config_cls, self.meta["config"])

    def data_spec(self):
        from workbench.data.spec import DataSpec

        return DataSpec.from_json(self.meta["dataset"]["spec"])

    # -- metrics --------------------------------------------------------------------------------
    def append_metrics(self, records: list[dict]) -> None:
        if not records:
            return
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, allow_nan=True) + "\n")
            f.flush()

    def read_metrics(self) -> list[dict]:
        """Every logged line; a torn last line (a writer killed mid-line) is skipped."""
        out = []
        if not self.metrics_path.exists():
            return out
        with open(self.metrics_path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def keep_metrics_until(self, step: int) -> None:
        """Drop logged lines past `step` (and a torn last line): a run killed after its last
        checkpoint logged steps that the resumed run will log again."""
        if not self.metrics_path.exists():
            return
        kept, dropped = [], False
        with open(self.metrics_path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    dropped = True
                    continue
                if isinstance(rec, dict) and int(rec.get("step", 0)) <= step:
                    kept.append(line if line.endswith("\n") else line + "\n")
                else:
                    dropped = True
        if dropped:
            atomic_write_text(self.metrics_path, "".join(kept))

    # -- status ---------------------------------------------------------------------------------
    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    def write_status(self, state: str, step: int, total: int, message: str = "") -> None:
        """status.json: "running" (with this process's id, so a reader can tell a live run
        from a killed one), then "completed" / "stopped" / "diverged" when the loop ends."""
        import os
        import socket

        rec = {"state": state, "step": int(step), "total": int(total), "message": message,
               "pid": os.getpid(), "host": socket.gethostname(),
               "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        try:
            atomic_write_text(self.status_path, json.dumps(rec, indent=2))
        except OSError:
            pass  # the status is a convenience for the Runs list; never fail training over it

    # -- checkpoints ----------------------------------------------------------------------------
    def checkpoints(self) -> list[Checkpoint]:
        return list_checkpoints(self.checkpoints_dir)

    def load_model(self, device="cpu", step: int | None = None):
        """The model at its newest readable checkpoint (or `step`), in eval mode.

        A corrupt newest checkpoint is skipped for the one before it; `model.loaded_step` and
        `model.load_warnings` tell what happened.
        """
        from workbench.models.registry import create_model

        model = create_model(self.model_name, data=self.data_spec(), config=self.config())
        model.to(device)
        ckpts = self.checkpoints()
        if step is not None:
            ckpts = [c for c in ckpts if c.step == step]
            if not ckpts:
                raise CheckpointError(f"{self.path} has no checkpoint at step {step}")
        if not ckpts:
            raise CheckpointError(f"{self.path} has no checkpoint yet (train it first)")
        warnings = []
        for ck in reversed(ckpts):
            try:
                load_weights(model, ck.weights)
            except CheckpointError as e:
                warnings.append(str(e))
                continue
            model.eval()
            model.loaded_step = ck.step
            model.load_warnings = warnings
            return model
        raise CheckpointError("no readable checkpoint: " + "; ".join(warnings))

    def resume_point(self, model) -> tuple[Checkpoint, dict, list[str]]:
        """Load the newest complete, readable checkpoint into `model`; return it and its state."""
        warnings = []
        for ck in reversed(self.checkpoints()):
            try:
                state = load_state(ck.state)
                load_weights(model, ck.weights)
            except CheckpointError as e:
                warnings.append(str(e))
                continue
            return ck, state, warnings
        if warnings:
            raise CheckpointError("cannot resume: no readable checkpoint; " + "; ".join(warnings))
        raise CheckpointError(f"cannot resume {self.path}: it has no checkpoint yet")


class MetricsTail:
    """The records appended to a metrics.jsonl since the last `read_new()`, for a reader that
    follows a run another process writes (the window attached to a live run, the Runs list).

    A torn last line waits for its end; a file that shrank or was replaced (a resume trims the
    lines logged past its checkpoint) is read again from the start, and `read_new` says so."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self.inode: int | None = None

    def read_new(self) -> tuple[list[dict], bool]:
        """(new records, restarted): restarted means the file was rewritten and the records
        are the whole file again."""
        try:
            st = self.path.stat()
        except OSError:
            return [], False
        restarted = False
        if self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset):
            self.offset, restarted = 0, True
        self.inode = st.st_ino
        if st.st_size <= self.offset:
            return [], restarted
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read(st.st_size - self.offset)
        end = chunk.rfind(b"\n") + 1
        records = []
        for line in chunk[:end].splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                records.append(rec)
        self.offset += end
        return records, restarted


# == the metric record format, both directions ====================================================
# One metrics.jsonl line holds one phase's values: training means under their own names,
# validation values under VAL_PREFIX + name (e.g. "val_loss"); a non-finite value is null.
VAL_PREFIX = "val_"
RECORD_KEYS = ("step", "epoch", "time")


def is_val_metric(key: str) -> bool:
    return key.startswith(VAL_PREFIX)


def metric_record(step: int, epoch: int, elapsed: float, values: dict[str, float],
                  phase: str = "train") -> dict:
    """The metrics.jsonl line for one phase's values at `step`."""
    prefix = VAL_PREFIX if phase == "val" else ""
    rec = {"step": step, "epoch": epoch, "time": round(elapsed, 4)}
    for k, v in values.items():
        rec[prefix + k] = v if math.isfinite(v) else None
    return rec


def metrics_from_record(rec: dict) -> list[Metrics]:
    """The Metrics events one metrics.jsonl line holds (train and/or val), as the trainer yielded
    them; an unreadable line gives none."""
    if not isinstance(rec.get("step"), int):
        return []
    values = {k: v for k, v in rec.items() if k not in RECORD_KEYS and isinstance(v, (int, float))}
    out = []
    for phase, vs in (("train", {k: v for k, v in values.items() if not is_val_metric(k)}),
                      ("val", {k[len(VAL_PREFIX):]: v for k, v in values.items()
                               if is_val_metric(k)})):
        if vs:
            out.append(Metrics(rec["step"], rec.get("epoch", 0), phase, vs, rec.get("time", 0.0)))
    return out


def now() -> float:
    return time.perf_counter()


# == the training animation's frames: RUN_DIR/samples/frames/step-NNNNNNNN.png ====================
FRAMES_DIR = ("samples", "frames")


def frames_dir(run_path: Path) -> Path:
    return Path(run_path).joinpath(*FRAMES_DIR)


def frame_path(run_path: Path, step: int) -> Path:
    return frames_dir(run_path) / f"step-{int(step):08d}.png"


def list_frames(run_path: Path) -> list[tuple[int, Path]]:
    out = []
    d = frames_dir(run_path)
    if d.is_dir():
        for p in d.glob("step-*.png"):
            try:
                out.append((int(p.stem.split("-", 1)[1]), p))
            except ValueError:
                continue
    return sorted(out)
