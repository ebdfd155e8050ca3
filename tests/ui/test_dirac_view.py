"""The Dirac-GAN panel: dragging the start point redraws the trajectories, the sliders move the
eigenvalues, and the arrows are a handful of segment curves."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.analysis import dirac


@pytest.fixture
def panel(qtbot):
    from workbench.ui.panels.dirac_view import DiracPanel

    p = DiracPanel()
    qtbot.addWidget(p)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.timer.stop()


def test_dragging_the_start_point_redraws_the_trajectories(panel, qtbot):
    panel.show_all()
    before = {m: panel.curves[m].getData()[0].copy() for m in panel.curves}
    panel.set_start(-1.5, 0.5)  # what a drag of the TargetItem emits
    for m, curve in panel.curves.items():
        x, y = curve.getData()
        assert (x[0], y[0]) == pytest.approx((-1.5, 0.5))
        assert not np.array_equal(x, before[m][: len(x)])
        # the drawn path is dirac.simulate's from the new start
        ref = dirac.simulate(method=m, lr=0.2, steps=500, start=(-1.5, 0.5))
        assert np.allclose(np.c_[x, y], ref[: len(x)])


def test_mouse_drag_moves_the_start_point(panel, qtbot):
    from PySide6.QtCore import QPointF, Qt

    vb = panel.field_plot.getPlotItem().getViewBox()
    view = panel.field_plot
    to_px = lambda x, y: view.mapFromScene(vb.mapViewToScene(QPointF(x, y)))  # noqa: E731
    a, b = to_px(1.0, 1.0), to_px(-0.5, 1.5)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=a)
    for t in np.linspace(0, 1, 6)[1:]:
        qtbot.mouseMove(view.viewport(), pos=a + (b - a) * float(t))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=b)
    th, ps = panel.start_point()
    assert (th, ps) != (1.0, 1.0)
    x, y = panel.curves["alternating"].getData()
    assert (x[0], y[0]) == pytest.approx((th, ps))


def test_gamma_changes_the_eigenvalue_labels(panel):
    assert "+ 0.500i" in panel.eig_label.text() and "orbits" in panel.eig_label.text()
    panel.select(reg="r1")
    panel.gamma_slider.setValue(100)
    text_1 = panel.eig_label.text()
    assert "−0.500" in text_1 and "converges" in text_1
    assert np.allclose(panel.eigenvalues["J"], [-0.5, -0.5], atol=1e-6)
    panel.gamma_slider.setValue(40)
    assert panel.eig_label.text() != text_1
    assert np.allclose(panel.eigenvalues["J"], dirac.eigenvalues(reg="r1", gamma=0.4))
    # the complex-plane markers follow
    x, y = panel.eig_items["J"].getData()
    assert np.allclose(np.sort(x + 1j * y), np.sort(dirac.eigenvalues(reg="r1", gamma=0.4)))


def test_consensus_and_discrete_update_markers(panel):
    panel.select(reg="consensus")
    panel.gamma_slider.setValue(100)
    assert np.allclose(panel.eigenvalues["J"], [-0.25 - 0.5j, -0.25 + 0.5j])
    x, y = panel.eig_items["simultaneous"].getData()
    assert np.all(np.hypot(x, y) < 1)  # inside the unit circle: converges
    panel.select(reg=None)
    x, y = panel.eig_items["simultaneous"].getData()
    assert np.all(np.hypot(x, y) > 1)  # plain GAN: outside, spirals out


def test_wgan_gp_has_no_linearisation_and_sigma_only_for_noise(panel):
    panel.select(loss="wgan", reg="wgan_gp")
    assert "not defined" in panel.eig_label.text()
    assert not panel.sigma_slider.isEnabled()
    panel.select(reg="instance_noise")
    assert panel.sigma_slider.isEnabled() and not panel.gamma_slider.isEnabled()


def test_arrows_are_few_items_and_the_animation_reveals_the_path(panel, qtbot):
    assert len(panel.band_curves) == 6
    n_pts = sum(len(c.getData()[0]) for c in panel.band_curves)
    assert n_pts == 21 * 21 * 6  # shaft + two head strokes per arrow, as point pairs
    panel.replay()
    qtbot.waitUntil(lambda: len(panel.curves["simultaneous"].getData()[0]) > 20, timeout=3000)
    panel.play_button.setChecked(True)  # pause
    n = len(panel.curves["simultaneous"].getData()[0])
    qtbot.wait(150)
    assert len(panel.curves["simultaneous"].getData()[0]) == n
