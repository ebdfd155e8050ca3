"""The experiment view: a form from an experiment's params dataclass, a run in a background task
with progress text, the Result drawn (tables, plots, images), Cancel, failures, and no work left."""

import dataclasses

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST_PCA = {"k": 2, "steps": 60}


@pytest.fixture
def view(qtbot):
    from workbench.ui.panels.experiment_view import ExperimentView

    v = ExperimentView()
    qtbot.addWidget(v)
    v.resize(900, 700)
    v.show()
    yield v
    v.shutdown()
    assert not v.running, "the experiment's work leaked"


def test_empty_state_and_form_from_the_params_dataclass(view):
    from PySide6.QtWidgets import QComboBox, QLineEdit, QSpinBox

    from workbench.ui.forms import LogSpinBox

    assert "Choose an experiment" in view.empty.text() and not view.run_button.isEnabled()
    assert view.set_experiment("semi_supervised", {"draws": 2})
    assert "Semi-supervised" in view.title.text()
    assert "Press Run" in view.empty.text() and view.run_button.isEnabled()
    assert not view.cancel_button.isEnabled() and not view.copy_button.isEnabled()
    assert isinstance(view.form.widget("draws"), QSpinBox)
    draws = view.form.widget("draws")
    assert draws.value() == 2 and (draws.minimum(), draws.maximum()) == (1, 100)  # its limits
    assert "Random draws" in draws.toolTip()  # and its help
    assert isinstance(view.form.widget("l2"), LogSpinBox)
    assert isinstance(view.form.widget("labels_per_class"), QLineEdit)
    view.form.widget("labels_per_class").setText("1, 3")
    values = view.form.value()
    assert values.labels_per_class == (1, 3) and values.model == "ae_conv" and values.draws == 2
    view.set_experiment("js_vs_wasserstein")  # a list of numbers, a choice of two
    assert view.form.widget("thetas").text() == "-1, -0.5, -0.25, 0, 0.25, 0.5, 1"
    view.form.widget("thetas").setText("-2, 1e-1")
    assert view.form.value().thetas == (-2.0, 0.1)
    view.set_experiment("vae_loss_terms")
    assert isinstance(view.form.widget("extent"), QComboBox)


def test_unknown_parameter_or_experiment_is_refused(view):
    from workbench.core.errors import ConfigError

    with pytest.raises(ConfigError, match="no parameter 'bogus'"):
        view.set_experiment("pca_vs_linear_ae", {"bogus": 1})
    with pytest.raises(ConfigError, match="unknown experiment"):
        view.set_experiment("no_such_experiment")


def test_run_draws_tables_plots_and_images(qtbot, view):
    from PySide6.QtWidgets import QApplication

    view.set_experiment("pca_vs_linear_ae", FAST_PCA)
    texts = []
    view.progressed.connect(lambda f, t: texts.append(t))
    with qtbot.waitSignal(view.finished, timeout=120_000) as sig:
        assert view.run()
        assert not view.run_button.isEnabled() and view.cancel_button.isEnabled()
        assert not view.run()  # one at a time
    assert not view.running
    res = sig.args[0]
    assert res is view.result and "k = 2" in res.title
    assert any("step" in t for t in texts), texts  # the experiment's own progress text
    assert view.summary.text() == res.summary and "principal angle" in view.summary.text()
    assert len(view._tables) == len(res.tables) == 2
    table, widget = view._tables[1]  # the angles: one row per code unit
    assert widget.rowCount() == 2 and widget.columnCount() == len(table.columns)
    cell = widget.item(0, 1).text()
    assert cell == f"{table.rows[0][1]:.4g}"  # floats to 4 significant digits
    assert set(view.plots) == {c.plot for c in res.curves}
    assert len(view.image_views) == len(res.images) == 4
    assert all(v.array is not None for v in view.image_views)
    assert view.run_button.isEnabled() and view.copy_button.isEnabled()
    view.copy_tables()
    text = QApplication.clipboard().text()
    assert text == view.table_text()
    lines = text.splitlines()
    assert lines[1].split("\t") == res.tables[0].columns
    assert len(lines[2].split("\t")) == len(res.tables[0].columns)


