"""Any folder of images as a dataset: scanned, decoded in parallel, preprocessed to a square size,
cached on disk as uint8, with a report of every file that was skipped and why.

Layout: the sub-folders of the root are classes (files deeper inside a class folder belong to
it); a folder without sub-folders is one unlabeled set. Hidden names, `__MACOSX` and files that
are not images by extension are ignored silently; symlinked folders are never followed (no
loops). Everything that looks like an image but cannot be used goes into the report.

Qt-free: long work reports through a TaskContext (core/tasks.py) passed as `ctx`: the GUI's
task's own, or one the CLI and the tests build from plain callbacks.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.core.errors import ConfigError, DatasetError
from workbench.core.tasks import TaskContext
from workbench.data.spec import DataSpec, TensorData
from workbench.data.split import SPLIT_SEED, stratified_split

IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                        ".ppm", ".pgm"})
IGNORED_NAMES = frozenset({"__MACOSX", ".ipynb_checkpoints"})
COLORS = ("auto", "grey", "rgb")
FITS = ("crop", "pad")
CACHE_VERSION = "folder-1"  # bump when decoding or preprocessing changes what is stored
PARALLEL_MIN_FILES = 128  # below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class FolderOptions:
    """How a folder's images become tensors. Every field is part of the cache key."""

    size: int = 32  # output is size × size
    color: str = "auto"  # auto: grey when every image is grey, else RGB
    fit: str = "crop"  # crop: resize the short side, centre crop; pad: resize the long side, pad
    background: int = 255  # grey level that transparency and padding become (255 = white)

    def check(self) -> "FolderOptions":
        if not 4 <= int(self.size) <= 1024:
            raise ConfigError(f"image size must lie in 4..1024, not {self.size}")
        if self.color not in COLORS:
            raise ConfigError(f"color must be one of {', '.join(COLORS)}, not {self.color!r}")
        if self.fit not in FITS:
            raise ConfigError(f"fit must be one of {', '.join(FITS)}, not {self.fit!r}")
        if not 0 <= int(self.background) <= 255:
            raise ConfigError(f"background must lie in 0..255, not {self.background}")
        return self


@dataclass
class FolderReport:
    """What a scan found. `to_json()` is the `check-folder --json` shape of DESIGN.md."""

    root: str
    classes: list[str]  # labelled classes with at least one image, in label order; [] if flat
    ok: int
    skipped: list[tuple[str, str]]  # (path, reason)
    empty_classes: list[str] = field(default_factory=list)
    class_counts: dict[str, int] = field(default_factory=dict)
    size: int = 0
    color: str = ""  # the mode chosen for the whole set: "grey" or "rgb"
    channels: int = 0
    source_modes: dict[str, int] = field(default_factory=dict)  # Pillow mode → image count
    source_formats: dict[str, int] = field(default_factory=dict)  # PNG, JPEG, … → image count
    source_min_size: tuple[int, int] | None = None  # smallest (w, h) by area
    source_max_size: tuple[int, int] | None = None
    options: dict = field(default_factory=dict)
    from_cache: bool = False
    seconds: float = 0.0

    @property
    def labeled(self) -> bool:
        return bool(self.classes)

    def to_json(self) -> dict:
        d = asdict(self)
        d["skipped"] = [{"path": p, "reason": r} for p, r in self.skipped]
        for k in ("source_min_size", "source_max_size"):
            d[k] = list(d[k]) if d[k] else None
        return d

    @classmethod
    def from_json(cls, d: dict) -> "FolderReport":
        d = dict(d)
        d["skipped"] = [(s["path"], s["reason"]) for s in d["skipped"]]
        for k in ("source_min_size", "source_max_size"):
            d[k] = tuple(d[k]) if d.get(k) else None
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    @property
    def skipped_text(self) -> str:
        """ "1 file skipped", "3 files skipped" """
        n = len(self.skipped)
        return f"{n} file{'' if n == 1 else 's'} skipped"

    def summary(self) -> str:
        """One line: how many images, at what size and mode, in which classes."""
        shape = f"{self.channels}×{self.size}×{self.size} {self.color}" if self.ok else "nothing"
        what = (f"{len(self.classes)} classes" if self.classes else "unlabeled")
        return (f"{self.ok} images loaded as {shape} ({what}), {len(self.skipped)} skipped"
                + (f", {len(self.empty_classes)} empty class folders" if self.empty_classes
                   else ""))


# -- scanning --------------------------------------------------------------------------------------
def _is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTS


