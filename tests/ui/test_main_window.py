"""The main window drives a real (tiny) training run: curves get points, grids appear,
pause/stop work, and no background work is left behind."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

from workbench.engine.trainer import TrainSettings


def _short(window, steps=30, **kw):
    window.setup.train_form.set_config(TrainSettings(steps=steps, epochs=0, batch_size=64,
                                                     log_every=2, sample_every_s=0.0, **kw))


def test_window_lists_models_and_preselects_classic_vae(make_window):
    w = make_window()
    names = [w.setup.model_list.item(i).data(Qt.ItemDataRole.UserRole)
             for i in range(w.setup.model_list.count())]
    assert {"ae_mlp", "vae_mlp", "vae_conv"} <= set(names)
    assert w.state.model == "vae_mlp"
    assert w.setup.dataset_combo.currentData() == "mnist5k"
    item = w.setup.model_list.currentItem()
    assert "Kingma" in item.text()  # the one-line description is shown
    form = w.setup.model_form.value()
    assert form.hidden == (400,) and form.latent_dim == 20 and form.likelihood == "bce"


def test_window_appears_before_backend(make_window):
    w = make_window(load_backend=False)
    assert w.isVisible()
    assert not w.setup.train_button.isEnabled()  # nothing to train until the models are loaded
    w.load_backend_blocking()
    assert w.setup.train_button.isEnabled()


def test_train_from_window_curves_and_grids(make_window, qtbot, tmp_path):
    w = make_window()
    _short(w, steps=30)
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000) as blocker:
        assert w.session.start()
        assert not w.setup.train_button.isEnabled() and w.setup.stop_button.isEnabled()
    ev = blocker.args[0]
    assert ev.reason == "completed" and ev.step == 30
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)
    view = w.training_view
    view.plots.redraw()
    assert view.plots.point_count("train") == 4 * 15  # loss, recon, kl, elbo every 2 steps
    assert view.plots.point_count("val") == 5  # the same and iwae, once
    xs, ys = view.plots.series[("train", "loss")].curve.getData()
    assert len(xs) == 15 and xs[-1] == 30 and ys[-1] < ys[0]
    assert view.samples_view.array is not None and view.recon_view.array is not None
    assert w.state.run_dir.parent == tmp_path / "runs"
    assert (w.state.run_dir / "run.json").exists()
    assert json.loads((w.state.run_dir / "run.json").read_text())["model"] == "vae_mlp"
    assert w.setup.train_button.isEnabled() and not w.setup.stop_button.isEnabled()


def test_pause_resume_and_stop(make_window, qtbot):
    w = make_window()
    _short(w, steps=100_000)
    assert w.session.start()
    qtbot.waitUntil(lambda: w.training_view.plots.point_count("train") > 0, timeout=30_000)
    w.session.toggle_pause()
    assert w.session.runner.paused and w.setup.pause_button.text() == "Resume"
    qtbot.wait(300)
    plots = w.training_view.plots
    plots.redraw()
    n = plots.point_count("train")
    qtbot.wait(400)
    plots.redraw()
    assert plots.point_count("train") <= n + 3  # at most one in-flight batch after pausing
    w.session.toggle_pause()
    assert not w.session.runner.paused
    with qtbot.waitSignal(w.session.training_finished, timeout=30_000) as blocker:
        w.session.stop()
    assert blocker.args[0].reason == "stopped"
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)
    ckpts = list((w.state.run_dir / "checkpoints").glob("*.safetensors"))
    assert ckpts, "stopping must save a checkpoint"


def test_stop_while_paused(make_window, qtbot):
    w = make_window()
    _short(w, steps=100_000)
    w.session.start()
    qtbot.waitUntil(lambda: w.training_view.plots.point_count("train") > 0, timeout=30_000)
    w.session.toggle_pause()
    with qtbot.waitSignal(w.session.training_finished, timeout=30_000):
        w.session.stop()
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)


def test_close_while_training_joins_thread(make_window, qtbot):
    w = make_window()
    _short(w, steps=100_000)
    w.session.start()
    qtbot.waitUntil(lambda: w.training_view.plots.point_count("train") > 0, timeout=30_000)
    run = w.session.runner
    w.close()
    assert not run.running


def test_changed_hyperparameter_and_other_model(make_window, qtbot):
    w = make_window()
    w.setup.model_form.widget("latent_dim").setValue(2)
    w.setup.model_form.widget("beta").setValue(4.0)
    w.state.select_model("ae_mlp")
    assert w.state.model == "ae_mlp"
    _short(w, steps=6)
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000) as blocker:
        w.session.start()
    assert blocker.args[0].reason == "completed"
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)
    assert json.loads((w.state.run_dir / "run.json").read_text())["model"] == "ae_mlp"
    assert set(w.training_view.plots.plots) == {"Reconstruction loss"}
    w.state.select_model("vae_mlp")  # the edited VAE config was remembered
    cfg = w.setup.model_form.value()
    assert cfg.latent_dim == 2 and cfg.beta == 4.0
    _short(w, steps=6)
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000):
        w.session.start()
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)
    assert json.loads((w.state.run_dir / "run.json").read_text())["config"]["latent_dim"] == 2


def test_invalid_form_value_is_refused(make_window, message_boxes):
    w = make_window()
    w.setup.model_form.widget("hidden").setText("0,100")  # a zero-width layer: refused, said why
    _short(w, steps=4)
    assert not w.session.start()
    assert message_boxes and "hidden" in message_boxes[0][1]
    assert w.session.runner is None


def test_divergence_is_reported(make_window, qtbot, monkeypatch, message_boxes):
    from workbench.models.autoencoder import AutoEncoder

    real_step = AutoEncoder.train_step
    calls = []

    def exploding_step(self, x, y=None):  # finite for 5 steps, then NaN
        calls.append(1)
        out = real_step(self, x, y)
        return {"loss": float("nan")} if len(calls) > 5 else out

    monkeypatch.setattr(AutoEncoder, "train_step", exploding_step)
    w = make_window(in_process=False)  # the patch lives in this process
    w.state.select_model("ae_mlp")
    _short(w, steps=200)
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000) as blocker:
        w.session.start()
    ev = blocker.args[0]
    assert ev.reason == "diverged" and ev.step == 5
    assert message_boxes and "diverged" in message_boxes[0][1] and "step 6" in message_boxes[0][1]
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)


def test_settings_remembered(make_window, settings, qtbot):
    w = make_window()
    w.state.select_model("vae_conv")
    w.setup.train_form.widget("batch_size").setValue(32)
    w.close()
    w2 = make_window()
    assert w2.state.model == "vae_conv"
    assert w2.setup.train_form.value().batch_size == 32


def test_resample_from_snapshot_uses_qasync_job(make_window, qtbot):
    w = make_window()
    _short(w, steps=10)
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000):
        w.session.start()
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)
    assert w.state.snapshot is not None and w.act_resample.isEnabled()
    before = w.training_view.samples_view.array.copy()
    w.training_view.resample()
    qtbot.waitUntil(lambda: not w.training_view.decode_jobs.busy, timeout=10_000)
    after = w.training_view.samples_view.array
    assert after.shape == before.shape and (after != before).any()


def test_open_run_shows_curves_and_continue(make_window, qtbot, tmp_path):
    from workbench.cli import main

    run = tmp_path / "cli-run"
    assert main(["train", "vae_mlp", "--dataset", "mnist5k", "--steps", "20", "--out",
                 str(run), "--batch-size", "64"]) == 0
    w = make_window()
    assert w.session.open_run(run)
    assert w.state.model == "vae_mlp"
    view = w.training_view
    view.plots.redraw()
    assert view.plots.point_count("train") > 0 and view.plots.point_count("val") > 0
    qtbot.waitUntil(lambda: view.samples_view.array is not None, timeout=10_000)
    # no training grids in an opened run: held-out images and their copies are decoded once
    assert view.recon_view.array is not None
    assert w.act_continue.isEnabled()
    w.setup.train_form.set_config(TrainSettings(steps=30, epochs=0, batch_size=64, log_every=5,
                                                sample_every_s=0.0))
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000) as blocker:
        w.session.continue_run()
    assert blocker.args[0].step == 30
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)


def test_open_bad_run_dir_gives_message(make_window, tmp_path, message_boxes):
    w = make_window()
    assert not w.session.open_run(tmp_path / "nope")
    assert message_boxes and "not a run directory" in message_boxes[0][1]


@pytest.mark.parametrize("in_process", [True, False], ids=["process", "thread"])
def test_both_runners_train_and_stop(make_window, qtbot, in_process):
    w = make_window(in_process=in_process)
    _short(w, steps=100_000)
    assert w.session.start()
    assert w.session.runner.child_process is in_process
    qtbot.waitUntil(lambda: w.training_view.plots.point_count("train") > 0, timeout=60_000)
    with qtbot.waitSignal(w.session.training_finished, timeout=30_000) as blocker:
        w.session.stop()
    assert blocker.args[0].reason == "stopped"
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)
    assert list((w.state.run_dir / "checkpoints").glob("*.state.pt"))


def test_crash_of_training_process_leaves_window_up(make_window, qtbot, message_boxes):
    w = make_window(in_process=True)
    _short(w, steps=100_000)
    w.session.start()
    qtbot.waitUntil(lambda: w.training_view.plots.point_count("train") > 0, timeout=60_000)
    with qtbot.waitSignal(w.session.training_finished, timeout=30_000) as blocker:
        w.session.runner.process.kill()  # as if a kernel segfaulted or the OOM killer struck
    assert blocker.args[0] is None
    assert message_boxes and "ended unexpectedly" in message_boxes[-1][1]
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)
    assert w.isVisible() and w.setup.train_button.isEnabled()
    _short(w, steps=4)  # and the next run works
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000) as blocker:
        w.session.start()
    assert blocker.args[0].reason == "completed"
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)


def test_empty_views_say_what_a_model_lacks(make_window):
    w = make_window()
    w.state.select_model("ae_mlp")
    assert "no prior" in w.training_view.samples_view.text()
    assert "held-out" in w.training_view.recon_view.text()
    w.state.select_model("vae_mlp")
    assert "Samples from the prior" in w.training_view.samples_view.text()


def test_gan_lab_and_dirac_tabs_are_built_on_first_view_and_stopped_on_close(make_window, qtbot):
    w = make_window()
    # nothing started before it is looked at
    assert w.panels.built("gan_lab") is None and w.panels.built("dirac") is None
    w.panels.setCurrentWidget(w.panels.page("gan_lab"))
    lab = w.panels.built("gan_lab")
    assert lab is not None and lab.running
    lab.step_both(3)
    qtbot.waitUntil(lambda: lab.last_state["step"] >= 3, timeout=20_000)
    w.panels.setCurrentWidget(w.panels.page("dirac"))
    assert w.panels.built("dirac") is not None
    w.close()
    assert not lab.running


def test_gan_training_shows_the_class_histogram(make_window, qtbot, monkeypatch, tmp_path):
    import workbench.analysis.metrics as M

    real = M.digit_classifier  # a small classifier in a temporary cache: seconds, not minutes
    monkeypatch.setattr(M, "digit_classifier", lambda data, **kw: real(
        data, epochs=1, n_train=600, cache=tmp_path / "cache"))
    w = make_window()
    w.state.select_model("gan_mlp")
    assert w.training_view.grid_boxes["Classes of the samples"].isVisible()
    assert not w.training_view.grid_boxes["Reconstructions"].isVisible()
    w.training_view._hist_time = -1e9
    w.setup.train_form.set_config(TrainSettings(steps=400, epochs=0, batch_size=64, log_every=10,
                                                sample_every_s=0.5))
    assert w.session.start()
    qtbot.waitUntil(lambda: w.training_view.class_hist.histogram is not None, timeout=120_000)
    w.session.stop()
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=30_000)
    h = w.training_view.class_hist.histogram
    assert h.shape == (10,) and abs(h.sum() - 1) < 1e-6
    assert "Classes covered" in w.training_view.class_hist.caption.text()


def test_the_window_paints_before_torch_loads():
    """Nothing the window imports at start-up imports torch: it is loaded after the first paint
    (MainWindow.load_backend)."""
    code = ("import sys, workbench.ui.app, workbench.ui.main_window; "
            "print(sorted(m for m in ('torch', 'safetensors') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_quitting_while_training_asks_first(make_window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    w = make_window()
    asked = []
    answer = QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **kw: asked.append(a[1]) or answer)
    assert w.quit()  # nothing trains: no question
    assert asked == []
    w = make_window()
    _short(w, steps=100_000)
    w.session.start()
    qtbot.waitUntil(lambda: w.training_view.plots.point_count("train") > 0, timeout=30_000)
    assert w.windowTitle() == f"{w.state.run_dir.name} — genworkbench"  # the run on screen
    assert not w.quit() and asked == ["Quit while training?"] and w.session.running
    answer = QMessageBox.StandardButton.Yes
    assert w.quit() and not w.session.running


def test_a_curve_enters_the_legend_with_its_first_point(qtbot):
    """The VAE's iwae is only validated: no empty "iwae (train)" entry in the legend."""
    from types import SimpleNamespace

    from workbench.ui.panels.loss_plots import LossPlots

    plots = LossPlots()
    qtbot.addWidget(plots)
    plots.setup((("Bound", ("elbo", "iwae")),))
    plots.add([SimpleNamespace(step=1, phase="train", values={"elbo": 2.0}),
               SimpleNamespace(step=1, phase="val", values={"elbo": 2.1, "iwae": 2.0})])
    plots.redraw()
    labels = [label.text for _, label in plots.plots["Bound"].legend.items]
    assert labels == ["elbo (train)", "elbo (val)", "iwae (val)"]


