"""How a run's training settings are decided, the same way from the command line and the window:
a base (a recipe's settings, else the defaults), then what the model's recipe was tuned with
(ModelInfo.batch_size / .steps, e.g. the toy GANs) for whatever the user leaves unset, then what
the user set (flags, --set, the Training form)."""

from __future__ import annotations

from workbench.core import config as C
from workbench.engine.trainer import TrainSettings
from workbench.models.registry import get_model_info


def tuned_settings(model_name: str, user_set=()) -> dict:
    """The settings `model_name` was tuned with, less those the user set (names in `user_set`):
    its batch size, and its length in steps (which then replaces epochs)."""
    info = get_model_info(model_name)
    user_set = set(user_set)
    out = {}
    if info.batch_size and "batch_size" not in user_set:
        out["batch_size"] = info.batch_size
    if info.steps and not {"steps", "epochs"} & user_set:
        out.update(steps=info.steps, epochs=0)
    return out


def resolve_settings(model_name: str, base: TrainSettings | None = None, changes=None, *,
                     tuned: bool = True) -> TrainSettings:
    """`base`, then the model's tuned settings for the names `changes` leaves unset (when
    `tuned`: not for a recipe, which says everything, nor a resumed run, which keeps its own),
    then `changes`; every value checked against its field's limits."""
    changes = dict(changes or {})
    merged = tuned_settings(model_name, changes) if tuned else {}
    merged.update(changes)
    return C.replace(base if base is not None else TrainSettings(), **merged)
