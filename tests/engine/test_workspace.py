"""The workspace: listing runs with status and best metrics, unreadable folders, rename, delete."""

from __future__ import annotations

import json
import math

import pytest

from workbench.core import config as C
from workbench.core.errors import WorkbenchError
from workbench.models.registry import get_config
from workbench.engine.runs import RunDir
from workbench.engine.trainer import Trainer, TrainSettings
from workbench.engine.workspace import (delete_run, list_runs, metrics_summary, read_run,
                                        rename_run)


def train(data, out, steps=4, stop_after=None, **kw):
    s = C.replace(TrainSettings(), batch_size=16, steps=steps, epochs=0, device="cpu",
                  log_every=1, checkpoint_every=0, sample_every_s=0.0, **kw)
    t = Trainer("ae_mlp", data, s, config=C.replace(get_config("ae_mlp"), hidden=(32,)),
                run_dir=out)
    for ev in t.fit():
        if stop_after is not None and getattr(ev, "step", 0) >= stop_after:
            t.stop()
    return t


def test_list_runs_status_and_metrics(tiny_mnist, tmp_path):
    ws = tmp_path / "ws"
    train(tiny_mnist, ws / "done", steps=4)
    train(tiny_mnist, ws / "halted", steps=8, stop_after=2)
    runs = {r.name: r for r in list_runs(ws)}
    assert set(runs) == {"done", "halted"}
    done, halted = runs["done"], runs["halted"]
    assert (done.model, done.dataset, done.status, done.step, done.total) == \
        ("ae_mlp", "mnist5k", "finished", 4, 4)
    assert done.checkpoint_step == 4 and done.created
    assert halted.status == "stopped" and halted.checkpoint_step == halted.step < 8
    # best = min over the logged lines, final = the last one, both from metrics.jsonl
    recs = RunDir.open(ws / "done").read_metrics()
    losses = [r["loss"] for r in recs if "loss" in r]
    assert done.best["loss"] == min(losses) and done.final["loss"] == losses[-1]
    key, value = done.best_metric()
    assert key == "val_loss" and value == min(r["val_loss"] for r in recs if "val_loss" in r)


def test_unreadable_and_killed_runs_are_listed_not_fatal(tiny_mnist, tmp_path):
    ws = tmp_path / "ws"
    train(tiny_mnist, ws / "good", steps=2)
    (ws / "torn").mkdir()
    (ws / "torn" / "run.json").write_text('{"model": "ae_ml')  # half-written
    (ws / "nojson" / "checkpoints").mkdir(parents=True)
    (ws / "not-a-run").mkdir()  # no run.json, no checkpoints/: left out
    (ws / ".trash").mkdir()
    # a run whose process died: status "running" with a pid that no longer exists
    train(tiny_mnist, ws / "killed", steps=2)
    st = json.loads((ws / "killed" / "status.json").read_text())
    st.update(state="running", pid=2**22 + 12345)
    (ws / "killed" / "status.json").write_text(json.dumps(st))
    runs = {r.name: r for r in list_runs(ws)}
    assert set(runs) == {"good", "torn", "nojson", "killed"}
    assert runs["torn"].status == "unreadable" and "corrupt" in runs["torn"].error
    assert "no run.json" in runs["nojson"].error
    assert runs["killed"].status == "killed" and "resume continues from step 2" in \
        runs["killed"].message
    assert runs["good"].readable and runs["good"].status == "finished"
    assert list_runs(tmp_path / "missing") == []


def test_metrics_summary_reads_only_what_was_appended(tmp_path):
    f = tmp_path / "metrics.jsonl"
    f.write_text('{"step": 1, "epoch": 0, "time": 0.1, "loss": 5.0}\n'
                 '{"step": 2, "epoch": 0, "time": 0.2, "loss": 3.0}\n{"step": 3, "lo')
    assert metrics_summary(f) == (2, {"loss": 3.0}, {"loss": 3.0})
    with open(f, "a") as fh:  # the torn line is completed, and one more with a NaN (null)
        fh.write('ss": 4.0}\n{"step": 4, "loss": null, "val_loss": 2.5}\n')
    step, best, final = metrics_summary(f)
    assert step == 4 and best == {"loss": 3.0, "val_loss": 2.5}
    assert final == {"loss": 4.0, "val_loss": 2.5}
    f.write_text('{"step": 1, "loss": 9.0}\n')  # rewritten (shorter): read again
    assert metrics_summary(f) == (1, {"loss": 9.0}, {"loss": 9.0})
    assert not math.isnan(sum(best.values()))


def test_rename_and_delete(tiny_mnist, tmp_path):
    ws = tmp_path / "ws"
    train(tiny_mnist, ws / "a", steps=2)
    train(tiny_mnist, ws / "b", steps=2)
    with pytest.raises(WorkbenchError, match="already exists"):
        rename_run(ws / "a", "b")
    for bad in ("", "x/y", ".hidden", ".."):
        with pytest.raises(WorkbenchError, match="not a usable folder name"):
            rename_run(ws / "a", bad)
    new = rename_run(ws / "a", "baseline")
    assert new == ws / "baseline" and not (ws / "a").exists()
    assert read_run(new).status == "finished" and RunDir.open(new).checkpoints()

    trashed = delete_run(ws / "b")
    assert trashed.parent == ws / ".trash" and (trashed / "run.json").exists()
    assert [r.name for r in list_runs(ws)] == ["baseline"]
    assert delete_run(ws / "baseline", permanently=True) is None
    assert list_runs(ws) == []
    with pytest.raises(WorkbenchError, match="does not exist"):
        delete_run(ws / "baseline")


def test_a_running_run_is_not_renamed(tiny_mnist, tmp_path):
    ws = tmp_path / "ws"
    s = C.replace(TrainSettings(), batch_size=16, steps=50, epochs=0, device="cpu",
                  checkpoint_every=0, sample_every_s=0.0)
    t = Trainer("ae_mlp", tiny_mnist, s, config=C.replace(get_config("ae_mlp"), hidden=(32,)),
                run_dir=ws / "live")
    it = t.fit()
    next(it), next(it)  # Started, then the loop has written status "running" for this process
    assert read_run(ws / "live").status == "running"
    with pytest.raises(WorkbenchError, match="still training"):
        rename_run(ws / "live", "other")
    t.stop()
    list(it)
    assert read_run(ws / "live").status == "stopped"
