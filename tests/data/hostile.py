"""A hostile image folder, built on demand (tests/data/test_folder.py and tests/test_cli_data.py):
every supported format and colour mode, every kind of bad file, junk that must be ignored, a
symlink loop, empty classes, unicode and spaces in names.

`build(root)` returns (good, bad): the relative paths that must load, and those that must be in
the report with a reason. Everything else in the tree must be ignored silently.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

DOGS = "dogs ünïcode"


def _rgb(w=24, h=18, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def _bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_bomb(width=100_000, height=100_000) -> bytes:
    """A valid-looking PNG header claiming far more pixels than Pillow's limit allows."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def build(root: Path) -> tuple[set[str], set[str]]:
    root = Path(root)
    cats, dogs = root / "cats", root / DOGS
    cats.mkdir(parents=True)
    dogs.mkdir()
    good, bad = set(), set()

    def put(rel: str, data: bytes, ok: bool | None) -> Path:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        if ok is True:
            good.add(rel)
        elif ok is False:
            bad.add(rel)
        return p

    # -- good files: every format and mode -----------------------------------------------------
    put("cats/rgb.png", _bytes(_rgb(), "PNG"), True)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90°
    put("cats/photo.JPG", _bytes(_rgb(30, 20, 1), "JPEG", exif=exif), True)
    pal = _rgb(20, 20, 2).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    put("cats/palette transparent.png", _bytes(pal, "PNG", transparency=0), True)
    rgba = _rgb(16, 16, 3).convert("RGBA")
    rgba.putalpha(128)
    put("cats/rgba.webp", _bytes(rgba, "WEBP", lossless=True), True)
    frames = [Image.new("RGB", (12, 12), (200, 30, 30)), Image.new("RGB", (12, 12), (0, 0, 250))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50)
    put("cats/anim.gif", buf.getvalue(), True)
    put("cats/cmyk.jpeg", _bytes(_rgb(20, 20, 4).convert("CMYK"), "JPEG"), True)
    g16 = (np.arange(20 * 20, dtype=np.uint16).reshape(20, 20) * 160)
    put("cats/grey16.TIF", _bytes(Image.fromarray(g16), "TIFF"), True)
    put("cats/deeper/nested/deep.bmp", _bytes(_rgb(10, 14, 5), "BMP"), True)
    put("cats/spaced name é.ppm", _bytes(_rgb(9, 9, 6), "PPM"), True)
    os.symlink("rgb.png", cats / "link to rgb.png")  # a symlinked file is followed
    good.add("cats/link to rgb.png")
    put(f"{DOGS}/grey.pgm", _bytes(_rgb(16, 16, 7).convert("L"), "PPM"), True)
    put(f"{DOGS}/bw.bmp", _bytes(_rgb(16, 16, 8).convert("1"), "BMP"), True)
    put(f"{DOGS}/la.png", _bytes(_rgb(16, 16, 9).convert("LA"), "PNG"), True)
    put(f"{DOGS}/16bit.tiff", _bytes(Image.fromarray(g16[::-1].copy()), "TIFF"), True)

    # -- bad files: each must be reported --------------------------------------------------------
    os.symlink("..", cats / "loop")  # a symlink loop (folder): not followed
    bad.add("cats/loop")
    os.symlink("cycle_b.png", cats / "cycle_a.png")  # a cycle of file links: broken
    os.symlink("cycle_a.png", cats / "cycle_b.png")
    bad |= {"cats/cycle_a.png", "cats/cycle_b.png"}
    os.symlink("does-not-exist.png", cats / "broken.png")
    bad.add("cats/broken.png")
    put("cats/zero.png", b"", False)
    put("cats/truncated.jpg", _bytes(_rgb(40, 40, 10), "JPEG")[:400], False)
    put("cats/truncated.png", _bytes(_rgb(40, 40, 11), "PNG")[:300], False)
    put("cats/not an image.png", b"these are my notes, saved with the wrong name\n" * 20, False)
    put("cats/html.jpg", b"<html><body>404 Not Found</body></html>", False)
    put("cats/bomb.png", png_bomb(), False)
    (cats / "folder.png").mkdir()  # a directory with an image-like name
    put("cats/folder.png/inside.png", _bytes(_rgb(), "PNG"), None)  # not reached
    bad.add("cats/folder.png")
    os.mkfifo(cats / "fifo.png")  # opening it would block forever
    bad.add("cats/fifo.png")
    if os.geteuid() != 0:  # root reads anything: no unreadable file for root
        p = put("cats/unreadable.png", _bytes(_rgb(), "PNG"), False)
        p.chmod(0)
    put("stray at top.png", _bytes(_rgb(), "PNG"), False)  # labelled folder: no class
    put("only_bad/bad.gif", b"GIF89a" + b"\0" * 5, False)  # its class ends up empty
    (root / "empty_class").mkdir()

    # -- junk: ignored silently -------------------------------------------------------------------
    put("cats/.hidden.png", _bytes(_rgb(), "PNG"), None)
    put("cats/._rgb.png", b"\0\5\26\7AppleDouble", None)
    put("cats/notes.txt", b"notes", None)
    put("cats/Thumbs.db", b"\0" * 64, None)
    put("cats/.ipynb_checkpoints/ck.png", _bytes(_rgb(), "PNG"), None)
    put("__MACOSX/cats/._rgb.png", b"\0\5\26\7", None)
    put(".git/objects/x.png", b"not a png", None)
    put("README.md", b"# my data", None)
    put(f"{DOGS}/.DS_Store", b"\0" * 32, None)
    return good, bad
