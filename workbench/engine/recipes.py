"""Recipe files: everything needed to repeat a run (model, config, dataset, seed, length,
batch size and the other training settings) in a small TOML or JSON file.

    model = "vae_mlp"
    dataset = "mnist5k"          # or a table: a folder or torchvision set as a run records it
    [config]                     # any subset of the model's config; the rest are defaults
    latent_dim = 2
    [train]                      # any subset of TrainSettings
    seed = 0
    steps = 2000
    batch_size = 128

`seed`, `steps`, `epochs` and `batch_size` may also sit at the top level. Unknown keys are errors
that name the key, so a typo never silently trains something else. Reading uses tomllib; writing
uses the small TOML writer below (the values are plain scalars, lists and one level of tables).
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from workbench import __version__
from workbench.core import config as C
from workbench.core.atomic import atomic_write_text
from workbench.core.errors import ConfigError
from workbench.engine.trainer import TrainSettings

TOP_KEYS = ("model", "dataset", "config", "train", "description", "workbench_version")
TRAIN_SHORTHANDS = ("seed", "steps", "epochs", "batch_size")
# Description fields a run records about its dataset that are not part of choosing it.
_DATASET_RECORDED = ("spec", "n_train", "n_val")


@dataclass
class Recipe:
    model: str
    dataset: str | dict
    config: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    description: str = ""

    # -- typed views ----------------------------------------------------------------------------
    def model_config(self):
        """The model's config: its defaults with this file's values (checked against limits)."""
        # imported here: the window reads recipes before it loads torch (the models import it)
        from workbench.models.registry import get_model_info

        info = get_model_info(self.model)  # raises ConfigError for an unknown model
        base = info.default_config()
        try:
            return C.replace(base, **{k: tuple(v) if isinstance(v, list) else v
                                      for k, v in self.config.items()})
        except ConfigError as e:
            raise ConfigError(f"[config] of the recipe: {e}") from None

    def settings(self, base=None):
        """TrainSettings: `base` (default: the defaults) with this file's [train] values."""
        try:
            return C.replace(base or TrainSettings(), **self.train)
        except ConfigError as e:
            raise ConfigError(f"[train] of the recipe: {e}") from None

    def check(self) -> None:
        self.model_config()
        self.settings()

    # -- conversions ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {"model": self.model, "dataset": self.dataset}
        if self.description:
            d["description"] = self.description
        d["workbench_version"] = __version__
        d["config"] = dict(self.config)
        d["train"] = dict(self.train)
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "the recipe") -> "Recipe":
        if not isinstance(d, dict):
            raise ConfigError(f"{source} must hold a table of settings")
        unknown = [k for k in d if k not in TOP_KEYS + TRAIN_SHORTHANDS]
        if unknown:
            raise ConfigError(f"{source}: unknown key {unknown[0]!r}; known: "
                              f"{', '.join(TOP_KEYS + TRAIN_SHORTHANDS)}")
        for key in ("model", "dataset"):
            if key not in d:
                raise ConfigError(f"{source}: missing key {key!r}")
        if not isinstance(d["model"], str):
            raise ConfigError(f"{source}: 'model' must be a string (a registered model name)")
        dataset = d["dataset"]
        if not isinstance(dataset, (str, dict)):
            raise ConfigError(f"{source}: 'dataset' must be a name, a path or a table")
        for key in ("config", "train"):
            if not isinstance(d.get(key, {}), dict):
                raise ConfigError(f"{source}: '{key}' must be a table")
        train = dict(d.get("train", {}))
        for key in TRAIN_SHORTHANDS:
            if key in d:
                if key in train and train[key] != d[key]:
                    raise ConfigError(f"{source}: {key!r} is set both at the top and in [train]")
                train[key] = d[key]
        if "steps" in d and "epochs" not in train:
            train["epochs"] = 0  # a top-level length is the length
        elif "epochs" in d and "steps" not in train:
            train["steps"] = 0
        return cls(d["model"], dataset, dict(d.get("config", {})), train,
                   str(d.get("description", "")))

    @classmethod
    def from_run(cls, run) -> "Recipe":
        """The recipe that repeats a run (an engine.runs.RunDir)."""
        desc = run.meta.get("dataset", {})
        if isinstance(desc, dict) and "builtin" in desc:
            dataset = desc["builtin"]
        elif isinstance(desc, dict):
            dataset = {k: v for k, v in desc.items() if k not in _DATASET_RECORDED}
        else:
            dataset = desc
        train = dict(run.meta.get("train") or {})
        train["seed"] = int(run.meta.get("seed", train.get("seed", 0)))
        return cls(run.model_name, dataset, dict(run.meta["config"]), train,
                   f"from the run {run.path.name}")

    def dataset_argument(self):
        """What load_dataset takes: a name or path string, or a description table."""
        return self.dataset


# -- files ---------------------------------------------------------------------------------------
def load_recipe(path: Path) -> Recipe:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ConfigError(f"a recipe file ends in .toml or .json, not {path.name!r}")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"recipe file {path} does not exist") from None
    except OSError as e:
        raise ConfigError(f"cannot read recipe file {path}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
        d = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(f"recipe file {path} is not UTF-8 text") from None
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise ConfigError(f"recipe file {path} is not valid {suffix[1:].upper()}: {e}") \
            from None
    exp = Recipe.from_dict(d, source=str(path))
    exp.check()
    return exp


def save_recipe(exp: Recipe, path: Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise ConfigError(f"a recipe file ends in .toml or .json, not {path.name!r}")
    d = exp.to_dict()
    text = to_toml(d) if suffix == ".toml" else json.dumps(d, indent=2) + "\n"
    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror or e}") from None
    return path


# -- a small TOML writer (scalars, arrays of scalars, tables) -------------------------------------
def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)  # shortest round-trip form, e.g. 0.001, 1e-05, 2.0
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, Path):
        return _scalar(str(v))
    raise ConfigError(f"cannot write a {type(v).__name__} value to TOML")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False)


def to_toml(d: dict, prefix: str = "") -> str:
    """TOML for a dict of scalars, lists and nested dicts. None has no TOML form: it is left
    out, which reads back as the field's default."""
    lines, tables = [], []
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            lines.append(f"{_key(k)} = {_scalar(v)}")
    out = "\n".join(lines) + ("\n" if lines else "")
    for k, v in tables:
        name = f"{prefix}.{_key(k)}" if prefix else _key(k)
        out += f"\n[{name}]\n" + to_toml(v, name)
    return out