def _ignored(name: str) -> bool:
    # hidden files and folders cover .DS_Store, AppleDouble ._x.png and .ipynb_checkpoints
    return name.startswith(".") or name in IGNORED_NAMES


@dataclass
class _Scan:
    root: Path
    classes: list[str]  # every class folder, sorted ([] for a flat folder)
    files: list[tuple[str, int]]  # (path, class index or -1), in a fixed order
    stamps: list[tuple[str, int, int]]  # (relative path, size, mtime_ns): the cache key
    skipped: list[tuple[str, str]]
    per_class_files: Counter


def _entries(path: Path, skipped: list) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as e:
        skipped.append((str(path), f"folder cannot be read ({e.strerror or e})"))
        return []


def _classify(entry: os.DirEntry) -> tuple[str, str | None]:
    """('dir' | 'file' | 'skip' | 'ignore', reason) for one directory entry."""
    name = entry.name
    if _ignored(name):
        return "ignore", None
    try:
        if entry.is_symlink():
            try:
                st = os.stat(entry.path)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    return "skip", "broken symbolic link (a loop of links)"
                return "skip", (f"broken symbolic link (its target {os.readlink(entry.path)} "
                                "does not exist)")
            if stat.S_ISDIR(st.st_mode):
                return "skip", "symbolic link to a folder: not followed"
        if entry.is_dir(follow_symlinks=False):
            if _is_image_name(name):
                return "skip", "a folder with an image file's name, not an image"
            return "dir", None
    except OSError as e:
        return "skip", f"cannot be read ({e.strerror or e})"
    if not _is_image_name(name):
        return "ignore", None  # notes, CSVs, Thumbs.db: not ours to judge
    return "file", None


def scan(root, ctx: TaskContext | None = None) -> _Scan:
    """List the candidate images of a folder and what is skipped before decoding."""
    ctx = ctx or TaskContext()
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"no such folder: {root}")
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder (point at a folder of images, or a folder "
                           "of class sub-folders)")
    root = root.resolve()
    skipped: list[tuple[str, str]] = []
    top = _entries(root, skipped)
    class_dirs, top_files = [], []
    for e in top:
        kind, reason = _classify(e)
        if kind == "dir":
            class_dirs.append(e)
        elif kind == "file":
            top_files.append(e)
        elif kind == "skip":
            skipped.append((e.path, reason))
    files: list[tuple[str, int]] = []
    candidates: list[tuple[os.DirEntry, int]] = []
    if class_dirs:
        for e in top_files:
            skipped.append((e.path, "image at the top level of a folder with class sub-folders "
                                    "(move it into a class folder)"))
        for k, d in enumerate(class_dirs):
            stack = [Path(d.path)]
            while stack:  # depth-first; symlinked folders never enter the stack
                ctx.check()
                here = stack.pop()
                subdirs = []
                for e in _entries(here, skipped):
                    kind, reason = _classify(e)
                    if kind == "dir":
                        subdirs.append(Path(e.path))
                    elif kind == "file":
                        candidates.append((e, k))
                    elif kind == "skip":
                        skipped.append((e.path, reason))
                stack.extend(reversed(subdirs))
    else:
        candidates = [(e, -1) for e in top_files]
    stamps = []
    per_class: Counter = Counter()
    for e, k in candidates:
        try:
            st = os.stat(e.path)  # follows a file symlink: the target is what gets decoded
        except OSError as err:
            skipped.append((e.path, f"cannot be read ({err.strerror or err})"))
            continue
        if not stat.S_ISREG(st.st_mode):
            skipped.append((e.path, "not a regular file (a pipe, socket or device)"))
            continue
        if st.st_size == 0:
            skipped.append((e.path, "empty file (0 bytes)"))
            continue
        files.append((e.path, k))
        per_class[k] += 1
        stamps.append((os.path.relpath(e.path, root), st.st_size, st.st_mtime_ns))
    return _Scan(root, [d.name for d in class_dirs], files, stamps, skipped, per_class)


# -- decoding (runs in worker processes: module-level and picklable) -------------------------------
def _scale_to_8bit(img):
    """16-bit and 32-bit grey images scaled (not clipped) to 0..255."""
    import numpy as np
    from PIL import Image

    a = np.asarray(img)
    if img.mode == "F":
        a = a.astype(np.float64)
        top = 1.0 if a.size and np.nanmax(a) <= 1.0 else 255.0
        a = np.nan_to_num(a) * (255.0 / top)
    else:  # I;16*, I: 16-bit range
        a = np.clip(a.astype(np.float64), 0, 65535) / 257.0
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")


