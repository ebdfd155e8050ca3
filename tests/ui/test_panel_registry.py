"""The panel registry (ui/panels/registry.py) against the lesson schema (course/lessons.py,
which may not import the UI): the same keys and pages, every shipped lesson names a registered
panel and asks it only for what it takes, and the window's tabs are the registry's."""

from __future__ import annotations

from workbench.course.lessons import CONTROLS, PAGES, VIEWS, builtin_lessons_dir, load_catalogue
from workbench.ui.panels.registry import PANELS, panel_entry


def test_registry_and_lesson_schema_agree():
    keys = [e.key for e in PANELS]
    assert len(set(keys)) == len(keys)
    assert set(keys) == set(VIEWS)
    assert {e.key: e.pages for e in PANELS if e.pages} == {k: tuple(v) for k, v in PAGES.items()}
    assert {k for k in CONTROLS if k.startswith("tab.")} == {f"tab.{k}" for k in keys}


def test_every_shipped_lesson_names_a_registered_panel_and_what_it_takes():
    catalogue = load_catalogue([builtin_lessons_dir()])
    assert not catalogue.problems and catalogue.lessons
    for lesson in catalogue.lessons:
        entry = panel_entry(lesson.view)
        asked = set(lesson.panel) - {"page"}
        assert asked <= set(entry.options), (lesson.name, asked, entry.options)
        if "page" in lesson.panel:
            assert lesson.panel["page"] in entry.pages, lesson.name


def test_the_window_builds_its_tabs_from_the_registry(make_window):
    w = make_window(load_backend=False)
    tabs = w.panels
    assert [tabs.tabText(i) for i in range(tabs.count())] == [e.title for e in PANELS]
    assert [tabs.tabToolTip(i) for i in range(tabs.count())] == [e.tooltip for e in PANELS]
    for e in PANELS:
        assert (w.panels.built(e.key) is None) == e.lazy  # lazy panels wait for a first view
    for e in PANELS:  # a panel a lesson configures can be configured
        if e.pages or e.options:
            assert callable(getattr(w.panels.panel(e.key), "apply_lesson", None)), e.key


def test_the_setup_panel_says_when_the_tab_in_front_trains_by_itself(make_window):
    w = make_window(load_backend=False)
    note = w.setup.own_training_note
    w.panels.show_panel("dirac")
    assert note.isVisibleTo(w.setup) and note.text().startswith("The Dirac-GAN tab plays")
    w.panels.show_panel("training")
    assert not note.isVisibleTo(w.setup)
