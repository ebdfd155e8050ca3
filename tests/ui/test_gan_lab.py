"""The GAN lab panel: its loop (a task, in a worker thread) plays, steps D and G, takes live
config changes from the form, draws snapshots, and stops cleanly."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def panel(qtbot):
    from workbench.ui.panels.gan_lab import GanLabPanel

    p = GanLabPanel(dataset="ring8", model="toy_gan", seed=1)
    qtbot.addWidget(p)
    p.show()
    qtbot.waitUntil(lambda: p.form is not None and p.snapshot is not None, timeout=20_000)
    yield p
    p.shutdown()
    assert not p.running


def weights(panel):
    """Copies of D's and G's weights, read on the worker thread."""
    fut = panel.lab_loop.call(lambda lab: (
        [t.detach().clone() for t in lab.model.D.parameters()],
        [t.detach().clone() for t in lab.model.G.parameters()]))
    return fut.result(timeout=10)


def changed(a, b):
    return any(not torch.equal(x, y) for x, y in zip(a, b))


def test_step_d_moves_only_d_and_step_g_only_g(panel, qtbot):
    import threading

    # the lab lives on the worker thread, never the GUI's
    assert panel.lab_loop.call(lambda lab: threading.get_ident()).result(timeout=10) \
        != threading.get_ident()
    d0, g0 = weights(panel)
    panel.step_d()
    qtbot.waitUntil(lambda: panel.last_state["d_updates"] == 1, timeout=5000)
    assert panel.last_state["step"] == 0  # a D step is not a G step
    d1, g1 = weights(panel)
    assert changed(d0, d1) and not changed(g0, g1)
    panel.step_g()
    qtbot.waitUntil(lambda: panel.last_state["step"] == 1, timeout=5000)
    d2, g2 = weights(panel)
    assert changed(g1, g2) and not changed(d1, d2)
    assert panel.last_state["d_updates"] == 1
    # the step reaches the screen
    qtbot.waitUntil(lambda: panel.drawn_step == 1, timeout=5000)
    assert panel.metric_labels["step"].text().startswith("1 (1 D)")


def test_play_and_pause(panel, qtbot):
    panel.play()
    qtbot.waitUntil(lambda: panel.last_state["step"] >= 20, timeout=15_000)
    qtbot.waitUntil(lambda: panel.drawn_step > 0, timeout=5000)
    panel.pause()
    qtbot.waitUntil(lambda: not panel.last_state["playing"], timeout=5000)
    qtbot.wait(100)
    n = panel.last_state["step"]
    qtbot.wait(300)
    assert panel.last_state["step"] == n
    # every layer got data from the snapshot
    s = panel.snapshot
    assert len(panel.fake_item.data) == len(s.fake) and len(panel.real_item.data) == len(s.real)
    assert panel.d_image.image.shape == s.d_map.shape
    assert len(panel.arrow_item.getData()[0]) == 6 * len(s.arrow_pos)
    assert sum(len(c.getData()[0]) for c in panel.grid_curves) > 0
    assert panel.metric_labels["modes"].text().endswith("/ 8")


def test_form_changes_reach_the_lab_live(panel, qtbot):
    form = panel.form
    combo = form.widget("loss")
    combo.setCurrentIndex(combo.findText("hinge"))
    form.widget("r1_gamma").setValue(2.5)
    loss = lambda: panel.lab_loop.call(lambda lab: (lab.config.loss, lab.config.r1_gamma)) \
        .result(timeout=10)  # noqa: E731
    qtbot.waitUntil(lambda: loss() == ("hinge", 2.5), timeout=5000)
    # stepping still works with the new loss, and the weights were kept (step count too)
    panel.step_both(2)
    qtbot.waitUntil(lambda: panel.last_state["step"] == 2, timeout=5000)
    assert "applied" in panel.status.text()


def test_bad_value_is_reported_not_raised(panel, qtbot):
    panel.set_config(r1_gamma=-1.0)
    qtbot.waitUntil(lambda: "r1_gamma" in panel.status.text(), timeout=5000)
    assert panel.running
    assert panel.form.widget("r1_gamma").value() == 0.0  # the form still shows the lab's value


def test_reset_with_another_dataset_and_layer_switches(panel, qtbot):
    panel.step_both(3)
    qtbot.waitUntil(lambda: panel.last_state["step"] == 3, timeout=5000)
    panel.reset(seed=4, dataset="grid25")
    qtbot.waitUntil(lambda: panel.last_state["step"] == 0
                    and panel.last_state.get("dataset") == "grid25", timeout=10_000)
    qtbot.waitUntil(lambda: panel.metric_labels["modes"].text().endswith("/ 25"), timeout=5000)
    assert panel.dataset_combo.currentText() == "grid25"
    panel.layer_boxes["arrows"].setChecked(False)
    assert not panel.arrow_item.isVisible()
    panel.layer_boxes["d_map"].setChecked(False)
    assert not panel.d_image.isVisible()


def test_shutdown_is_idempotent_and_joins(qtbot):
    from workbench.ui.panels.gan_lab import GanLabPanel

    p = GanLabPanel(dataset="ring8")
    qtbot.addWidget(p)
    p.play()
    qtbot.waitUntil(lambda: p.last_state["step"] > 0, timeout=20_000)
    p.shutdown()
    assert not p.running
    p.shutdown()


def test_class_histogram_shows_collapse(qtbot):
    import numpy as np

    from workbench.analysis.metrics import class_histogram
    from workbench.ui.panels.class_histogram import ClassHistogram

    w = ClassHistogram()
    qtbot.addWidget(w)
    probs = np.eye(10)[[3] * 70 + [8] * 30]  # collapsed onto two digits
    w.set_histogram(class_histogram(probs), step=500)
    x, h = w.bars.opts["x"], w.bars.opts["height"]
    assert list(x) == list(range(10))
    assert h[3] == 70 and h[8] == 30 and h.sum() == 100
    assert "2 / 10" in w.caption.text() and "step 500" in w.caption.text()
    w.set_histogram(np.full(10, 7))  # counts are normalised
    assert np.allclose(w.bars.opts["height"], 10) and "10 / 10" in w.caption.text()
    with pytest.raises(ValueError, match="10 classes"):
        w.set_histogram(np.ones(3))


def test_hidden_panel_skips_drawing_and_catches_up_when_shown(panel, qtbot):
    panel.hide()
    panel.step_g()
    qtbot.waitUntil(lambda: panel.snapshot is not None and panel.snapshot.step == 1, timeout=5000)
    assert panel.drawn_step == 0  # nothing drawn while hidden, and the loop was acked
    panel.step_g()
    qtbot.waitUntil(lambda: panel.snapshot.step == 2, timeout=5000)
    panel.show()
    assert panel.drawn_step == 2


def test_form_hides_the_settings_that_mean_nothing_for_points(panel):
    form = panel.form
    for name in ("arch", "channels", "d_norm", "init", "info_categories", "info_continuous",
                 "info_weight"):  # param(data_kinds=("image",)) in GANConfig
        assert not form.widget(name).isVisible(), name
    for name in ("loss", "hidden", "r1_gamma", "components", "d_input_scale"):
        assert form.widget(name).isVisible(), name
