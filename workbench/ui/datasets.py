"""The entries of the dataset picker: the registered datasets, the torchvision sets under the
data folder (usable when present, downloadable when not) and image folders (this session's and
the recently used ones). An entry's `choice` is what load_dataset takes: a name or a source dict.

Torch-free at module level (workbench.data.* are): the window builds the list before torch loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from workbench.core.paths import data_root
from workbench.data.cache import dataset_key
from workbench.data.tv import TV_DATASETS, is_present

DEFAULT_DATASET = "mnist5k"
MAX_RECENT_FOLDERS = 8
# What a run records about its dataset beside the source it was loaded from.
RECORD_ONLY = ("name", "spec", "n_train", "n_val")


def dataset_choice(key: str):
    """The inverse of dataset_key: a name, or the source dict a folder was loaded with."""
    if isinstance(key, str) and key.startswith("{"):
        try:
            return json.loads(key)
        except ValueError:
            return DEFAULT_DATASET
    return key


def folder_source(record: dict) -> dict:
    """The source to load a folder again from what a run or recipe recorded about it."""
    return {k: v for k, v in record.items() if k not in RECORD_ONLY}


def is_torchvision(choice) -> bool:
    return isinstance(choice, dict) and "torchvision" in choice


@dataclass
class DatasetEntry:
    label: str
    choice: object  # a name or a source dict
    tooltip: str


class DatasetList(QObject):
    changed = Signal()  # entries added, removed or relabelled

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.entries: list[DatasetEntry] = []
        self._kinds: dict[str, str] = {}  # registered name -> "image" | "points"

    def fill(self, datasets) -> None:
        """The registered datasets (workbench.data.list_datasets()), then the torchvision sets,
        then the recently used folders."""
        self._kinds = {d.name: d.kind for d in datasets}
        self.entries = [DatasetEntry(d.name, d.name, d.description) for d in datasets]
        self._list_torchvision()
        for source in self.recent_folders():
            self._add_folder(source)
        self.changed.emit()

    # -- lookups -----------------------------------------------------------------------------------
    def find(self, choice) -> int:
        key = dataset_key(choice)
        return next((i for i, e in enumerate(self.entries) if dataset_key(e.choice) == key), -1)

    def label(self, choice) -> str:
        i = self.find(choice)
        return self.entries[i].label if i >= 0 else str(choice)

    def kind(self, choice) -> str:
        if isinstance(choice, dict):
            return "image"  # folders and torchvision sets are images
        return self._kinds.get(choice, "image")

    def torchvision_entry(self, name: str):
        """The list's choice for torchvision set `name`, whatever folder it is under."""
        return next((e.choice for e in self.entries
                     if is_torchvision(e.choice) and e.choice["torchvision"] == name), None)

    # -- image folders -------------------------------------------------------------------------------
    def add_folder(self, source: dict, label: str | None = None) -> dict:
        self._add_folder(source, label)
        self.changed.emit()
        return source

    def _add_folder(self, source: dict, label: str | None = None) -> None:
        i = self.find(source)
        if i < 0:
            name = Path(source["folder"]).name or source["folder"]
            size = source.get("size")
            self.entries.append(DatasetEntry(label or f"{name} (folder, {size}×{size})", source,
                                             ""))
            i = len(self.entries) - 1
        self.entries[i].tooltip = f"Image folder {source['folder']}"

    def recent_folders(self) -> list[dict]:
        try:
            items = json.loads(str(self.settings.value("recent_folders", "[]")))
        except ValueError:
            return []
        return [d for d in items if isinstance(d, dict) and Path(d.get("folder", "")).is_dir()]

    def remember_folder(self, source: dict) -> None:
        recent = [source] + [d for d in self.recent_folders()
                             if dataset_key(d) != dataset_key(source)]
        self.settings.setValue("recent_folders", json.dumps(recent[:MAX_RECENT_FOLDERS]))

    # -- torchvision sets ------------------------------------------------------------------------------
    def data_root(self) -> str:
        return str(self.settings.value("data_root", "") or data_root())

    def set_data_root(self, path: str) -> None:
        """List the torchvision sets under `path` instead (they move to the end of the list)."""
        self.settings.setValue("data_root", path)
        self.entries = [e for e in self.entries if not is_torchvision(e.choice)]
        self._list_torchvision()
        self.changed.emit()

    def refresh_torchvision(self) -> None:
        """Say again which sets are downloaded (after a download)."""
        self._list_torchvision()
        self.changed.emit()

    def _list_torchvision(self) -> None:
        root = self.data_root()
        for name, ds in TV_DATASETS.items():
            choice = {"torchvision": name, "root": root}
            text = f"{name} (torchvision)" + ("" if is_present(name, root) else
                                              " — not downloaded")
            tip = f"{ds.description}\nin {root}"
            i = self.find(choice)
            if i < 0:
                self.entries.append(DatasetEntry(text, choice, tip))
            else:
                self.entries[i].label, self.entries[i].tooltip = text, tip
