"""Where the app keeps its runs and logs (overridable for tests and shared machines)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path


def workspace_dir() -> Path:
    """Folder of GUI-started runs: $GENWORKBENCH_WORKSPACE, else the user data directory."""
    env = os.environ.get("GENWORKBENCH_WORKSPACE")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("genworkbench", appauthor=False)) / "runs"


def cache_dir() -> Path:
    """Caches (decoded image folders, metric classifiers): $GENWORKBENCH_CACHE, else the user
    cache directory."""
    env = os.environ.get("GENWORKBENCH_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("genworkbench", appauthor=False))


def data_root() -> Path:
    """Where torchvision datasets live: $GENWORKBENCH_DATA, else `datasets` in the user data
    directory."""
    env = os.environ.get("GENWORKBENCH_DATA")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("genworkbench", appauthor=False)) / "datasets"


def new_run_dir(model: str, root: Path | None = None) -> Path:
    root = Path(root) if root is not None else workspace_dir()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / f"{model}-{stamp}"
    k = 1
    while path.exists():
        k += 1
        path = root / f"{model}-{stamp}-{k}"
    return path
