"""Atomic writes: the new content replaces the old in one step and no temp file is left."""

from __future__ import annotations

import os

import pytest

from workbench.core.atomic import atomic_write_bytes, atomic_write_text


def test_atomic_write_creates_and_replaces(tmp_path):
    target = tmp_path / "a" / "b" / "run.json"
    atomic_write_text(target, "one")
    assert target.read_text() == "one"
    atomic_write_text(target, "two ✓")
    assert target.read_text(encoding="utf-8") == "two ✓"
    assert os.listdir(target.parent) == ["run.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]  # the temp file was removed
