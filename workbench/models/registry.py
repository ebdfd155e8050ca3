"""The model registry (timm style).

Each variant is one small function decorated with `@register_model(ModelClass)` that returns its
default config; the first line of its docstring is the one-line description shown in the GUI and
by `genworkbench models`. Importing this module imports `workbench.models` first, whose
__init__ imports every family, so the registry is full whenever it can be asked.

    create_model("vae_mlp", data=spec, latent_dim=2)
    list_models("vae*")
    get_config("vae_conv")
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Callable

from workbench.core import config as C
from workbench.core.errors import ConfigError
from workbench.data.spec import DataSpec


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str
    description: str
    model_cls: type
    default_config: Callable[[], object]
    # The data the model is made for: the GUI picks `default_dataset` when the model is chosen,
    # create_model refuses kinds not in `data_kinds` (the zoo's models take points too where
    # their config allows, e.g. arch=mlp with likelihood=mse, and say so themselves otherwise);
    # `batch_size` and `steps` (None = the trainer's defaults) are what its recipe was tuned
    # with, used when the user sets neither.
    default_dataset: str = "mnist5k"
    data_kinds: tuple[str, ...] = ("image", "points")
    batch_size: int | None = None
    steps: int | None = None

    @property
    def config_cls(self) -> type:
        return type(self.default_config())


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(model_cls: type, default_dataset: str = "mnist5k",
                   data_kinds: tuple[str, ...] = ("image", "points"),
                   batch_size: int | None = None, steps: int | None = None):
    def deco(fn):
        name = fn.__name__
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        # the description: the docstring's first paragraph, however many lines it is wrapped on
        doc = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())
        _REGISTRY[name] = ModelInfo(name=name, family=model_cls.family,
                                    description=doc or name,
                                    model_cls=model_cls, default_config=fn,
                                    default_dataset=default_dataset,
                                    data_kinds=tuple(data_kinds), batch_size=batch_size,
                                    steps=steps)
        return fn
    return deco


def list_models(pattern: str = "*") -> list[str]:
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def get_model_info(name: str) -> ModelInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = fnmatch.filter(_REGISTRY, f"*{name[:3]}*") if name else []
        hint = f" (did you mean {', '.join(close[:4])}?)" if close else ""
        raise ConfigError(f"unknown model {name!r}{hint}; `genworkbench models` lists them") from None


def get_config(name: str, **overrides):
    cfg = get_model_info(name).default_config()
    return C.replace(cfg, **overrides) if overrides else cfg


def create_model(name: str, data=None, config=None, **overrides):
    """Build a registered model for a dataset spec (`DataSpec`; MNIST's shape when omitted)."""
    info = get_model_info(name)
    cfg = config if config is not None else info.default_config()
    if overrides:
        cfg = C.replace(cfg, **overrides)
    C.validate(cfg)
    data = data or DataSpec.mnist()
    if data.kind not in info.data_kinds:
        raise ConfigError(f"{name} trains on {' or '.join(info.data_kinds)} data (e.g. "
                          f"{info.default_dataset}), not on {data.kind} data of shape "
                          f"{tuple(data.shape)}")
    return info.model_cls(cfg, data)