def test_log_x_curves_get_a_log_axis(qtbot, view):
    view.set_experiment("semi_supervised", {"steps": 3, "labels_per_class": [1, 3],
                                            "draws": 1})
    with qtbot.waitSignal(view.finished, timeout=120_000):
        view.run()
    assert not view.running
    (plot,) = [p.getPlotItem() for p in view.plots.values()]
    assert plot.ctrl.logXCheck.isChecked() and not plot.ctrl.logYCheck.isChecked()
    assert len(plot.listDataItems()) == 2
    assert view._tables[0][1].rowCount() == 2


def test_cancel_stops_the_run(qtbot, view):
    view.set_experiment("pca_vs_linear_ae", {"k": 2, "steps": 1_000_000})
    texts = []
    view.progressed.connect(lambda f, t: texts.append(t))
    view.run()
    qtbot.waitUntil(lambda: any("step" in t for t in texts), timeout=60_000)
    with qtbot.waitSignal(view.cancelled, timeout=30_000):
        view.cancel()
    assert not view.running
    assert view.summary.text() == "Cancelled." and view.result is None
    assert view.run_button.isEnabled() and not view.cancel_button.isEnabled()


def test_a_refused_parameter_fails_with_its_message(qtbot, view):
    view.set_experiment("sparse_codes")
    view.form.widget("threshold").setValue(1.0)  # within the box's limits; check() refuses it
    with qtbot.waitSignal(view.failed, timeout=5_000) as sig:
        assert not view.run()  # refused before any thread starts
    assert "threshold must be between 0 and 1" in sig.args[0] and not view.running
    assert "threshold must be between" in view.summary.text()
    view.set_experiment("semi_supervised")
    view.form.widget("labels_per_class").setText("1, a")
    with qtbot.waitSignal(view.failed, timeout=5_000) as sig:
        assert not view.run()
    assert "labels_per_class" in sig.args[0] and not view.running


def test_shutdown_joins_a_running_experiment(qtbot, view):
    view.set_experiment("pca_vs_linear_ae", {"k": 2, "steps": 1_000_000})
    view.run()
    qtbot.waitUntil(lambda: "step" in view.progress.format(), timeout=60_000)
    view.shutdown()
    assert not view.running and view.summary.text() == "Cancelled."
    assert view.run_button.isEnabled()


def test_every_registered_experiment_round_trips_through_the_form(view):
    """Whatever the fields' kinds (lists of numbers, text, choices, small rates), the form gives
    back exactly the defaults, so Run with an untouched form runs the registered experiment."""
    from workbench.experiments.registry import list_experiments, resolve_params

    infos = list_experiments()
    assert {"pca_vs_linear_ae", "semi_supervised"} <= {i.name for i in infos}
    for info in infos:
        view.set_experiment(info.name)
        assert view.form.value() == resolve_params(info.name), info.name
        quick = resolve_params(info.name, quick=True)  # and values other than the defaults
        view.set_experiment(info.name, dataclasses.asdict(quick))
        assert view.form.value() == quick, info.name


def test_the_wheel_over_a_plot_scrolls_the_page_and_ctrl_wheel_zooms(qtbot, view):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    view.set_experiment("pca_vs_linear_ae", FAST_PCA)
    with qtbot.waitSignal(view.finished, timeout=120_000):
        assert view.run()
    pw = next(iter(view.plots.values()))
    vb = pw.getPlotItem().getViewBox()
    before = vb.viewRange()

    def wheel(modifiers):
        pos = QPointF(pw.viewport().rect().center())
        ev = QWheelEvent(pos, pw.viewport().mapToGlobal(pos), QPoint(0, 0), QPoint(0, -120),
                         Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(pw.viewport(), ev)

    wheel(Qt.KeyboardModifier.NoModifier)
    assert vb.viewRange() == before  # the page scrolled, not the plot
    wheel(Qt.KeyboardModifier.ControlModifier)
    assert vb.viewRange() != before
