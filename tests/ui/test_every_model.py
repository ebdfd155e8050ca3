"""Every registered model in the window, generated from the model registry (a new model gets
this test without an edit): choosing it builds its config form, the Training tab sets up its
plot groups and decodes a grid from its weights, and the latent views take those weights.
Fresh weights, no training: it stays fast."""

from __future__ import annotations

import pytest

from workbench.data.cache import cached_dataset
from workbench.models.registry import create_model, get_model_info, list_models
from workbench.ui.state import Snapshot

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", list_models())
def test_every_model_gets_its_form_plots_and_latent_views(make_window, qtbot, name):
    w = make_window()
    failed: list[str] = []
    w.state.latent.failed.connect(failed.append)
    info = get_model_info(name)

    w.state.select_model(name)
    assert w.state.model == name and w.setup.model_list.currentItem().text().startswith(name)
    assert w.setup.model_form.value() == info.default_config()
    assert w.setup.tabs.tabText(0) == f"Model: {name}"

    w.state.run_reset.emit(info.model_cls.plot_groups)  # as a new or opened run does
    assert list(w.training_view.plots.plots) == [title for title, _ in
                                                 info.model_cls.plot_groups]

    # Weights on the model's own data (choosing it switched the dataset where it needs to).
    data = cached_dataset(w.state.dataset)
    model = create_model(name, data=data.spec)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    snap = Snapshot(name, model.config, data.spec, state, 0, w.state.dataset)
    w.panels.show_panel("latent")  # encoding runs only while a latent view is on screen
    with qtbot.waitSignal(w.state.latent.changed, timeout=30_000):
        w.state.set_snapshot(snap)
    assert not failed
    probe, encoded = w.state.latent.probe, w.state.latent.encoded
    assert probe.name == name and (encoded.codes is not None) == probe.can_encode
    assert len(w.panels.panel("latent").sliders._sliders) == probe.dim
    w.panels.show_panel("walks")
    qtbot.waitUntil(lambda: not w.training_view.decode_jobs.busy, timeout=30_000)
    view = w.training_view
    assert (view.samples_view.array is not None) == model.can("sample")
    assert (view.recon_view.array is not None) == model.can("reconstruct")
