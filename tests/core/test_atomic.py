"""Atomic writes: the new content replaces the old in one step and no temp file is left."""

from __future__ import annotations

import os
import stat

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


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX file modes")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    """A run on a shared disk: run.json, checkpoints and sheets get 0666 less the umask, as a
    plain open() would give them, not the temp file's private 0600."""
    import importlib

    import workbench.core.atomic as A

    old = os.umask(umask)
    try:
        importlib.reload(A)  # the module reads the umask once, at import
        A.atomic_write_text(tmp_path / "run.json", "{}")
        with A.atomic_writer(tmp_path / "w.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
        importlib.reload(A)
    for name in ("run.json", "w.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