def test_a_failed_start_leaves_the_previous_run_on_screen(make_window, qtbot, message_boxes):
    w = make_window(in_process=False)
    _short(w, steps=4)
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000):
        assert w.session.start()
    qtbot.waitUntil(lambda: not w.session.running, timeout=30_000)
    before, points = w.state.run_dir, w.training_view.plots.point_count("train")
    assert before is not None and points > 0
    w.state.select_model("ae_mlp")
    w.state.select_dataset("ring8")  # the form's BCE likelihood is refused for 2-D points
    _short(w, steps=4)
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000) as failed:
        assert w.session.start()
    assert failed.args == [None] and message_boxes[-1][0] == "critical"
    qtbot.waitUntil(lambda: not w.session.running, timeout=30_000)
    assert w.state.run_dir == before  # the run on screen is still the one that trained
    assert w.training_view.plots.point_count("train") == points


def test_help_lists_the_keyboard_shortcuts_from_the_menus(make_window, message_boxes):
    from workbench.ui.help import shortcuts, show_shortcuts

    w = make_window(load_backend=False)
    rows = shortcuts(w)
    assert ("File", "Open run…", "Ctrl+O") in rows
    assert any(c == "Lessons…" and k == "F1" for _, c, k in rows)
    show_shortcuts(w)
    kind, text = message_boxes[-1]
    assert kind == "information" and "Ctrl+O" in text and "Open run…" in text
