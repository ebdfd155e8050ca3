"""Lessons in the window: opening one sets up the model, data and panel and starts what it
should; the lesson panel explains; classroom mode hides what the lesson does not need; the start
page opens a lesson."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tab_visible(w, key: str) -> bool:
    return w.panels.is_panel_visible(key)


def test_a_training_lesson_sets_up_and_trains_and_explains(make_window, qtbot):
    w = make_window(in_process=False)
    assert w.lessons.open("beta-vae-traversals", confirm=False)
    assert w.state.model == "beta_vae"
    assert w.setup.dataset_combo.currentData() == "mnist5k"
    walks = w.panels.panel("walks")
    assert w.panels.current_key() == "walks" and walks.currentWidget() is walks.traversal
    assert w.state.training  # the lesson starts training: that is its point
    text = w.lessons.panel.text.toPlainText()
    assert "β > 1: disentangled traversals" in text and "β · KL" in text
    assert w.lessons.dock.isVisible()
    w.session.stop()
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=30_000)
    # the next lesson from the panel's button: the 2-D autoencoder would be 2, β-VAE is 9
    w.lessons.panel.next_button.click()
    assert w.lessons.current.number == 10 and w.state.model == "cvae"
    w.session.stop()
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=30_000)


def test_lab_lessons_set_the_recipe_and_do_not_leak_into_each_other(make_window, qtbot):
    w = make_window()
    assert w.lessons.open("minibatch-discrimination", confirm=False)
    assert w.panels.currentWidget() is w.panels.page("gan_lab")
    lab = w.panels.built("gan_lab")
    qtbot.waitUntil(lambda: lab.config is not None and lab.config.mbd_kernels == 8,
                    timeout=20_000)
    qtbot.waitUntil(lambda: lab.last_state.get("playing"), timeout=20_000)
    assert w.lessons.open("mode-collapse", confirm=False)
    qtbot.waitUntil(lambda: lab.config.mbd_kernels == 0, timeout=20_000)
    assert lab.dataset_combo.currentText() == "grid25"
    lab.pause()


def test_dirac_lesson_selects_the_regulariser(make_window):
    w = make_window()
    assert w.lessons.open("24", confirm=False)
    d = w.panels.built("dirac")
    assert d.params()["reg"] == "consensus" and d.params()["gamma"] == pytest.approx(1.0)
    assert w.panels.currentWidget() is w.panels.page("dirac")
    assert w.lessons.open("23", confirm=False)
    assert d.params()["reg"] is None


def test_classroom_mode_hides_what_the_lesson_does_not_need(make_window, user_lessons_dir):
    w = make_window()
    assert w.lessons.open("game-vector-field", confirm=False)  # no training: no setup panel
    w.lessons.act_classroom.setChecked(True)
    assert tab_visible(w, "dirac")
    assert not tab_visible(w, "training") and not tab_visible(w, "latent")
    assert not w.setup.isVisible() and not w.toolbar.isVisible()
    # the teacher keeps the Training tab and the dock visible, and saves that in the preset
    hidden = [k for k in w.lessons.hidden if k not in ("tab.training", "dock.setup")]
    path = w.lessons.set_hidden(hidden, save=True)
    assert path is not None and path.parent == user_lessons_dir
    assert tab_visible(w, "training") and w.setup.isVisible()
    from workbench.course.lessons import load_catalogue

    assert "tab.training" not in load_catalogue().get("game-vector-field").hidden_controls()
    w.lessons.act_classroom.setChecked(False)  # everything back
    assert all(tab_visible(w, k) for k in w.panels.entries)
    assert w.setup.isVisible() and w.toolbar.isVisible()


def test_start_page_and_menu_open_lessons(make_window, qtbot):
    w = make_window()
    page = w.lessons.show_start_page()
    tree = page.tree
    names = [tree.topLevelItem(i).child(j).data(0, 256)
             for i in range(tree.topLevelItemCount())
             for j in range(tree.topLevelItem(i).childCount())]
    assert len(names) == 30
    item = next(tree.topLevelItem(i).child(j) for i in range(tree.topLevelItemCount())
                for j in range(tree.topLevelItem(i).childCount())
                if tree.topLevelItem(i).child(j).data(0, 256) == "consensus-and-penalties")
    tree.setCurrentItem(item)
    assert "consensus" in page.text.toPlainText()
    page.open_button.click()
    qtbot.waitUntil(lambda: w.lessons.current is not None, timeout=5_000)
    assert w.lessons.current.name == "consensus-and-penalties"
    w.lessons.fill_menu()
    parts = [a.text() for a in w.lessons.menu.actions() if a.menu()]
    assert "Autoencoders" in parts and "GAN dynamics" in parts


def test_classroom_mode_shows_only_the_lessons_config_fields(make_window, qtbot):
    w = make_window(in_process=False)
    assert w.lessons.open("beta-vae-traversals", confirm=False)
    w.session.stop()
    qtbot.waitUntil(lambda: w.session.runner is None, timeout=30_000)
    form = w.setup.model_form
    layout = form.layout()
    assert layout.isRowVisible(form.widget("lr"))  # classroom mode is off: every field
    w.lessons.act_classroom.setChecked(True)
    assert layout.isRowVisible(form.widget("beta"))
    assert not layout.isRowVisible(form.widget("lr"))
    assert not w.setup.model_list.isVisible() and not w.setup.dataset_row.isVisible()
    path = w.lessons.set_hidden(list(w.lessons.hidden), save=True, fields=["beta", "lr"])
    assert layout.isRowVisible(form.widget("lr"))
    assert 'fields = ["beta", "lr"]' in path.read_text()
    w.lessons.act_classroom.setChecked(False)
    assert layout.isRowVisible(form.widget("weight_decay"))


def test_an_experiment_lesson_runs_its_experiment_and_the_next_one_replaces_it(make_window,
                                                                               qtbot):
    w = make_window()
    assert w.lessons.open("semi-supervised", confirm=False)
    view = w.panels.panel("experiment").view
    assert w.panels.currentWidget() is w.panels.page("experiment")
    assert view.name == "semi_supervised" and view.running
    assert w.panels.panel("experiment").combo.currentData() == "semi_supervised"
    assert w.lessons.open("f-divergences", confirm=False)  # cancels the first, starts its own
    assert view.name == "f_divergence_fit" and view.running
    view.shutdown()
    qtbot.waitUntil(lambda: not view.running, timeout=30_000)
    # the tab's own picker
    combo = w.panels.panel("experiment").combo
    combo.setCurrentIndex(combo.findData("pca_vs_linear_ae"))
    assert view.name == "pca_vs_linear_ae" and not view.running


def test_the_gan_lab_pauses_when_its_tab_is_left_or_another_lesson_opens(make_window, qtbot):
    """Nothing runs where nobody looks: the lab's loop is paused when its tab is left, when
    another lesson opens, and when a training starts, unless the View menu keeps it running."""
    w = make_window()
    assert w.lessons.open("mode-collapse", confirm=False)  # a lab lesson: the lab plays
    lab = w.panels.built("gan_lab")
    lab.play()
    qtbot.waitUntil(lambda: lab.last_state["playing"] and lab.last_state["step"] > 0,
                    timeout=20_000)
    w.panels.show_panel("training")  # the tab is left
    assert not lab.playing
    qtbot.waitUntil(lambda: not lab.last_state["playing"], timeout=10_000)
    assert "GAN lab paused" in w.status_label.text()

    w.panels.show_panel("gan_lab")
    lab.play()
    assert w.lessons.open("game-vector-field", confirm=False)  # another lesson, another tab
    assert not lab.playing

    w.panels.show_panel("gan_lab")
    lab.play()
    w.state.set_training(True)  # what TrainingSession.start announces
    assert not lab.playing
    w.state.set_training(False)

    w.act_keep_running.trigger()  # View → Keep background panels running
    w.panels.show_panel("gan_lab")
    lab.play()
    w.panels.show_panel("dirac")
    assert lab.playing
    lab.pause()
    w.act_keep_running.trigger()


def test_opening_a_lesson_is_logged(make_window, caplog):
    import logging

    w = make_window()
    with caplog.at_level(logging.INFO, logger="workbench"):
        assert w.lessons.open("game-vector-field", confirm=False)
    assert any(r.getMessage().startswith("lesson opened: 23.") for r in caplog.records)
