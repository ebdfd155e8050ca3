"""The workspace: the folder that holds run directories. Listing (with each run's status and best
metrics), renaming and deleting them, for the Runs panel and scripts. Qt-free.

A run directory that cannot be read (a half-written run.json, a stray folder) is still listed,
with `error` saying why, so one bad folder never hides the others.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from workbench.core.errors import WorkbenchError
from workbench.engine.checkpoint import list_checkpoints
from workbench.engine.runs import MetricsTail, is_val_metric

TRASH = ".trash"  # inside the workspace; deleted runs go here unless deleted for good

STATES = ("finished", "stopped", "diverged", "failed", "running", "killed", "incomplete",
          "unreadable")


@dataclass
class RunInfo:
    path: Path
    name: str
    model: str = ""
    dataset: str = ""
    created: str = ""  # ISO-8601 from run.json
    seed: int | None = None
    step: int = 0  # newest logged step
    total: int = 0  # planned steps (0 when unknown)
    checkpoint_step: int | None = None  # newest complete checkpoint
    status: str = "incomplete"  # one of STATES
    message: str = ""
    error: str = ""  # set for an unreadable run: the reason
    best: dict[str, float] = field(default_factory=dict)  # min of each metric over the run
    final: dict[str, float] = field(default_factory=dict)  # last logged value of each metric

    @property
    def readable(self) -> bool:
        return not self.error

    def best_metric(self) -> tuple[str, float] | None:
        """The metric the table shows: min validation loss where there is one."""
        key = preferred_metric(self.best)
        return (key, self.best[key]) if key else None


def preferred_metric(keys) -> str | None:
    keys = list(keys)
    for k in ("val_loss", "val_neg_elbo", "val_recon"):
        if k in keys:
            return k
    vals = [k for k in keys if is_val_metric(k)]
    if vals:
        return vals[0]
    if "loss" in keys:
        return "loss"
    return keys[0] if keys else None


# -- metrics summary, read incrementally ---------------------------------------------------------
class _Summary:
    __slots__ = ("tail", "step", "best", "final")

    def __init__(self, path: Path):
        self.tail = MetricsTail(path)
        self.step = 0
        self.best: dict[str, float] = {}
        self.final: dict[str, float] = {}


_summaries: dict[Path, _Summary] = {}
_lock = threading.Lock()


def metrics_summary(path: Path) -> tuple[int, dict[str, float], dict[str, float]]:
    """(newest step, min of each metric, last value of each metric) of a metrics.jsonl.

    Only the bytes appended since the last call are parsed, so refreshing a list of long runs
    while they train stays cheap; a file that shrank or was replaced is read again."""
    path = Path(path)
    with _lock:
        s = _summaries.get(path)
        if s is None:
            s = _summaries[path] = _Summary(path)
        records, restarted = s.tail.read_new()
        if restarted:
            s.step, s.best, s.final = 0, {}, {}
        for rec in records:
            if isinstance(rec.get("step"), int):
                s.step = max(s.step, rec["step"])
            for k, v in rec.items():
                if k in ("step", "epoch", "time") or not isinstance(v, (int, float)) \
                        or isinstance(v, bool) or not math.isfinite(v):
                    continue
                s.final[k] = float(v)
                s.best[k] = min(s.best.get(k, math.inf), float(v))
        return s.step, dict(s.best), dict(s.final)


# -- listing ----------------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but not ours
    return True


def _planned_steps(meta: dict) -> int:
    train = meta.get("train") or {}
    steps = int(train.get("steps") or 0)
    if steps:
        return steps
    n = int((meta.get("dataset") or {}).get("n_train") or 0)
    bs = int(train.get("batch_size") or 0)
    epochs = int(train.get("epochs") or 0)
    return epochs * (n // bs) if bs else 0


def read_run(path: Path) -> RunInfo:
    """Everything the Runs list shows about one run directory; never raises for a bad folder."""
    path = Path(path)
    info = RunInfo(path=path, name=path.name)
    f = path / "run.json"
    try:
        meta = json.loads(f.read_text("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
        for key in ("model", "config", "dataset"):
            if key not in meta:
                raise ValueError(f"run.json has no {key!r}")
    except FileNotFoundError:
        info.status, info.error = "unreadable", "no run.json (not a run, or killed while starting)"
        return info
    except (OSError, UnicodeDecodeError) as e:
        info.status, info.error = "unreadable", f"run.json cannot be read: {e}"
        return info
    except ValueError as e:
        info.status, info.error = "unreadable", f"run.json is corrupt: {e}"
        return info
    info.model = str(meta["model"])
    ds = meta["dataset"]
    info.dataset = str(ds.get("name", "?")) if isinstance(ds, dict) else str(ds)
    info.created = str(meta.get("created", ""))
    info.seed = meta.get("seed")
    try:
        info.total = _planned_steps(meta)
    except (TypeError, ValueError):
        info.total = 0
    info.step, info.best, info.final = metrics_summary(path / "metrics.jsonl")
    ckpts = list_checkpoints(path / "checkpoints")
    info.checkpoint_step = ckpts[-1].step if ckpts else None

    status = None
    try:
        status = json.loads((path / "status.json").read_text("utf-8"))
    except (OSError, ValueError):
        pass
    if isinstance(status, dict) and isinstance(status.get("state"), str):
        state = status["state"]
        info.total = int(status.get("total") or info.total)
        info.message = str(status.get("message", ""))
        if state == "running":
            here = status.get("host") in (None, socket.gethostname())
            alive = _pid_alive(int(status.get("pid", -1))) if here else True
            info.status = "running" if alive else "killed"
            if not alive:
                at = info.checkpoint_step
                info.message = ("the training process ended without finishing; "
                                + (f"resume continues from step {at}" if at else
                                   "no checkpoint was written"))
        else:
            info.status = {"completed": "finished"}.get(state, state)
    else:  # a run from before status.json, or killed before its first status write
        if info.total and info.checkpoint_step == info.total:
            info.status = "finished"
        else:
            info.status = "incomplete"
    return info


def list_runs(root: Path) -> list[RunInfo]:
    """Run directories directly inside `root`, newest first (by created time, then name).

    Folders that hold neither run.json nor checkpoints/ are not runs and are left out; the trash
    and hidden folders too."""
    root = Path(root)
    out = []
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return out
    except OSError as e:
        raise WorkbenchError(f"cannot list the workspace {root}: {e.strerror or e}") from None
    for e in entries:
        if e.name.startswith(".") or not e.is_dir(follow_symlinks=False):
            continue
        p = Path(e.path)
        if not ((p / "run.json").exists() or (p / "checkpoints").is_dir()):
            continue
        out.append(read_run(p))
    out.sort(key=lambda r: (r.created or _mtime_iso(r.path), r.name), reverse=True)
    return out


def _mtime_iso(p: Path) -> str:
    try:
        return datetime.fromtimestamp(p.stat().st_mtime, timezone.utc).isoformat(
            timespec="seconds")
    except OSError:
        return ""


# -- rename / delete ----------------------------------------------------------------------------------
_BAD_NAME_CHARS = set('/\\\0:*?"<>|')


def rename_run(path: Path, new_name: str) -> Path:
    """Move a run directory to `new_name` in the same folder; refuses collisions and odd names."""
    path = Path(path)
    new_name = new_name.strip()
    if not new_name or new_name in (".", "..") or new_name.startswith(".") \
            or _BAD_NAME_CHARS & set(new_name):
        raise WorkbenchError(f"{new_name!r} is not a usable folder name (no slashes, no leading "
                             "dot, not empty)")
    if not path.is_dir():
        raise WorkbenchError(f"{path} does not exist (renamed or deleted elsewhere?)")
    target = path.parent / new_name
    if target == path:
        return path
    if target.exists():
        raise WorkbenchError(f"a run called {new_name!r} already exists in {path.parent}")
    _refuse_if_running(path, "rename")
    try:
        os.rename(path, target)
    except OSError as e:
        raise WorkbenchError(f"cannot rename {path.name} to {new_name}: {e.strerror or e}") \
            from None
    return target


def delete_run(path: Path, permanently: bool = False) -> Path | None:
    """Move a run into the workspace's .trash folder (returns where it went), or remove it for
    good. The caller asks the user first."""
    path = Path(path)
    if not path.is_dir():
        raise WorkbenchError(f"{path} does not exist (renamed or deleted elsewhere?)")
    _refuse_if_running(path, "delete")
    try:
        if permanently:
            shutil.rmtree(path)
            return None
        trash = path.parent / TRASH
        trash.mkdir(exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = trash / f"{path.name}-{stamp}"
        k = 1
        while target.exists():
            k += 1
            target = trash / f"{path.name}-{stamp}-{k}"
        os.rename(path, target)
        return target
    except OSError as e:
        raise WorkbenchError(f"cannot delete {path}: {e.strerror or e}") from None


def _refuse_if_running(path: Path, what: str) -> None:
    info = read_run(path)
    if info.status == "running":
        raise WorkbenchError(f"{path.name} is still training; stop it before you {what} it")


def metric_series(path: Path, key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric of a run (its metrics.jsonl), for overlaid curves; lines
    without it, torn lines and non-finite values are skipped."""
    steps, values = [], []
    try:
        f = open(Path(path) / "metrics.jsonl", "rb")
    except OSError:
        return steps, values
    with f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            v = rec.get(key) if isinstance(rec, dict) else None
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
                    and isinstance(rec.get("step"), int):
                steps.append(rec["step"])
                values.append(float(v))
    return steps, values
