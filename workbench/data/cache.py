"""One cache of loaded datasets, on the CPU, keyed by what describes them (a built-in name, a
folder's source, a run's recorded dataset). The window's panels and background jobs that each
need the data ask here, so a dataset is loaded once and held once, whichever panel asked first.
Safe from worker threads: one lock, held while loading (two jobs asking for the same set wait
for one load instead of making two)."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from workbench.data.registry import load_dataset
from workbench.data.spec import TensorData

KEEP = 2  # datasets held at once: the chosen one and, say, an opened run's; they can be large

_lock = threading.Lock()
_held: OrderedDict[str, TensorData] = OrderedDict()


def dataset_key(desc) -> str:
    """A string for a dataset description: a name as it is, a dict as sorted JSON."""
    return json.dumps(desc, sort_keys=True, default=str) if isinstance(desc, dict) else str(desc)


def cached_dataset(desc) -> TensorData:
    """The dataset `desc` describes, on the CPU, loaded at most once while it stays in the cache."""
    key = dataset_key(desc)
    with _lock:
        data = _held.get(key)
        if data is None:
            data = load_dataset(desc).to("cpu")
            _held[key] = data
            while len(_held) > KEEP:
                _held.popitem(last=False)
        _held.move_to_end(key)
        return data


def remember_dataset(desc, data: TensorData) -> None:
    """Hold data loaded elsewhere (a folder just scanned) under its description, replacing what
    an earlier load of it left here."""
    with _lock:
        _held[dataset_key(desc)] = data.to("cpu")
        _held.move_to_end(dataset_key(desc))
        while len(_held) > KEEP:
            _held.popitem(last=False)


def forget_datasets() -> None:
    """Drop every held dataset (a folder re-scanned, a test that wants a cold start)."""
    with _lock:
        _held.clear()
