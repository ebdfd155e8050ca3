"""Dataclass configs whose fields carry limits and help: fields_of, replace, parsing, round trip."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Literal

import pytest

from workbench.core import config as C
from workbench.core.config import FieldSpec, param
from workbench.core.errors import ConfigError, WorkbenchError


@dataclass(frozen=True)
class Demo:
    flag: bool = param(False, help="A switch.")
    count: int = param(3, min=1, max=10, help="How many.")
    rate: float = param(1e-3, min=1e-6, max=1.0, log=True, label="learning rate",
                        help="Step size.")
    mode: Literal["fast", "slow"] = param("fast", help="Speed.")
    name: str = param("demo", help="A name.")
    sizes: tuple[int, ...] = param((4, 2), min=1, max=64, help="Layer widths.")
    colour: str = param("red", choices=("red", "green"), help="Colour from a fixed list.")
    points: tuple[float, ...] = param((-1.0, 0.5), min=-10.0, max=10.0, quick=(0.5,),
                                      help="Where to look.")

    def check(self):
        if self.mode == "slow" and self.count > 5:
            raise ConfigError("mode=slow allows at most 5 for count")


def spec(name: str) -> FieldSpec:
    return {s.name: s for s in C.fields_of(Demo)}[name]


# -- fields_of / param ---------------------------------------------------------------------------
def test_fields_of_reads_kinds_limits_help_and_labels():
    specs = {s.name: s for s in C.fields_of(Demo)}
    assert list(specs) == ["flag", "count", "rate", "mode", "name", "sizes", "colour", "points"]
    assert {n: s.kind for n, s in specs.items()} == {
        "flag": "bool", "count": "int", "rate": "float", "mode": "choice", "name": "str",
        "sizes": "ints", "colour": "str", "points": "floats"}
    assert (specs["count"].min, specs["count"].max, specs["count"].default) == (1, 10, 3)
    assert specs["rate"].log is True and specs["count"].log is False
    assert specs["rate"].label == "learning rate"
    assert specs["count"].label == "count"  # defaults to the name with spaces
    assert specs["mode"].choices == ("fast", "slow")  # from the Literal
    assert specs["colour"].choices == ("red", "green")  # from param(choices=...)
    assert specs["sizes"].default == (4, 2)
    assert specs["flag"].help == "A switch."


def test_fields_of_an_instance_reports_its_current_values():
    cfg = C.replace(Demo(), count=7)
    assert {s.name: s.default for s in C.fields_of(cfg)}["count"] == 7


def test_field_spec_to_json_is_json_ready():
    d = spec("sizes").to_json()
    assert d["default"] == [4, 2]
    d = spec("mode").to_json()
    assert d["choices"] == ["fast", "slow"]
    json.dumps([s.to_json() for s in C.fields_of(Demo)])  # no tuples or objects left


def test_param_rejects_mutable_defaults():
    with pytest.raises(TypeError):
        param([1, 2], help="a list is shared between instances")


def test_unsupported_field_type_is_a_programming_error():
    @dataclass(frozen=True)
    class Bad:
        x: list = dataclasses.field(default=None)

    with pytest.raises(TypeError):
        C.fields_of(Bad)


# -- replace: limits -----------------------------------------------------------------------------
def test_replace_returns_a_new_checked_config():
    base = Demo()
    new = C.replace(base, count=5, rate=0.01, mode="slow", sizes=(8,))
    assert (new.count, new.rate, new.mode, new.sizes) == (5, 0.01, "slow", (8,))
    assert base.count == 3  # frozen original untouched


@pytest.mark.parametrize("key, value, words", [
    ("count", 0, ["count", "at least 1"]),
    ("count", 11, ["count", "at most 10"]),
    ("count", 2.5, ["count", "whole number"]),
    ("count", True, ["count", "whole number"]),
    ("count", float("inf"), ["count", "whole number"]),
    ("count", float("nan"), ["count", "whole number"]),
    ("count", 10**400, ["count", "at most 10"]),
    ("rate", 2.0, ["rate", "at most 1.0"]),
    ("rate", 0.0, ["rate", "at least"]),
    ("rate", float("nan"), ["rate", "finite"]),
    ("rate", float("inf"), ["rate", "finite"]),
    ("flag", 1, ["flag", "true or false"]),
    ("mode", "medium", ["mode", "fast", "slow"]),
    ("colour", "blue", ["colour", "red", "green"]),
    ("name", 5, ["name", "text"]),
    ("sizes", (4, 0), ["sizes", "0"]),
    ("sizes", (4, 65), ["sizes", "65"]),
    ("sizes", (4, 2.5), ["sizes", "whole numbers"]),
    ("sizes", 4, ["sizes", "whole numbers"]),
    ("points", (1.0, 11.0), ["points", "11.0"]),
    ("points", (1.0, float("nan")), ["points", "finite"]),
    ("points", (1.0, "a"), ["points", "list of numbers"]),
    ("points", 0.5, ["points", "list of numbers"]),
])
def test_replace_enforces_limits_and_names_the_field(key, value, words):
    with pytest.raises(ConfigError) as ei:
        C.replace(Demo(), **{key: value})
    msg = str(ei.value)
    for w in words:
        assert w in msg, (w, msg)


def test_config_error_is_a_workbench_error():
    assert issubclass(ConfigError, WorkbenchError)


def test_replace_unknown_key_lists_the_known_ones():
    with pytest.raises(ConfigError) as ei:
        C.replace(Demo(), cuont=3)
    msg = str(ei.value)
    assert "'cuont'" in msg and "Demo" in msg
    assert "count" in msg and "rate" in msg


def test_replace_runs_the_cross_field_check():
    assert C.replace(Demo(), mode="slow", count=5).count == 5
    with pytest.raises(ConfigError, match="mode=slow"):
        C.replace(Demo(), mode="slow", count=6)


def test_whole_floats_become_ints():
    new = C.replace(Demo(), count=4.0)
    assert new.count == 4 and type(new.count) is int


def test_replace_parses_strings_for_non_text_fields():
    new = C.replace(Demo(), count="7", rate="1e-2", flag="yes", sizes="16,8")
    assert (new.count, new.rate, new.flag, new.sizes) == (7, 0.01, True, (16, 8))
    assert type(new.rate) is float
    assert C.replace(Demo(), name="42").name == "42"  # text stays text


def test_validate_checks_a_hand_built_config():
    C.validate(Demo())
    with pytest.raises(ConfigError, match="count"):
        C.validate(Demo(count=99))  # dataclass construction bypasses the limits


# -- parse_value ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("true", True), ("True", True), ("1", True), ("yes", True), ("on", True),
    ("false", False), ("0", False), ("no", False), ("OFF", False), (" true ", True),
])
def test_parse_bool(text, expected):
    assert C.parse_value(spec("flag"), text) is expected


@pytest.mark.parametrize("text, expected", [("3", 3), ("3.0", 3), ("1e1", 10), (" 7 ", 7),
                                            ("-2", -2)])
def test_parse_int(text, expected):
    v = C.parse_value(spec("count"), text)
    assert v == expected and type(v) is int


@pytest.mark.parametrize("text, expected", [("0.5", 0.5), ("1e-3", 1e-3), ("2", 2.0)])
def test_parse_float(text, expected):
    v = C.parse_value(spec("rate"), text)
    assert v == expected and type(v) is float


@pytest.mark.parametrize("text, expected", [
    ("512,256", (512, 256)), ("(512, 256)", (512, 256)), ("[3]", (3,)), ("64", (64,)),
    ("1, 2, 3", (1, 2, 3)), ("", ()),
])
def test_parse_int_tuple(text, expected):
    assert C.parse_value(spec("sizes"), text) == expected


@pytest.mark.parametrize("text, expected", [
    ("-1,0.5", (-1.0, 0.5)), ("(-1, 0.5)", (-1.0, 0.5)), ("[2]", (2.0,)), ("-1 0.5 1e-3",
                                                                         (-1.0, 0.5, 1e-3)),
    ("", ()),
])
def test_parse_float_tuple(text, expected):
    v = C.parse_value(spec("points"), text)
    assert v == expected and all(type(x) is float for x in v)


def test_floats_accept_whole_numbers_and_keep_floats():
    new = C.replace(Demo(), points=[1, 2.5])  # a TOML list may hold whole numbers
    assert new.points == (1.0, 2.5) and all(type(x) is float for x in new.points)
    assert C.replace(Demo(), points="3, -4").points == (3.0, -4.0)


def test_field_metadata_reads_one_key_of_the_fields_that_set_it():
    assert C.field_metadata(Demo, "quick") == {"points": (0.5,)}
    assert C.field_metadata(Demo(), "quick") == {"points": (0.5,)}
    assert C.field_metadata(Demo, "rebuild") == {}


@pytest.mark.parametrize("field, text", [
    ("flag", "maybe"), ("flag", "2"),
    ("count", "3.5"), ("count", "three"), ("count", ""), ("count", "inf"), ("count", "1e400"),
    ("count", "nan"),
    ("rate", "fast"), ("rate", ""),
    ("sizes", "1,a"), ("sizes", "1.5,2"),
    ("points", "1,a"), ("points", "one two"),
])
def test_parse_unparsable_text_names_the_field(field, text):
    with pytest.raises(ConfigError) as ei:
        C.parse_value(spec(field), text)
    assert str(ei.value).startswith(field + " must be")
    assert repr(text) in str(ei.value)


def test_parse_choice_and_text_return_the_text():
    assert C.parse_value(spec("mode"), " slow ") == "slow"
    assert C.parse_value(spec("name"), "x") == "x"


def test_parsed_values_still_meet_the_limits():
    with pytest.raises(ConfigError, match="count must be at most 10"):
        C.replace(Demo(), count="11")
    with pytest.raises(ConfigError, match="rate must be finite"):
        C.replace(Demo(), rate="inf")


# -- parse_assignments ---------------------------------------------------------------------------
def test_parse_assignments():
    assert C.parse_assignments(["beta=4", "lr=1e-3"]) == {"beta": "4", "lr": "1e-3"}
    assert C.parse_assignments(["latent-dim=2"]) == {"latent_dim": "2"}
    assert C.parse_assignments(["name=a=b"]) == {"name": "a=b"}  # split at the first '='
    assert C.parse_assignments([" beta =4"]) == {"beta": "4"}
    assert C.parse_assignments(None) == {}
    assert C.parse_assignments([]) == {}


def test_parse_assignments_without_equals_sign():
    with pytest.raises(ConfigError) as ei:
        C.parse_assignments(["beta=4", "lr"])
    assert "key=value" in str(ei.value) and "'lr'" in str(ei.value)


# -- to_dict / from_dict -------------------------------------------------------------------------
def test_to_dict_is_plain_json():
    d = C.to_dict(Demo())
    assert d == {"flag": False, "count": 3, "rate": 1e-3, "mode": "fast", "name": "demo",
                 "sizes": [4, 2], "colour": "red", "points": [-1.0, 0.5]}
    assert json.loads(json.dumps(d)) == d


def test_round_trip_through_json():
    cfg = C.replace(Demo(), flag=True, count=5, rate=0.25, mode="slow", sizes=(32, 16, 8),
                    colour="green", name="x", points=(0.1, 2.0))
    back = C.from_dict(Demo, json.loads(json.dumps(C.to_dict(cfg))))
    assert back == cfg
    assert type(back.sizes) is tuple and type(back.points) is tuple


def test_from_dict_fills_missing_keys_with_defaults():
    assert C.from_dict(Demo, {"count": 9}) == Demo(count=9)


def test_from_dict_unknown_key_is_an_error():
    with pytest.raises(ConfigError, match="unknown setting 'colour_x'"):
        C.from_dict(Demo, {"count": 4, "colour_x": "red"})


def test_from_dict_checks_limits():
    with pytest.raises(ConfigError, match="count"):
        C.from_dict(Demo, {"count": 0})


def test_real_model_config_round_trip():
    from workbench.models.registry import get_config

    cfg = get_config("vae_conv", latent_dim=3, beta=2.5, channels=(8, 16))
    assert C.from_dict(type(cfg), json.loads(json.dumps(C.to_dict(cfg)))) == cfg


def test_conv_needs_at_least_one_channel_layer():
    from workbench.models.registry import get_config

    with pytest.raises(ConfigError, match="channels"):
        get_config("vae_conv", channels="")
    assert get_config("vae_mlp", hidden="").hidden == ()  # an MLP may have no hidden layer
