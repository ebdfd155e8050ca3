"""Dataclass configs whose fields carry their own limits and help text.

A config field is declared with `param(default, help=..., min=..., max=..., log=..., choices=...)`.
`fields_of` turns a config class into `FieldSpec`s that the CLI (`--set key=value`), the GUI form
and `genworkbench models --json` all read, so limits and help are written exactly once.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

from workbench.core.errors import ConfigError


def param(default, *, help: str, min: float | None = None, max: float | None = None,
          log: bool = False, choices: tuple | None = None, label: str | None = None,
          rebuild: str | None = None, data_kinds: tuple[str, ...] | None = None,
          quick=None):
    """A config field with help text and limits (`log` asks the GUI for a logarithmic control).

    What a field means to the rest of the app is said here too, never in a list of names
    elsewhere: `rebuild` ("all" or "d") marks a field that changes a network's shape, so a live
    change rebuilds the networks (all, or D alone); `data_kinds` names the data a field means
    something for (e.g. ("image",): a form for 2-D points hides it); `quick` is the value a
    rehearsal or a test uses so that a study runs in seconds."""
    meta = {"help": help, "min": min, "max": max, "log": log, "choices": choices, "label": label,
            "rebuild": rebuild, "data_kinds": data_kinds, "quick": quick}
    if isinstance(default, (list, dict, set)):
        raise TypeError("config defaults must be immutable (use a tuple)")
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # "bool" | "int" | "float" | "str" | "choice" | "ints" | "floats"
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    log: bool = False
    choices: tuple | None = None
    label: str = ""

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        if isinstance(d["default"], tuple):
            d["default"] = list(d["default"])
        if d["choices"] is not None:
            d["choices"] = list(d["choices"])
        return d


def _kind_of(tp) -> tuple[str, tuple | None]:
    if get_origin(tp) is Literal:
        return "choice", tuple(get_args(tp))
    if tp is bool:
        return "bool", None
    if tp is int:
        return "int", None
    if tp is float:
        return "float", None
    if tp is str:
        return "str", None
    if get_origin(tp) is tuple and get_args(tp)[:1] == (int,):
        return "ints", None
    if get_origin(tp) is tuple and get_args(tp)[:1] == (float,):
        return "floats", None
    raise TypeError(f"unsupported config field type {tp!r}")


def fields_of(cfg_or_cls) -> list[FieldSpec]:
    cls = cfg_or_cls if isinstance(cfg_or_cls, type) else type(cfg_or_cls)
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        kind, lit_choices = _kind_of(hints[f.name])
        m = f.metadata
        default = getattr(cfg_or_cls, f.name) if not isinstance(cfg_or_cls, type) else f.default
        specs.append(FieldSpec(
            name=f.name, kind=kind, default=default, help=m.get("help", ""),
            min=m.get("min"), max=m.get("max"), log=m.get("log", False),
            choices=m.get("choices") or lit_choices,
            label=m.get("label") or f.name.replace("_", " "),
        ))
    return specs


def field_metadata(cfg_or_cls, key: str) -> dict[str, Any]:
    """{field name: value} of one `param()` metadata key (e.g. "rebuild", "data_kinds") for
    the fields that set it, in field order."""
    cls = cfg_or_cls if isinstance(cfg_or_cls, type) else type(cfg_or_cls)
    return {f.name: f.metadata[key] for f in dataclasses.fields(cls)
            if f.metadata.get(key) is not None}


def _check(spec: FieldSpec, value):
    """Return `value` coerced to the field's kind, or raise ConfigError naming the field."""
    name = spec.name
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {value!r}")
        return value
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and (not math.isfinite(value) or value != int(value))):
            raise ConfigError(f"{name} must be a whole number, not {value!r}")
        value = int(value)
    elif spec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, not {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be finite, not {value!r}")
    elif spec.kind == "ints":
        if not isinstance(value, (tuple, list)) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{name} must be a list of whole numbers like 512,256, not {value!r}")
        value = tuple(value)
        for v in value:
            if spec.min is not None and v < spec.min or spec.max is not None and v > spec.max:
                raise ConfigError(f"{name}: each entry must lie in [{spec.min}, {spec.max}], got {v}")
        return value
    elif spec.kind == "floats":
        if not isinstance(value, (tuple, list)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{name} must be a list of numbers like 0.5,1, not {value!r}")
        value = tuple(float(v) for v in value)
        for v in value:
            if not math.isfinite(v):
                raise ConfigError(f"{name}: each entry must be finite, got {v}")
            if spec.min is not None and v < spec.min or spec.max is not None and v > spec.max:
                raise ConfigError(f"{name}: each entry must lie in [{spec.min}, {spec.max}], got {v}")
        return value
    elif spec.kind in ("str", "choice"):
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be text, not {value!r}")
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, spec.choices))}; got {value!r}")
    if spec.min is not None and value < spec.min:
        raise ConfigError(f"{name} must be at least {spec.min}, got {value}")
    if spec.max is not None and value > spec.max:
        raise ConfigError(f"{name} must be at most {spec.max}, got {value}")
    return value


def parse_value(spec: FieldSpec, text: str):
    """Parse the text of `--set key=value` for this field (then check its limits)."""
    t = text.strip()
    try:
        if spec.kind == "bool":
            low = t.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if spec.kind == "int":
            f = float(t)
            if f != int(f):
                raise ValueError
            return int(f)
        if spec.kind == "float":
            return float(t)
        if spec.kind == "ints":
            return tuple(int(p) for p in t.replace(" ", "").strip("()[]").split(",") if p)
        if spec.kind == "floats":  # commas or spaces between the numbers: "-1, 0.5" or "-1 0.5"
            return tuple(float(p) for p in re.split(r"[\s,]+", t.strip("()[] ")) if p)
    except (ValueError, OverflowError):  # OverflowError: int(float("inf")) for "inf", "1e400"
        kinds = {"bool": "true or false", "int": "a whole number", "float": "a number",
                 "ints": "a list of whole numbers like 512,256",
                 "floats": "a list of numbers like 0.5,1"}
        raise ConfigError(f"{spec.name} must be {kinds[spec.kind]}, not {text!r}") from None
    return t


def validate(cfg) -> None:
    for spec in fields_of(cfg):
        _check(spec, getattr(cfg, spec.name))
    post = getattr(cfg, "check", None)
    if callable(post):
        post()


def replace(cfg, **changes):
    """`dataclasses.replace` that checks every changed value against its field's limits."""
    specs = {s.name: s for s in fields_of(cfg)}
    clean = {}
    for key, value in changes.items():
        if key not in specs:
            raise ConfigError(f"unknown setting {key!r} for {type(cfg).__name__}; "
                              f"known: {', '.join(specs)}")
        spec = specs[key]
        if isinstance(value, str) and spec.kind not in ("str", "choice"):
            value = parse_value(spec, value)
        clean[key] = _check(spec, value)
    new = dataclasses.replace(cfg, **clean)
    validate(new)
    return new


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """['beta=4', 'lr=1e-3'] -> {'beta': '4', 'lr': '1e-3'}."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip().replace("-", "_")] = value
    return out


def to_dict(cfg) -> dict:
    d = dataclasses.asdict(cfg)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def from_dict(cls, data: dict):
    """Rebuild a config from run.json; unknown keys are an error (a newer/older schema)."""
    base = cls()
    return replace(base, **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
