"""Lessons: one preset per idea of the course, as data files.

A lesson is a small TOML file (resources/lessons/NN-name.toml; a teacher's own or edited copies
in the user's lessons folder, which win over the shipped ones of the same name):

    number = 7
    title = "VAE: sampling new digits from the prior"
    part = "Variational autoencoders"           # the submenu it sits in
    view = "training"                            # the tab it shows (VIEWS below)
    explanation = "Two or three sentences."
    formula = "z ~ N(0, I),  x = decoder(z)"    # optional
    look = "What to watch in the picture."       # optional

    [train]                                      # optional: a run recipe (engine/recipes.py)
    model = "vae_mlp"
    dataset = "mnist5k"
    start = true                                 # start training when the lesson opens
    [train.config]
    latent_dim = 2
    [train.train]
    steps = 2000

    [lab]          # optional, view "gan_lab": dataset, model, seed, play, [lab.config]
    [dirac]        # optional, view "dirac": loss, reg, gamma, sigma, lr, d_steps, steps, start
    [experiment]   # optional, view "experiment": name, run, [experiment.params] (fields of the
                   # study's params dataclass, experiments/registry.py; checked on load)
    [panel]        # optional: page = "interpolation" (a sub-page of the view), run = true (the
                   # anomaly experiment starts), kmeans = true (the scatter's k-means overlay)
    [classroom]    # optional: hide = ["tab.metrics", "setup.dataset", ...] (CONTROLS below),
                   # fields = ["beta"] (the only model config fields shown; default all)

Qt-free: the CLI lists and checks lessons, the tests run each one a few steps headless
(`rehearse`), and the window applies them. Unknown keys are errors that name the key and the
file, so a typo in a preset never silently shows something else.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core import config as C
from workbench.core.errors import ConfigError
from workbench.experiments.registry import get_experiment, resolve_params, run_experiment

# The tabs a lesson can show, by key (the window maps them to its tabs).
VIEWS = {
    "training": "Training",
    "latent": "Latent space",
    "walks": "Latent walks",
    "dataset": "Dataset",
    "gan_lab": "GAN lab",
    "dirac": "Dirac-GAN",
    "metrics": "Metrics",
    "anomaly": "Anomaly & denoising",
    "experiment": "Experiment",
}
# Sub-pages a view can open on ([panel] page = …).
PAGES = {
    "walks": ("traversal", "interpolation", "arithmetic"),
    "anomaly": ("anomaly", "denoising"),
}

# What classroom mode can hide: one checkbox per control in the window's customise dialog.
CONTROLS = {
    **{f"tab.{k}": f"{v} tab" for k, v in VIEWS.items()},
    "dock.setup": "Setup panel (model, dataset, settings, Train)",
    "setup.models": "Model list",
    "setup.dataset": "Dataset picker",
    "setup.model_config": "Model config form",
    "setup.train_settings": "Training settings form",
    "dock.runs": "Runs panel",
    "toolbar": "Training toolbar",
}

_TOP = ("number", "title", "part", "view", "explanation", "formula", "look", "train", "lab",
        "dirac", "experiment", "panel", "classroom")
_LAB = ("dataset", "model", "seed", "play", "config")
_DIRAC = ("loss", "reg", "gamma", "sigma", "lr", "d_steps", "steps", "start")
_EXPERIMENT = ("name", "run", "params")
_CLASSROOM = ("hide", "fields")
_NAME = re.compile(r"^(?:\d+[-_])?([a-z0-9][a-z0-9_-]*)$")


@dataclass(frozen=True)
class Lesson:
    name: str
    number: int
    title: str
    part: str
    view: str
    explanation: str
    formula: str = ""
    look: str = ""
    train: object | None = None          # engine.recipes.Recipe
    start: bool = False                  # start training on open
    lab: dict | None = None
    dirac: dict | None = None
    experiment: dict | None = None       # {"name", "run", "params"}
    panel: dict = field(default_factory=dict)
    hide: tuple[str, ...] | None = None  # classroom mode; None: default_hidden()
    fields: tuple[str, ...] | None = None  # classroom mode's model config fields; None: all
    source: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.number}. {self.title}"

    def needs_setup(self) -> bool:
        """Whether the lesson uses the setup panel (it trains a model)."""
        return self.train is not None

    def default_hidden(self) -> tuple[str, ...]:
        """What classroom mode hides when the preset does not say: every tab but the lesson's
        (and Training when it trains), the runs panel, and the model and dataset pickers (the
        lesson chose them); the whole setup panel when the lesson trains nothing."""
        shown = {f"tab.{self.view}"}
        if self.train is not None:
            shown.add("tab.training")
        hidden = [f"tab.{k}" for k in VIEWS if f"tab.{k}" not in shown]
        hidden += ["dock.runs", "setup.models", "setup.dataset"]
        if self.train is None:
            hidden += ["dock.setup", "toolbar"]
        return tuple(hidden)

    def hidden_controls(self) -> tuple[str, ...]:
        return self.hide if self.hide is not None else self.default_hidden()

    def summary(self) -> dict:
        d = {"name": self.name, "number": self.number, "title": self.title, "part": self.part,
             "view": self.view}
        if self.train is not None:
            d["model"] = self.train.model
        return d


# == reading ========================================================================================
def _table(d, key: str, allowed: tuple[str, ...], where: str) -> dict | None:
    if key not in d:
        return None
    t = d[key]
    if not isinstance(t, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    unknown = [k for k in t if k not in allowed]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} in [{key}]; known: "
                          f"{', '.join(allowed)}")
    return dict(t)


def lesson_from_dict(d: dict, name: str, source: Path | None = None) -> Lesson:
    """Check and build a lesson (every error names the file and the key)."""
    from workbench.engine.recipes import Recipe

    where = str(source or name)
    unknown = [k for k in d if k not in _TOP]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(_TOP)}")
    for key in ("number", "title", "view", "explanation"):
        if key not in d:
            raise ConfigError(f"{where}: missing key {key!r}")
    if not isinstance(d["number"], int) or d["number"] < 0:
        raise ConfigError(f"{where}: 'number' must be a whole number ≥ 0")
    for key in ("title", "part", "explanation", "formula", "look"):
        if key in d and not isinstance(d[key], str):
            raise ConfigError(f"{where}: {key!r} must be text")
    view = d["view"]
    if view not in VIEWS:
        raise ConfigError(f"{where}: unknown view {view!r}; choose one of {', '.join(VIEWS)}")

    train, start = None, False
    if "train" in d:
        t = d["train"]
        if not isinstance(t, dict):
            raise ConfigError(f"{where}: [train] must be a table")
        t = dict(t)
        start = t.pop("start", False)
        if not isinstance(start, bool):
            raise ConfigError(f"{where}: [train] start must be true or false")
        train = Recipe.from_dict(t, source=f"{where} [train]")
        try:
            train.check()
        except ConfigError as e:
            raise ConfigError(f"{where} [train]: {e}") from None

    lab = _table(d, "lab", _LAB, where)
    if lab is not None:
        _check_lab(lab, where)
    dirac = _table(d, "dirac", _DIRAC, where)
    if dirac is not None:
        _check_dirac(dirac, where)
    experiment = _table(d, "experiment", _EXPERIMENT, where)
    if experiment is not None:
        _check_experiment(experiment, where)
    for v, part in (("gan_lab", lab), ("dirac", dirac), ("experiment", experiment)):
        if view == v and part is None:
            raise ConfigError(f"{where}: view {v!r} needs a [{'lab' if v == 'gan_lab' else v}]"
                              " table")
    panel = _table(d, "panel", ("page", "run", "kmeans"), where) or {}
    for key in ("run", "kmeans"):
        if key in panel and not isinstance(panel[key], bool):
            raise ConfigError(f"{where}: [panel] {key} must be true or false")
    if "page" in panel and panel["page"] not in PAGES.get(view, ()):
        raise ConfigError(f"{where}: view {view!r} has no page {panel['page']!r}"
                          + (f"; pages: {', '.join(PAGES[view])}" if view in PAGES else ""))
    classroom = _table(d, "classroom", _CLASSROOM, where) or {}
    hide = _names(classroom, "hide", CONTROLS, where, "control")
    fields = None
    if "fields" in classroom:
        if train is None:
            raise ConfigError(f"{where}: [classroom] fields needs a [train] model")
        known = [f.name for f in C.fields_of(train.model_config())]
        fields = _names(classroom, "fields", known, where, f"{train.model} config field")
    return Lesson(name=name, number=d["number"], title=d["title"].strip(),
                  part=d.get("part", "Other").strip(), view=view,
                  explanation=" ".join(d["explanation"].split()),
                  formula=d.get("formula", "").strip(), look=" ".join(d.get("look", "").split()),
                  train=train, start=start, lab=lab, dirac=dirac, experiment=experiment,
                  panel=panel, hide=hide, fields=fields, source=source)


def _names(table: dict, key: str, known, where: str, what: str) -> tuple[str, ...] | None:
    """[classroom] `key`: a list of names from `known` (None when the key is absent)."""
    if key not in table:
        return None
    names = table[key]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}: [classroom] {key} must be a list of names")
    bad = [n for n in names if n not in known]
    if bad:
        raise ConfigError(f"{where}: unknown {what} {bad[0]!r} in [classroom] {key}; known: "
                          f"{', '.join(known)}")
    return tuple(names)


def _check_lab(lab: dict, where: str) -> None:
    from workbench.models.registry import get_config, list_models
    from workbench.data import list_datasets

    model = lab.setdefault("model", "toy_gan")
    if model not in list_models("toy_gan*"):  # the lab's model list
        raise ConfigError(f"{where}: the GAN lab trains the 2-D GANs "
                          f"{', '.join(list_models('toy_gan*'))}, not {model!r}")
    ds = lab.setdefault("dataset", "grid25")
    if ds not in {d.name for d in list_datasets() if d.kind == "points"}:
        raise ConfigError(f"{where}: [lab] dataset {ds!r} is not a built-in 2-D set")
    lab.setdefault("seed", 0)
    lab.setdefault("play", True)
    config = lab.setdefault("config", {})
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: [lab.config] must be a table")
    try:
        C.replace(get_config(model), **config)
    except ConfigError as e:
        raise ConfigError(f"{where}: [lab.config]: {e}") from None


def _check_dirac(dirac: dict, where: str) -> None:
    from workbench.analysis import dirac as D

    dirac.setdefault("loss", "gan")
    dirac.setdefault("reg", "none")
    reg = None if dirac["reg"] == "none" else dirac["reg"]
    try:
        D.eigenvalues(dirac["loss"], reg, float(dirac.get("gamma", 0.0)),
                      float(dirac.get("sigma", 0.0)))
    except ConfigError as e:
        raise ConfigError(f"{where}: [dirac]: {e} (write reg = \"none\" for no regulariser)") \
            from None
    start = dirac.get("start", [1.0, 1.0])
    if not (isinstance(start, list) and len(start) == 2
            and all(isinstance(v, (int, float)) and abs(v) <= 2 for v in start)):
        raise ConfigError(f"{where}: [dirac] start must be [θ, ψ] within [−2, 2]")
    for key, lo, hi in (("lr", 0.01, 2.0), ("d_steps", 1, 20), ("steps", 10, 5000),
                        ("gamma", 0.0, 2.0), ("sigma", 0.0, 2.0)):
        if key in dirac and not (isinstance(dirac[key], (int, float))
                                 and lo <= dirac[key] <= hi):
            raise ConfigError(f"{where}: [dirac] {key} must be a number in [{lo}, {hi}]")


def _check_experiment(exp: dict, where: str) -> None:
    if not isinstance(exp.get("name"), str):
        raise ConfigError(f"{where}: [experiment] needs name = \"…\" (an experiment's name)")
    exp.setdefault("run", True)
    params = exp.setdefault("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: [experiment.params] must be a table")
    try:
        resolve_params(exp["name"], params)  # the study's params dataclass checks each value
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def lesson_name(path: Path) -> str:
    """'07-vae-prior.toml' → 'vae-prior' (the number prefix orders files; the name stays)."""
    m = _NAME.match(path.stem)
    if not m:
        raise ConfigError(f"{path.name}: a lesson file is named like 07-vae-prior.toml "
                          "(lower-case letters, digits, - and _)")
    return m.group(1)


def load_lesson(path: Path) -> Lesson:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"lesson file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read lesson file {path}: {e}") from None
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"lesson file {path} is not valid TOML: {e}") from None
    return lesson_from_dict(d, lesson_name(path), path)


# == where lessons live ============================================================================
def builtin_lessons_dir() -> Path:
    from workbench.core.resources import resource

    return resource("lessons")


def user_lessons_dir() -> Path:
    """A teacher's lessons and edited copies: $GENWORKBENCH_LESSONS, else `lessons` in the user
    data directory."""
    import os

    env = os.environ.get("GENWORKBENCH_LESSONS")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("genworkbench", appauthor=False)) / "lessons"


@dataclass
class Catalogue:
    lessons: list[Lesson]
    problems: list[str]   # files that could not be read, one line each (shown, never fatal)

    def get(self, name_or_number: str) -> Lesson:
        key = str(name_or_number).strip()
        for lesson in self.lessons:
            if lesson.name == key or (key.isdigit() and lesson.number == int(key)):
                return lesson
        raise ConfigError(f"no lesson {key!r}; `genworkbench lessons` lists them")

    def parts(self) -> list[tuple[str, list[Lesson]]]:
        out: dict[str, list[Lesson]] = {}
        for lesson in self.lessons:
            out.setdefault(lesson.part, []).append(lesson)
        return list(out.items())

    def neighbour(self, lesson: Lesson, delta: int) -> Lesson | None:
        names = [x.name for x in self.lessons]
        i = names.index(lesson.name) + delta if lesson.name in names else -1
        return self.lessons[i] if 0 <= i < len(self.lessons) else None


def load_catalogue(dirs: list[Path] | None = None) -> Catalogue:
    """Every lesson of the shipped folder and the user's folder (a user file replaces the
    shipped lesson of the same name), ordered by number then name. A broken file is reported in
    `problems` and left out; the others still load."""
    dirs = dirs if dirs is not None else [builtin_lessons_dir(), user_lessons_dir()]
    by_name: dict[str, Lesson] = {}
    problems: list[str] = []
    for d in dirs:
        if not Path(d).is_dir():
            continue
        for path in sorted(Path(d).glob("*.toml")):
            try:
                lesson = load_lesson(path)
            except ConfigError as e:
                problems.append(str(e))
                continue
            by_name[lesson.name] = lesson
    lessons = sorted(by_name.values(), key=lambda x: (x.number, x.name))
    return Catalogue(lessons, problems)


# == writing (classroom settings saved into a copy of the preset) =================================
def save_classroom(lesson: Lesson, hide: list[str], folder: Path | None = None,
                   fields: list[str] | None = None) -> Path:
    """Write the lesson with `[classroom] hide = …` (and `fields = …` unless None: every field)
    into the user's lessons folder (the shipped file is never changed); the copy replaces the
    shipped lesson from then on."""
    from workbench.core.atomic import atomic_write_text
    from workbench.engine.recipes import to_toml

    bad = [h for h in hide if h not in CONTROLS]
    if bad:
        raise ConfigError(f"unknown control {bad[0]!r}")
    if lesson.source is None:
        raise ConfigError(f"lesson {lesson.name!r} has no file to copy")
    d = tomllib.loads(Path(lesson.source).read_text(encoding="utf-8"))
    d["classroom"] = {"hide": list(hide)}
    if fields is not None:
        d["classroom"]["fields"] = list(fields)
    folder = Path(folder) if folder is not None else user_lessons_dir()
    path = folder / Path(lesson.source).name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, to_toml(d))
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        load_lesson(path)  # what we wrote must read back
    except ConfigError:
        path.unlink(missing_ok=True)
        raise
    return path


# == rehearsal: a few steps of a lesson without the window (tests, `lessons --check`) ==============
def rehearse(lesson: Lesson, steps: int = 3) -> dict:
    """Run a few steps of everything the lesson starts, headless, and return what they logged:
    training (a few optimisation steps on the lesson's model and data), the GAN lab (steps of
    its 2-D GAN), the Dirac-GAN game (trajectories and eigenvalues) and the experiment (with its
    quick parameters). Raises on any failure."""
    import numpy as np

    out: dict = {}
    if lesson.train is not None:
        from workbench.data import load_dataset
        from workbench.engine.events import Metrics
        from workbench.engine.trainer import Trainer

        recipe = lesson.train
        settings = C.replace(recipe.settings(), steps=steps, epochs=0, device="cpu", log_every=1,
                             val_every=0, checkpoint_every=0, sample_every_s=0.0)
        data = load_dataset(recipe.dataset_argument())
        config = recipe.model_config()
        if hasattr(config, "iw_samples"):  # the final validation's log p(x) at k = 1: seconds,
            config = C.replace(config, iw_samples=1)  # not the half minute of k = 50
        trainer = Trainer(recipe.model, data, settings, config=config)
        logged = [ev.values for ev in trainer.fit()
                  if isinstance(ev, Metrics) and ev.phase == "train"]
        if not logged:
            raise ConfigError(f"lesson {lesson.name}: training logged nothing")
        out["train"] = logged[-1]
    if lesson.lab is not None:
        from workbench.experiments.lab import GanLab

        lab = GanLab(lesson.lab["dataset"], lesson.lab["model"], dict(lesson.lab["config"]),
                     seed=int(lesson.lab["seed"]))
        lab.step_both(steps)
        snap = lab.snapshot()
        out["lab"] = {"step": lab.step, "modes": snap.modes.modes_captured if snap.modes else 0}
    if lesson.dirac is not None:
        from workbench.analysis import dirac as D

        p = lesson.dirac
        reg = None if p["reg"] == "none" else p["reg"]
        kw = dict(loss=p["loss"], reg=reg, gamma=float(p.get("gamma", 0.0)))
        path = D.simulate(**kw, method="alternating", lr=float(p.get("lr", 0.2)),
                          steps=steps, start=tuple(p.get("start", (1.0, 1.0))))
        eig = D.eigenvalues(**kw, sigma=float(p.get("sigma", 0.0)))
        if not np.all(np.isfinite(path)):
            raise ConfigError(f"lesson {lesson.name}: the Dirac-GAN trajectory is not finite")
        out["dirac"] = {"end": path[-1].tolist(), "eigenvalues": [complex(e) for e in eig]}
    if lesson.experiment is not None:
        # the fields' quick values win over the lesson's: a rehearsal takes seconds
        name = lesson.experiment["name"]
        quick = C.field_metadata(get_experiment(name).params_class(), "quick")
        params = {**lesson.experiment["params"], **quick}
        if "steps" in params:  # a smoke test: a few optimisation steps are enough
            params["steps"] = min(int(params["steps"]), 10 * steps)
        res = run_experiment(name, params)
        out["experiment"] = res.values
    return out
