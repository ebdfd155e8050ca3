"""Lessons as data: the shipped presets load, each runs a few steps headless, and a broken or
misspelt preset gets a message that names the file and the key."""

from __future__ import annotations

import json

import pytest

from workbench.core.errors import ConfigError
from workbench.course import lessons as L

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BASIC = """
number = 99
title = "A test lesson"
part = "Tests"
view = "training"
explanation = "Two sentences. Here."
[train]
model = "ae_mlp"
dataset = "ring8"
[train.train]
steps = 5
"""


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_catalogue_has_every_lesson_of_the_course():
    cat = L.load_catalogue()
    assert cat.problems == []
    assert [x.number for x in cat.lessons] == list(range(1, 31))
    assert len({x.name for x in cat.lessons}) == 30
    for x in cat.lessons:
        assert x.title and x.explanation and x.part
        assert x.view in L.VIEWS
        assert 1 <= x.explanation.count(".") <= 6, x.name  # two or three sentences, give or take
        # each lesson shows something: it trains, runs the lab, the game or an experiment,
        # or opens a panel that runs its own experiment
        assert x.train or x.lab or x.dirac or x.experiment or x.panel, x.name
    assert cat.get("7").name == "vae-prior-samples" == cat.get("vae-prior-samples").name


@pytest.mark.parametrize("name", [x.name for x in L.load_catalogue().lessons])
def test_every_lesson_runs_a_few_steps(name):
    lesson = L.load_catalogue().get(name)
    out = L.rehearse(lesson, steps=2)
    if lesson.train is not None:
        assert out["train"] and all(v == v for v in out["train"].values())  # finite, not NaN
    if lesson.lab is not None:
        assert out["lab"]["step"] == 2
    if lesson.dirac is not None:
        assert len(out["dirac"]["eigenvalues"]) == 2
    if lesson.experiment is not None:
        assert "experiment" in out


def test_a_lesson_file_round_trips_and_names_its_mistakes(tmp_path):
    lesson = L.load_lesson(write(tmp_path, "99-test.toml", BASIC))
    assert (lesson.name, lesson.number, lesson.train.model) == ("test", 99, "ae_mlp")
    assert lesson.explanation == "Two sentences. Here."
    cases = {
        "colour = 1\n": "unknown key 'colour'",
        "[lab]\nspeed = 2\n": "unknown key 'speed' in [lab]",
        "[classroom]\nhide = [\"tab.nope\"]\n": "unknown control 'tab.nope'",
        "[panel]\npage = \"traversal\"\n": "has no page 'traversal'",
        "[experiment]\nname = \"nope\"\n": "unknown experiment 'nope'",
        "[experiment]\nname = \"pca_vs_linear_ae\"\n[experiment.params]\nkay = 3\n":
            "experiment 'pca_vs_linear_ae' has no parameter 'kay'",
        "[experiment]\nname = \"pca_vs_linear_ae\"\n[experiment.params]\nk = 0\n":
            "98-bad.toml: experiment 'pca_vs_linear_ae': k must be at least 1, got 0",
        "[experiment]\nname = \"js_vs_wasserstein\"\n[experiment.params]\nthetas = [1, \"a\"]\n":
            "thetas must be a list of numbers",
    }
    for extra, message in cases.items():
        path = write(tmp_path, "98-bad.toml", BASIC.replace("[train]", extra + "[train]", 1)
                     if not extra.startswith("[") else BASIC + extra)
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            L.load_lesson(path)
    bad_view = write(tmp_path, "97-view.toml", BASIC.replace('"training"', '"gan_lab"'))
    with pytest.raises(ConfigError, match=r"needs a \[lab\] table"):
        L.load_lesson(bad_view)
    bad_model = write(tmp_path, "96-model.toml", BASIC.replace('"ae_mlp"', '"ae_nope"'))
    with pytest.raises(ConfigError, match="ae_nope"):
        L.load_lesson(bad_model)
    bad_lab = write(tmp_path, "95-lab.toml", BASIC.replace('view = "training"', 'view = "gan_lab"')
                    + '[lab]\nmodel = "dcgan"\n')
    with pytest.raises(ConfigError, match="2-D GANs"):
        L.load_lesson(bad_lab)
    with pytest.raises(ConfigError, match="not valid TOML"):
        L.load_lesson(write(tmp_path, "94-toml.toml", "number = \n"))


def test_a_teachers_folder_adds_and_replaces_lessons_and_a_broken_file_is_only_reported(
        tmp_path, user_lessons_dir):
    shipped = L.builtin_lessons_dir()
    write(user_lessons_dir, "99-test.toml", BASIC)
    write(user_lessons_dir, "07-vae-prior-samples.toml",
          (shipped / "07-vae-prior-samples.toml").read_text().replace(
              "VAE: sampling new digits from the prior", "My own VAE lesson"))
    write(user_lessons_dir, "50-broken.toml", "number = [\n")
    cat = L.load_catalogue()
    assert cat.get("test").number == 99
    assert cat.get("vae-prior-samples").title == "My own VAE lesson"
    assert len(cat.lessons) == 31
    assert len(cat.problems) == 1 and "50-broken.toml" in cat.problems[0]


def test_classroom_choice_is_saved_into_a_copy_of_the_preset(user_lessons_dir):
    lesson = L.load_catalogue().get("beta-vae-traversals")
    assert "tab.walks" not in lesson.hidden_controls()       # the lesson's own view
    assert "tab.training" not in lesson.hidden_controls()    # it trains
    assert "tab.dirac" in lesson.hidden_controls()
    path = L.save_classroom(lesson, ["tab.dirac", "setup.train_settings"])
    assert path.parent == user_lessons_dir
    again = L.load_catalogue().get("beta-vae-traversals")
    assert again.hidden_controls() == ("tab.dirac", "setup.train_settings")
    assert again.train.model == "beta_vae" and again.panel == {"page": "traversal"}
    assert (L.builtin_lessons_dir() / path.name).read_text() != path.read_text()
    with pytest.raises(ConfigError, match="unknown control"):
        L.save_classroom(lesson, ["the-big-red-button"])


def test_cli_lists_checks_and_refuses_unknown_lessons(capsys, user_lessons_dir):
    from workbench.cli import main

    assert main(["lessons", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 30 and {"name", "title"} <= set(rows[0])
    assert main(["lessons"]) == 0
    out = capsys.readouterr().out
    assert "Mode collapse on the 5×5 grid" in out and "mode-collapse" in out
    assert main(["lessons", "no-such-lesson"]) == 1
    assert "no lesson 'no-such-lesson'" in capsys.readouterr().err
    assert main(["lessons", "--check", "--steps", "2", "23", "mode-collapse"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok ") == 2
    write(user_lessons_dir, "60-broken.toml", BASIC.replace('"ae_mlp"', '"nope"'))
    assert main(["lessons", "--check", "23"]) == 1  # a broken teacher's file fails the check
    assert "60-broken.toml" in capsys.readouterr().err
