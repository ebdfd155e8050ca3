"""A window attached to a run that another process is writing: the curves grow as
metrics.jsonl grows, and a newer checkpoint can be brought into the views on request."""

from __future__ import annotations

import subprocess
import sys

from workbench.cli import main


def test_window_follows_a_run_written_by_another_process(make_window, qtbot, tmp_path):
    run = tmp_path / "live"
    assert main(["train", "ae_mlp", "--dataset", "mnist5k", "--steps", "20", "--batch-size",
                 "32", "--out", str(run), "--set", "hidden=32", "--checkpoint-every", "10"]) == 0
    w = make_window()
    assert w.session.open_run(run)
    w.training_view.plots.redraw()
    before = w.training_view.plots.point_count("train")
    assert before > 0 and w.state.snapshot.step == 20
    assert not w.act_reload_checkpoint.isEnabled()
    # Another process continues the run; the window is not asked to do anything.
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "train", "ae_mlp", "--dataset", "mnist5k",
         "--steps", "60", "--batch-size", "32", "--out", str(run), "--resume",
         "--checkpoint-every", "10"], capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr

    def grown():
        w.training_view.plots.redraw()
        return w.training_view.plots.point_count("train") >= 3 * before

    qtbot.waitUntil(grown, timeout=20_000)
    xs, _ = w.training_view.plots.series[("train", "loss")].curve.getData()
    assert xs[-1] == 60 and list(xs) == sorted(xs)  # every step once, in order
    qtbot.waitUntil(w.act_reload_checkpoint.isEnabled, timeout=20_000)
    w.session.load_newest_checkpoint()
    assert w.state.snapshot.step == 60 and not w.act_reload_checkpoint.isEnabled()
