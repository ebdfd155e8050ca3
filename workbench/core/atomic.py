"""Atomic file writes: a temp file in the same folder, fsync, then os.replace. A reader (or a
crash) sees either the old file or the new one, never half of it. The file gets the mode a plain
open() would give it (0666 less the user's umask), not the temp file's private 0600: a run on a
shared disk stays readable by the colleagues the umask lets in."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open(path, "w") would create, read once at start


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_writer(path) as f:
        f.write(data)


@contextlib.contextmanager
def atomic_writer(path: Path):
    """A binary file object for streaming a large file (e.g. a .npy array) without holding its
    bytes in memory; it replaces `path` only when the block ends without an exception."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX; on Windows the temp file's mode is already the usual
            os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows opening a folder)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_png(rgb_or_grey, path: Path, text: dict[str, str] | None = None) -> None:
    """Write an H×W or H×W×C uint8 array as a PNG (with optional text chunks), atomically."""
    import io

    import numpy as np
    from PIL import Image, PngImagePlugin

    arr = np.asarray(rgb_or_grey)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", pnginfo=info)
    atomic_write_bytes(Path(path), buf.getvalue())
