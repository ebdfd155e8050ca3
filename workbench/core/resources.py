"""Where the shipped resources (embedded dataset, icons, style sheets) live."""

from __future__ import annotations

import os
from pathlib import Path


def resources_dir() -> Path:
    """The `resources/` folder: $GENWORKBENCH_RESOURCES, else beside the package (source tree)."""
    override = os.environ.get("GENWORKBENCH_RESOURCES")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    for candidate in (here.parents[1] / "resources", here.parent / "resources"):
        if candidate.is_dir():
            return candidate
    return here.parents[1] / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