def _normalise_mode(img, background: int):
    """Any Pillow mode → "L" or "RGB": palettes expanded, transparency composited onto
    `background`, CMYK and other spaces converted, high bit depths scaled."""
    from PIL import Image

    mode = img.mode
    if mode == "1":
        return img.convert("L")
    if mode.startswith("I") or mode == "F":
        return _scale_to_8bit(img)
    has_alpha = mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (background, background, background, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    if mode in ("L", "RGB"):
        return img
    return img.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV


def _fit(img, size: int, fit: str, background: int):
    from PIL import Image

    w, h = img.size
    resample = Image.Resampling.BICUBIC
    if fit == "crop":
        m = min(w, h)
        box = ((w - m) / 2, (h - m) / 2, (w + m) / 2, (h + m) / 2)
        return img.resize((size, size), resample, box=box, reducing_gap=3.0)
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = img.resize((nw, nh), resample, reducing_gap=3.0)
    fill = background if img.mode == "L" else (background,) * 3
    out = Image.new(img.mode, (size, size), fill)
    out.paste(small, ((size - nw) // 2, (size - nh) // 2))
    return out


def _decode_one(path: str, size: int, color: str, fit: str, background: int):
    """('ok', array H×W or H×W×3 uint8, format, mode, (w, h)) or ('skip', reason)."""
    import warnings

    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Pillow warns above its pixel limit and raises above twice it: both are bombs here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt, mode, src_size = img.format or "?", img.mode, img.size
                if fmt == "JPEG":  # decode at a reduced scale when the target is much smaller
                    img.draft(img.mode, (size, size))
                img.load()
                img = ImageOps.exif_transpose(img)
                img = _normalise_mode(img, background)
                img = _fit(img, size, fit, background)
                if color == "grey" and img.mode != "L":
                    img = img.convert("L")
                elif color == "rgb" and img.mode != "RGB":
                    img = img.convert("RGB")
                arr = np.asarray(img, dtype=np.uint8)
                if color == "auto" and arr.ndim == 3 and (
                        np.array_equal(arr[..., 0], arr[..., 1])
                        and np.array_equal(arr[..., 0], arr[..., 2])):
                    arr = np.ascontiguousarray(arr[..., 0])  # an RGB file holding a grey image
                return ("ok", arr, fmt, mode, src_size)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return ("skip", f"decompression bomb: over Pillow's pixel limit ({e})")
    except UnidentifiedImageError:
        return ("skip", "not an image (the content is no image format Pillow knows, "
                        "whatever the extension)")
    except PermissionError as e:
        return ("skip", f"unreadable ({e.strerror or 'permission denied'})")
    except MemoryError:
        return ("skip", "too large to decode (out of memory)")
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as e:
        msg = str(e) or type(e).__name__
        if "truncated" in msg.lower() or isinstance(e, EOFError):
            return ("skip", f"truncated image ({msg})")
        return ("skip", f"corrupt image data ({type(e).__name__}: {msg})")
    except Exception as e:  # a decoder bug must cost one file, not the whole scan
        return ("skip", f"cannot decode ({type(e).__name__}: {e})")


def _decode_chunk(paths: list[str], size: int, color: str, fit: str, background: int) -> list:
    return [_decode_one(p, size, color, fit, background) for p in paths]


def default_workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def _decode_all(paths: list[str], opts: FolderOptions, workers: int, ctx: TaskContext) -> list:
    """Decode every path, in order. Large sets go to a process pool (Pillow holds the GIL for
    much of a decode, so threads would not scale)."""
    total = len(paths)
    args = (opts.size, opts.color, opts.fit, int(opts.background))
    results: list = [None] * total
    done = 0
    ctx.progress(0, total)
    if workers <= 1 or total < PARALLEL_MIN_FILES:
        step = 16
        for a in range(0, total, step):
            ctx.check()
            results[a:a + step] = _decode_chunk(paths[a:a + step], *args)
            done = min(total, a + step)
            ctx.progress(done, total)
        return results

    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    # spawn, not fork: the GUI calls this from a thread of a multi-threaded process
    chunk = max(16, min(256, total // (workers * 8)))
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        pending = {pool.submit(_decode_chunk, paths[a:a + chunk], *args): a
                   for a in range(0, total, chunk)}
        try:
            while pending:
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                ctx.check()
                for f in finished:
                    a = pending.pop(f)
                    part = f.result()
                    results[a:a + len(part)] = part
                    done += len(part)
                if finished:
                    ctx.progress(done, total)
        except BrokenProcessPool:
            # a worker died (killed, out of memory) or could not start: a script without an
            # `if __name__ == "__main__":` guard re-runs itself in spawned workers. Decode
            # what is left here instead of failing the whole scan.
            pool.shutdown(wait=False, cancel_futures=True)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    for a in range(0, total, 16):
        missing = sum(r is None for r in results[a:a + 16])
        if missing:
            ctx.check()
            results[a:a + 16] = _decode_chunk(paths[a:a + 16], *args)
            done += missing
            ctx.progress(done, total)
    return results


# -- assembly and cache ----------------------------------------------------------------------------
def _cache_key(sc: _Scan, opts: FolderOptions) -> str:
    blob = json.dumps([CACHE_VERSION, str(sc.root), asdict(opts), sc.classes, sc.stamps,
                       sc.skipped], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:40]


def _cache_entry(cache_root: Path | None, key: str) -> Path:
    from workbench.core.paths import cache_dir

    return Path(cache_root or cache_dir()) / "folders" / key


def _read_cache(entry: Path):
    import numpy as np

    try:
        report = FolderReport.from_json(json.loads((entry / "report.json").read_text("utf-8")))
        x = np.load(entry / "x.npy", mmap_mode="r")
        y = np.load(entry / "y.npy") if report.classes else None
        if x.dtype != np.uint8 or x.shape[0] != report.ok or (y is not None
                                                             and y.shape[0] != report.ok):
            return None
        return report, x, y
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged entry: decode again


def _write_cache(entry: Path, report: FolderReport, x, y) -> None:
    """x.npy and y.npy first, report.json last: an entry without its report is incomplete."""
    import numpy as np

    from workbench.core.atomic import atomic_write_text, atomic_writer

    try:
        with atomic_writer(entry / "x.npy") as f:
            np.lib.format.write_array(f, x, allow_pickle=False)
        if y is not None:
            with atomic_writer(entry / "y.npy") as f:
                np.lib.format.write_array(f, y, allow_pickle=False)
        d = report.to_json()
        d.pop("from_cache"), d.pop("seconds")
        atomic_write_text(entry / "report.json", json.dumps(d, ensure_ascii=False))
    except OSError:
        return  # a read-only or full cache disk only costs speed next time
    _prune_stale(entry, report)


def _prune_stale(keep: Path, report: FolderReport) -> None:
    """Drop older entries of the same folder and options: a changed folder replaces its entry."""
    import shutil

    for other in keep.parent.iterdir():
        if other == keep or not other.is_dir():
            continue
        try:
            d = json.loads((other / "report.json").read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if d.get("root") == report.root and d.get("options") == report.options:
            shutil.rmtree(other, ignore_errors=True)


def _assemble(sc: _Scan, results: list, opts: FolderOptions):
    """Stack the decoded images (N×C×S×S uint8) with labels; fill in the report."""
    import numpy as np

    skipped = list(sc.skipped)
    good, modes, formats, sizes = [], Counter(), Counter(), []
    for (path, k), r in zip(sc.files, results):
        if r[0] == "ok":
            good.append((r[1], k))
            formats[r[2]] += 1
            modes[r[3]] += 1
            sizes.append(r[4])
        else:
            skipped.append((path, r[1]))
    if opts.color == "auto":
        color = "grey" if all(a.ndim == 2 for a, _ in good) else "rgb"
    else:
        color = opts.color
    ch = 1 if color == "grey" else 3
    labeled = bool(sc.classes)
    counts = Counter(k for _, k in good)
    kept = [k for k in range(len(sc.classes)) if counts[k]]
    remap = {old: new for new, old in enumerate(kept)}
    x = np.empty((len(good), ch, opts.size, opts.size), dtype=np.uint8)
    y = np.empty(len(good), dtype=np.int64) if labeled else None
    for i, (a, k) in enumerate(good):
        if a.ndim == 2:
            x[i] = a[None]  # broadcasts a grey image over all channels
        else:
            x[i] = a.transpose(2, 0, 1)
        if labeled:
            y[i] = remap[k]
    by_area = sorted(sizes, key=lambda s: (s[0] * s[1], s))
    report = FolderReport(
        root=str(sc.root), classes=[sc.classes[k] for k in kept], ok=len(good),
        skipped=skipped, empty_classes=[c for k, c in enumerate(sc.classes) if not counts[k]],
        class_counts={sc.classes[k]: counts[k] for k in kept}, size=opts.size,
        color=color if good else "", channels=ch if good else 0,
        source_modes=dict(modes.most_common()), source_formats=dict(formats.most_common()),
        source_min_size=tuple(by_area[0]) if by_area else None,
        source_max_size=tuple(by_area[-1]) if by_area else None, options=asdict(opts))
    return report, x, y


def scan_folder(root, options: FolderOptions | None = None, *, ctx: TaskContext | None = None,
                workers: int | None = None, use_cache: bool = True, cache_root=None):
    """Scan, decode and preprocess a folder (or read it from the cache).

    Returns (report, x, y): x is N×C×S×S uint8 (a read-only memory map when cached), y int64
    labels or None. Never raises for bad files (they are in report.skipped); raises
    DatasetError for a missing root and Cancelled (nothing cached) once a stop is asked for.
    `ctx` hears of progress (files decoded of all) and is checked for a stop.
    """
    t0 = time.perf_counter()
    ctx = ctx or TaskContext()
    opts = (options or FolderOptions()).check()
    sc = scan(root, ctx)
    key = _cache_key(sc, opts)
    entry = _cache_entry(cache_root, key)
    if use_cache:
        hit = _read_cache(entry)
        if hit is not None:
            report, x, y = hit
            report.from_cache, report.seconds = True, time.perf_counter() - t0
            ctx.progress(len(sc.files), len(sc.files))
            return report, x, y
    results = _decode_all([p for p, _ in sc.files], opts, workers or default_workers(), ctx)
    report, x, y = _assemble(sc, results, opts)
    if use_cache and report.ok:
        _write_cache(entry, report, x, y)
    report.seconds = time.perf_counter() - t0
    return report, x, y


def no_image_message(report: FolderReport) -> str:
    msg = f"no usable image in {report.root}"
    if not report.skipped:
        exts = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTS))
        return msg + f": it holds no image files ({exts}), or only hidden ones"
    first = "; ".join(f"{os.path.basename(p)}: {r}" for p, r in report.skipped[:3])
    more = f" (and {len(report.skipped) - 3} more)" if len(report.skipped) > 3 else ""
    return msg + f": {report.skipped_text} — {first}{more}"


def to_tensordata(report: FolderReport, x, y, val_fraction: float = 0.1) -> TensorData:
    """Float tensors in [0, 1] with a fixed validation split (stratified when labelled)."""
    import numpy as np
    import torch

    n = report.ok
    if y is not None:
        tr, va = stratified_split(y, val_fraction, SPLIT_SEED)
        if len(tr) == 0:  # every class a single image: train on all, validate on all
            tr = va = np.arange(n)
    else:
        perm = np.random.default_rng(SPLIT_SEED).permutation(n)
        k = min(n - 1, max(1, round(n * val_fraction))) if n > 1 else 0
        va, tr = perm[:k], perm[k:]
        if k == 0:
            va = tr

    def images(idx):
        # one gather out of the memory map (served from the page cache once warm), one convert
        return torch.from_numpy(np.ascontiguousarray(x[idx])).float().div_(255.0)

    def labels(idx):
        return None if y is None else torch.from_numpy(np.asarray(y[idx], dtype=np.int64))

    opts = report.options
    source = {"folder": report.root, "size": opts["size"], "color": opts["color"],
              "fit": opts["fit"], "background": opts["background"],
              "val_fraction": val_fraction, "channels": report.channels,
              "skipped": len(report.skipped)}  # a count for run.json; check-folder lists them
    spec = DataSpec(shape=(report.channels, report.size, report.size),
                    num_classes=len(report.classes), kind="image")
    name = Path(report.root).name or report.root
    return TensorData(name, spec, images(tr), labels(tr), images(va), labels(va),
                      source=source, class_names=tuple(report.classes))


def load_folder(root, options: FolderOptions | None = None, *, val_fraction: float = 0.1,
                ctx: TaskContext | None = None, workers: int | None = None,
                use_cache: bool = True, cache_root=None):
    """(TensorData, FolderReport) for a folder; DatasetError when no image can be used."""
    report, x, y = scan_folder(root, options, ctx=ctx,
                               workers=workers, use_cache=use_cache, cache_root=cache_root)
    if not report.ok:
        raise DatasetError(no_image_message(report))
    return to_tensordata(report, x, y, val_fraction), report


def options_from_source(src: dict) -> FolderOptions:
    """The preprocessing recorded in a run's dataset description."""
    return FolderOptions(size=int(src.get("size", 32)), color=src.get("color", "auto"),
                         fit=src.get("fit", "crop"), background=int(src.get("background", 255)))
