"""The latent panels on tiny trained models: sliders decode, clicking a scatter point loads its
code, selections and t-SNE work, interpolation strips end at the chosen images, and a GAN shows
sliders while saying the scatter needs an encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt

from workbench.engine.trainer import Trainer, TrainSettings
from workbench.ui.state import Snapshot


def _snapshot(model_name: str, steps: int = 60, **config):
    from workbench.core import config as C
    from workbench.models.registry import get_config
    from workbench.data import load_dataset

    torch.manual_seed(0)
    cfg = C.replace(get_config(model_name), **config)
    trainer = Trainer(model_name, load_dataset("mnist5k"),
                      TrainSettings(steps=steps, epochs=0, batch_size=64, sample_every_s=0.0,
                                    checkpoint_every=0, device="cpu"), config=cfg)
    for _ in trainer.fit():
        pass
    return Snapshot(model_name, cfg, trainer.data.spec,
                    {k: v.detach().cpu().numpy().copy()
                     for k, v in trainer.model.state_dict().items()}, steps)


@pytest.fixture(scope="module")
def vae_snapshot():
    return _snapshot("vae_mlp", latent_dim=4, hidden=(64,))


@pytest.fixture(scope="module")
def gan_snapshot():
    return _snapshot("gan_mlp", steps=5, latent_dim=6, hidden=(32,))


@pytest.fixture
def session(qtbot, qasync_loop):
    from workbench.ui.latent_session import LatentSession

    s = LatentSession()
    yield s
    s.shutdown()


def _load(qtbot, session, snap):
    session.set_active(True)
    with qtbot.waitSignal(session.changed, timeout=20_000):
        session.set_snapshot(snap, "mnist5k")


@pytest.fixture
def explorer(qtbot, session):
    from workbench.ui.panels.latent_explorer import LatentExplorer

    w = LatentExplorer(session)
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    yield w
    w.shutdown()


def _click_point(qtbot, explorer, i: int):
    """A real mouse click on scatter point i (index into the drawn points)."""
    plot = explorer.scatter.plot
    scene_pos = explorer.scatter.vb.mapViewToScene(QPointF(*map(float, explorer.xy[i])))
    pos = plot.mapFromScene(scene_pos)
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_moving_a_slider_changes_the_decoded_image(qtbot, session, explorer, vae_snapshot):
    _load(qtbot, session, vae_snapshot)
    sliders = explorer.sliders
    assert len(sliders._sliders) == 4
    before = sliders.image.array().copy()
    with qtbot.waitSignal(sliders.decoded, timeout=5_000):
        sliders._sliders[0].setValue(2 * 300)
    after = sliders.image.array()
    assert sliders.z[0] == pytest.approx(2.0)
    assert after.shape == (28, 28) and not np.allclose(before, after)
    expected = session.probe.decode(sliders.z)[0, 0]
    np.testing.assert_allclose(after, expected, atol=1e-6)
    # The KL bars are shown for a VAE.
    assert session.encoded.kl is not None and sliders._kl_bars[0].isVisibleTo(sliders)


def test_burst_of_slider_moves_costs_one_decode(qtbot, session, explorer, vae_snapshot):
    _load(qtbot, session, vae_snapshot)
    sliders = explorer.sliders
    calls = []
    sliders.decoded.connect(lambda: calls.append(1))
    for v in range(0, 300, 10):
        sliders._sliders[1].setValue(v)
    qtbot.waitUntil(lambda: len(calls) >= 1, timeout=5_000)
    qtbot.wait(50)
    assert len(calls) == 1 and sliders.z[1] == pytest.approx(290 / 300)


def test_clicking_a_scatter_point_fills_the_sliders_with_its_code(qtbot, session, explorer,
                                                                 vae_snapshot):
    _load(qtbot, session, vae_snapshot)
    enc = session.encoded
    assert explorer.scatter.currentIndex() == 1  # the plot, not the hint
    assert len(explorer.xy) == len(enc.codes) == 500
    # Pick a point far from its neighbours so the click cannot hit another one.
    xy = explorer.xy
    d = ((xy[:, None] - xy[None]) ** 2).sum(2)
    np.fill_diagonal(d, np.inf)
    i = int(d.min(1).argmax())
    with qtbot.waitSignal(session.focus_changed, timeout=5_000):
        _click_point(qtbot, explorer, i)
    assert session.focus == i
    np.testing.assert_allclose(explorer.sliders.z, np.clip(enc.codes[i], -3, 3), atol=1 / 300)
    assert explorer.pair_view.array is not None  # input beside reconstruction
    assert explorer.sliders.selected_button.isEnabled()


def test_rectangle_selection_shows_the_selected_images(qtbot, session, explorer, vae_snapshot):
    _load(qtbot, session, vae_snapshot)
    xy = explorer.xy
    lo, hi = np.percentile(xy, 25, axis=0), np.percentile(xy, 75, axis=0)
    poly = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    inside = ((xy >= lo) & (xy <= hi)).all(1)
    with qtbot.waitSignal(session.selection_changed, timeout=5_000):
        explorer.scatter.vb.polygon_selected.emit(poly)
    assert sorted(session.selection.tolist()) == np.flatnonzero(inside).tolist()
    assert explorer.selection_view.array is not None
    assert f"{inside.sum()} selected" in explorer.selection_caption.text()


def test_kmeans_overlay_reports_purity(qtbot, session, explorer, vae_snapshot):
    _load(qtbot, session, vae_snapshot)
    explorer.kmeans_check.setChecked(True)
    text = explorer.purity_label.text()
    assert text.startswith("purity ")
    assert 0.1 < float(text.split()[1].rstrip("%")) / 100 <= 1.0


def test_tsne_runs_in_the_background_and_can_be_cancelled(qtbot, session, explorer,
                                                         vae_snapshot, monkeypatch):
    import workbench.analysis.latent as L

    _load(qtbot, session, vae_snapshot)
    real = L.tsne
    monkeypatch.setattr(L, "tsne", lambda codes, **kw: real(codes, iterations=60, **kw))
    explorer.run_tsne()
    assert explorer.tsne_progress.isVisible()
    qtbot.waitUntil(lambda: not explorer.tsne_running and explorer.tsne_step is not None,
                    timeout=30_000)
    assert explorer.projection_note.startswith("t-SNE")
    assert explorer.xy.shape == (500, 2) and not explorer.tsne_progress.isVisible()
    # Cancel: a slow run stops promptly with a message.
    monkeypatch.setattr(L, "tsne", lambda codes, **kw: real(codes, iterations=10**6, **kw))
    messages = []
    explorer.status.connect(messages.append)
    explorer.run_tsne()
    qtbot.wait(100)
    explorer.cancel_tsne()
    qtbot.waitUntil(lambda: not explorer.tsne_running, timeout=10_000)
    qtbot.waitUntil(lambda: "t-SNE cancelled." in messages, timeout=5_000)


def test_gan_shows_sliders_but_says_the_scatter_needs_an_encoder(qtbot, session, explorer,
                                                                 gan_snapshot):
    _load(qtbot, session, gan_snapshot)
    assert explorer.scatter.currentIndex() == 0
    assert "no encoder" in explorer.scatter.hint.text()
    sliders = explorer.sliders
    assert len(sliders._sliders) == 6
    before = sliders.image.array().copy()
    with qtbot.waitSignal(sliders.decoded, timeout=5_000):
        sliders._sliders[2].setValue(-500)
    assert not np.allclose(before, sliders.image.array())


@pytest.fixture
def walks(qtbot, session):
    from workbench.ui.panels.latent_walks import LatentWalks

    w = LatentWalks(session)
    qtbot.addWidget(w)
    w.resize(900, 600)
    w.show()
    return w


def test_interpolation_strip_ends_decode_the_two_chosen_images(qtbot, session, walks,
                                                               vae_snapshot):
    _load(qtbot, session, vae_snapshot)
    walks.setCurrentWidget(walks.interpolation)
    view = walks.interpolation
    view.a_spin.setValue(3)
    view.b_spin.setValue(42)
    view.steps_spin.setValue(7)
    qtbot.waitUntil(lambda: view.strip is not None and len(view.strip) == 7, timeout=5_000)
    qtbot.wait(20)
    enc, probe = session.encoded, session.probe
    np.testing.assert_allclose(view.strip[0], probe.decode(enc.codes[3])[0], atol=1e-5)
    np.testing.assert_allclose(view.strip[-1], probe.decode(enc.codes[42])[0], atol=1e-5)
    assert view.rows[-1].startswith("pixel space")
    assert view.view.array is not None


def test_interpolation_compares_with_a_second_run(qtbot, session, walks, vae_snapshot,
                                                  tmp_path):
    from workbench.cli import main
    from workbench.ui.panels.latent_walks import load_run_probe

    run = tmp_path / "ae-run"
    assert main(["train", "ae_mlp", "--dataset", "mnist5k", "--steps", "5", "--out", str(run),
                 "--batch-size", "64", "--set", "latent_dim=4"]) == 0
    _load(qtbot, session, vae_snapshot)
    view = walks.interpolation
    walks.setCurrentWidget(view)
    view.set_compare_probe(load_run_probe(run), "ae-run")
    qtbot.waitUntil(lambda: any(r.startswith("ae-run") for r in view.rows), timeout=5_000)
    assert view.rows == ["vae_mlp, linear", "vae_mlp, slerp", "ae-run, linear",
                         "pixel space (cross-fade)"]


def test_traversal_rows_follow_kl_and_arithmetic_moves_with_strength(qtbot, session, walks,
                                                                     vae_snapshot):
    _load(qtbot, session, vae_snapshot)
    walks.setCurrentWidget(walks.traversal)
    t = walks.traversal
    t.rows_spin.setValue(3)
    t.cols_spin.setValue(5)
    qtbot.waitUntil(lambda: t.codes is not None and len(t.codes) == 15, timeout=5_000)
    kl = session.encoded.kl
    assert t.dims == [int(i) for i in np.argsort(-kl, kind="stable")[:3]]
    walks.setCurrentWidget(walks.arithmetic)
    a = walks.arithmetic
    qtbot.waitUntil(lambda: a.result is not None, timeout=5_000)
    first = a.result.copy()
    a.strength.setValue(-150)
    qtbot.waitUntil(lambda: not np.allclose(a.result, first), timeout=5_000)
    assert a.strength_label.text() == "-1.50"


def test_window_latent_tab_after_training(make_window, qtbot):
    w = make_window()
    w.state.select_model("ae_mlp")
    w.setup.train_form.set_config(TrainSettings(steps=20, epochs=0, batch_size=64, log_every=5,
                                                sample_every_s=0.0))
    with qtbot.waitSignal(w.session.training_finished, timeout=60_000):
        assert w.session.start()
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=10_000)
    assert w.state.snapshot is not None
    w.panels.setCurrentWidget(w.panels.panel("latent"))
    qtbot.waitUntil(lambda: w.state.latent.encoded is not None, timeout=20_000)
    assert w.panels.panel("latent").scatter.currentIndex() == 1
    assert len(w.panels.panel("latent").sliders._sliders) == w.state.latent.probe.dim


def test_a_new_dataset_or_run_drops_the_clicked_image_and_the_selection(qtbot, session,
                                                                      explorer, vae_snapshot):
    _load(qtbot, session, vae_snapshot)
    xy = explorer.xy
    with qtbot.waitSignal(session.selection_changed, timeout=5_000):
        explorer.scatter.vb.polygon_selected.emit(
            np.array([[xy[:, 0].min(), xy[:, 1].min()], [xy[:, 0].max(), xy[:, 1].min()],
                      [xy[:, 0].max(), xy[:, 1].max()], [xy[:, 0].min(), xy[:, 1].max()]]))
    session.set_focus(3)
    explorer._show_pair(3)
    assert explorer.selection_view.array is not None and explorer.pair_view.array is not None
    with qtbot.waitSignal(session.changed, timeout=20_000):  # other data, the same size
        session.set_snapshot(vae_snapshot, {"builtin": "mnist5k", "name": "mnist5k"})
    assert session.focus is None and len(session.selection) == 0
    assert explorer.selection_view.array is None and explorer.pair_view.array is None
    assert explorer.selection_caption.text() == "" and explorer.pair_caption.text() == ""
