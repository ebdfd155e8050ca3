"""The Metrics tab (columns per run, background evaluation) and the anomaly / denoising panels,
on tiny models trained for a few steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.engine.trainer import Trainer, TrainSettings
from workbench.ui.state import Snapshot


def _snapshot(model_name: str, steps: int = 30, run_dir=None, **config):
    from workbench.core import config as C
    from workbench.models.registry import get_config
    from workbench.data import load_dataset

    torch.manual_seed(0)
    cfg = C.replace(get_config(model_name), **config)
    trainer = Trainer(model_name, load_dataset("mnist5k"),
                      TrainSettings(steps=steps, epochs=0, batch_size=64, sample_every_s=0.0,
                                    checkpoint_every=0, device="cpu"), config=cfg,
                      run_dir=run_dir)
    for _ in trainer.fit():
        pass
    return Snapshot(model_name, cfg, trainer.data.spec,
                    {k: v.detach().cpu().numpy().copy()
                     for k, v in trainer.model.state_dict().items()}, steps)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "ae"
    snap = _snapshot("ae_mlp", run_dir=path, hidden=(32,), latent_dim=4)
    return path, snap


@pytest.fixture(scope="module")
def dae_snapshot():
    return _snapshot("ae_denoising", hidden=(32,), latent_dim=8, corruption="mask",
                     noise_level=0.3)


@pytest.fixture(scope="module")
def gan_snapshot():
    return _snapshot("gan_mlp", steps=3, latent_dim=6, hidden=(32,))


class Source:
    def __init__(self, snap=None, dataset="mnist5k"):
        self.snap, self.dataset = snap, dataset

    def __call__(self):
        return {"snapshot": self.snap, "dataset": self.dataset, "run_dir": None}


# == metrics ==========================================================================================
@pytest.fixture
def metrics_panel(qtbot, qasync_loop):
    from workbench.ui.panels.metrics_panel import MetricsPanel

    src = Source()
    p = MetricsPanel(src)
    p.source_obj = src
    qtbot.addWidget(p)
    p.samples.setValue(0)  # the sample metrics are tested in tests/analysis
    yield p
    p.shutdown()


def test_metrics_without_weights_says_so(metrics_panel):
    assert not metrics_panel.evaluate_current()
    assert "No weights yet" in metrics_panel.progress_text.text()


def test_metrics_compare_the_current_model_with_a_run(qtbot, metrics_panel, ae_run):
    path, snap = ae_run
    metrics_panel.source_obj.snap = snap
    assert metrics_panel.evaluate_current()
    metrics_panel.add_run(path)  # queued behind the first, not dropped
    assert not metrics_panel.idle and metrics_panel.busy.isVisibleTo(metrics_panel)
    qtbot.waitUntil(lambda: metrics_panel.idle, timeout=60_000)
    assert list(metrics_panel.results) == ["current", str(path)]
    t = metrics_panel.table
    assert t.columnCount() == 2
    rows = [t.verticalHeaderItem(i).text() for i in range(t.rowCount())]
    assert "reconstruction: mean squared error" in rows and "validation: loss" in rows
    # the same weights in both columns: the same numbers
    assert metrics_panel.cell("reconstruction.mse", "current") == \
        metrics_panel.cell("reconstruction.mse", str(path))
    assert t.item(rows.index("reconstruction: mean squared error"), 0).toolTip().startswith("mean squared")
    assert "current: ae_mlp @ 30" in t.horizontalHeaderItem(0).text()
    t.selectColumn(1)
    metrics_panel.remove_selected()
    assert list(metrics_panel.results) == ["current"] and t.columnCount() == 1


def test_metrics_report_a_broken_run(qtbot, metrics_panel, tmp_path):
    metrics_panel.add_run(tmp_path / "nothing")
    qtbot.waitUntil(lambda: metrics_panel.idle, timeout=20_000)
    assert "not a run directory" in metrics_panel.progress_text.text()
    assert not metrics_panel.results


# == anomaly ==========================================================================================
@pytest.fixture
def anomaly_view(qtbot, qasync_loop):
    from workbench.ui.panels.anomaly import AnomalyView

    src = Source()
    v = AnomalyView(src)
    v.source_obj = src
    qtbot.addWidget(v)
    v.show()
    yield v
    v.shutdown()
    assert not v.experiment_running


def test_anomaly_models_are_those_that_reconstruct_without_labels(anomaly_view):
    names = [anomaly_view.model_combo.itemText(i) for i in range(anomaly_view.model_combo.count())]
    assert "ae_mlp" in names and "vae_mlp" in names
    assert "cvae" not in names and "dcgan" not in names
    assert anomaly_view.model_combo.currentText() == "ae_mlp"


def test_anomaly_experiment_runs_in_the_background_and_draws(qtbot, anomaly_view):
    v = anomaly_view
    v.model_combo.setCurrentText("ae_linear")
    v.steps.setValue(40)
    v.holdout.setValue(0)
    seen = []
    v.progress.valueChanged.connect(seen.append)
    assert v.run_experiment()
    assert not v.run_button.isEnabled() and v.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not v.experiment_running, timeout=60_000)
    res = v.result
    assert res is not None and res.holdout == 0 and 0 <= res.auc <= 1
    assert seen and seen[-1] == 40
    _x, y = v.anomaly_curve.getData()
    assert y.sum() == (res.labels == 0).sum()
    assert len(v.roc_curve.getData()[0]) == len(res.fpr)
    assert "AUC" in v.roc_plot.getPlotItem().titleLabel.text
    assert v.worst_view.array is not None
    assert "AUC" in v.caption.text() and v.run_button.isEnabled()


def test_anomaly_experiment_can_be_cancelled(qtbot, anomaly_view):
    v = anomaly_view
    v.model_combo.setCurrentText("ae_linear")
    v.steps.setValue(1_000_000)
    v.run_experiment()
    qtbot.waitUntil(lambda: v.progress.value() > 0, timeout=60_000)
    v.cancel()
    qtbot.waitUntil(lambda: not v.experiment_running, timeout=30_000)
    assert v.caption.text() == "Cancelled." and v.result is None


def test_anomaly_scores_the_current_weights(qtbot, anomaly_view, ae_run, gan_snapshot):
    v = anomaly_view
    assert not v.score_current()  # no weights yet
    v.source_obj.snap = ae_run[1]
    assert v.score_current()
    qtbot.waitUntil(lambda: v.result is not None, timeout=30_000)
    assert v.result.model == "ae_mlp" and v.result.auc is not None
    v.source_obj.snap = gan_snapshot
    v.score_current()
    qtbot.waitUntil(lambda: "cannot reconstruct" in v.caption.text(), timeout=30_000)


# == denoising ========================================================================================
@pytest.fixture
def denoise_view(qtbot, qasync_loop):
    from workbench.ui.panels.anomaly import DenoisingView

    src = Source()
    v = DenoisingView(src)
    v.source_obj = src
    qtbot.addWidget(v)
    yield v
    v.shutdown()


def test_denoising_starts_at_the_training_corruption_and_follows_the_slider(qtbot,
                                                                             denoise_view,
                                                                             dae_snapshot):
    v = denoise_view
    v.source_obj.snap = dae_snapshot
    v.show()
    qtbot.waitUntil(lambda: v.errors is not None, timeout=30_000)
    assert v.kind.currentData() == "mask" and v.slider.value() == 30
    h, w = v.view.array.shape[:2]
    assert h > w / 8 * 2.5  # three rows of images
    v.slider.setValue(0)
    assert v.errors[0] == 0.0  # nothing corrupted
    v.kind.setCurrentIndex(v.kind.findData("gaussian"))
    v.slider.setValue(80)
    noisy_err, _ = v.errors
    v.slider.setValue(20)
    assert v.errors[0] < noisy_err  # less noise, closer to the clean images
    before = v.images.copy()
    v.other_images()
    qtbot.waitUntil(lambda: not np.array_equal(v.images, before), timeout=30_000)


def test_denoising_says_what_a_gan_lacks(qtbot, denoise_view, gan_snapshot):
    v = denoise_view
    v.source_obj.snap = gan_snapshot
    v.show()
    qtbot.waitUntil(lambda: "no encoder" in v.caption.text(), timeout=30_000)
    assert v.view.array is None


# == in the window ====================================================================================
def test_window_tabs_build_on_first_view_and_follow_an_opened_run(qtbot, make_window, ae_run):
    w = make_window()
    titles = [w.panels.tabText(i).replace("&&", "&") for i in range(w.panels.count())]
    assert w.panels.built("metrics") is None and w.panels.built("anomaly") is None
    w.panels.setCurrentIndex(titles.index("Metrics"))
    metrics = w.panels.built("metrics")
    assert metrics is not None
    assert w.state.analysis_source()["snapshot"] is None
    assert w.session.open_run(ae_run[0])
    src = w.state.analysis_source()
    assert src["snapshot"].model == "ae_mlp" and src["dataset"]["name"] == "mnist5k"
    metrics.samples.setValue(0)
    assert metrics.evaluate_current()
    qtbot.waitUntil(lambda: metrics.idle, timeout=60_000)
    assert metrics.cell("reconstruction.mse", "current") is not None
    w.panels.setCurrentIndex(titles.index("Anomaly & denoising"))
    anomaly = w.panels.built("anomaly")
    assert anomaly is not None
    anomaly.tabs.setCurrentIndex(1)  # denoising: decodes the opened run's weights
    qtbot.waitUntil(lambda: anomaly.denoising.errors is not None, timeout=30_000)


def test_closing_the_window_stops_a_running_experiment(qtbot, make_window):
    w = make_window()
    titles = [w.panels.tabText(i).replace("&&", "&") for i in range(w.panels.count())]
    w.panels.setCurrentIndex(titles.index("Anomaly & denoising"))
    v = w.panels.built("anomaly").anomaly
    v.model_combo.setCurrentText("ae_linear")
    v.steps.setValue(1_000_000)
    v.run_experiment()
    qtbot.waitUntil(lambda: v.progress.value() > 0, timeout=60_000)
    w.close()
    assert not v.experiment_running
