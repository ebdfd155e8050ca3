"""Image-folder loading against the targets of issue 6, measured in one run:

    python bench/data.py [--n 20000] [--size 64] [--workers N] [--folder DIR]

Generates (once, then reuses) a folder of N size×size RGB PNGs in 10 class folders, then times
  1. the first scan: decode on all cores + write the cache       target ≤ 60 s on 2 cores
  2. reopening from the cache (scan + memory map), and the same    target ≤ 2 s
     up to the float32 TensorData the trainer takes
  3. resident memory of the reopened cached set vs its raw uint8   target ≤ 1.5×
     size (measured in a fresh process)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _write_pngs(args) -> None:
    import numpy as np
    from PIL import Image

    root, size, start, stop = args
    for i in range(start, stop):
        rng = np.random.default_rng(i)
        yy, xx = np.mgrid[0:size, 0:size] / size
        base = rng.random((3, 1, 1)) * 255
        slope = (rng.random((3, 2)) - 0.5) * 200
        img = base + slope[:, 0, None, None] * yy + slope[:, 1, None, None] * xx
        img = img + rng.normal(0, 12, (3, size, size))  # noise: PNGs of realistic size
        cx, cy, r = rng.integers(8, size - 8, 2).tolist() + [int(rng.integers(4, size // 3))]
        img[:, (yy * size - cy) ** 2 + (xx * size - cx) ** 2 < r * r] = rng.random((3, 1)) * 255
        arr = np.clip(img, 0, 255).astype(np.uint8).transpose(1, 2, 0)
        d = Path(root) / f"class_{i % 10}"
        Image.fromarray(arr).save(d / f"img_{i:06d}.png")


def make_folder(root: Path, n: int, size: int) -> float:
    """Generate the folder unless a complete one is already there; returns seconds spent."""
    from concurrent.futures import ProcessPoolExecutor

    marker = root / f".complete-{n}-{size}"
    if marker.exists():
        return 0.0
    t0 = time.perf_counter()
    for c in range(10):
        (root / f"class_{c}").mkdir(parents=True, exist_ok=True)
    step = 500
    jobs = [(str(root), size, a, min(n, a + step)) for a in range(0, n, step)]
    with ProcessPoolExecutor() as pool:
        list(pool.map(_write_pngs, jobs))
    marker.write_text("ok")  # hidden: ignored by the scanner
    return time.perf_counter() - t0


def measure_memory(folder: str, cache: str, size: int) -> None:
    """Child process: RSS growth from opening the cached set and touching every byte."""
    import numpy as np

    from workbench.data.folder import FolderOptions, scan_folder

    before = _rss_bytes()
    report, x, y = scan_folder(folder, FolderOptions(size=size), cache_root=cache)
    assert report.from_cache
    touched = int(x.sum(dtype=np.uint64))  # reads every page of the memory map
    after = _rss_bytes()
    print(json.dumps({"rss_growth": after - before, "raw": int(x.nbytes), "n": int(len(x)),
                      "sum": touched}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--workers", type=int, default=None, help="default: every available core")
    p.add_argument("--folder", type=Path, help="where the generated PNGs live (reused)")
    p.add_argument("--_memory", nargs=2, metavar=("FOLDER", "CACHE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._memory:
        measure_memory(args._memory[0], args._memory[1], args.size)
        return 0

    import torch  # noqa: F401  (imported before timing: ~3 s alone, and any trainer has it)

    from workbench.data.folder import FolderOptions, default_workers, load_folder, scan_folder

    folder = args.folder or Path(tempfile.gettempdir()) / f"genworkbench-bench-{args.n}-{args.size}"
    gen = make_folder(folder, args.n, args.size)
    workers = args.workers or default_workers()
    print(f"folder {folder}: {args.n} {args.size}×{args.size} RGB PNGs"
          + (f" (generated in {gen:.1f} s)" if gen else " (reused)")
          + f"; {workers} decoding processes, {os.cpu_count()} cores")
    opts = FolderOptions(size=args.size)
    with tempfile.TemporaryDirectory(prefix="genworkbench-bench-cache-") as cache:
        t0 = time.perf_counter()
        report, x, _ = scan_folder(folder, opts, workers=workers, cache_root=cache)
        first = time.perf_counter() - t0
        assert report.ok == args.n and not report.skipped, report.summary()
        del x
        t0 = time.perf_counter()
        report2, x2, _ = scan_folder(folder, opts, cache_root=cache)
        reopen = time.perf_counter() - t0
        assert report2.from_cache
        del x2
        t0 = time.perf_counter()
        data, _ = load_folder(folder, opts, cache_root=cache)
        reopen_td = time.perf_counter() - t0
        raw = args.n * 3 * args.size * args.size
        td_bytes = sum(t.numel() * t.element_size() for t in (data.x_train, data.x_val))
        del data
        out = subprocess.run([sys.executable, __file__, "--size", str(args.size),
                              "--_memory", str(folder), cache],
                             capture_output=True, text=True, check=True)
        mem = json.loads(out.stdout.strip().splitlines()[-1])
        disk = sum(f.stat().st_size for f in Path(cache).rglob("*") if f.is_file())

    def row(what, value, target, ok):
        print(f"  {what:<52} {value:>10}   target {target:<8} {'ok' if ok else 'MISSED'}")
    print(f"{report.summary()}")
    row("first scan + decode + cache write", f"{first:.1f} s", "≤ 60 s", first <= 60)
    row(f"  ({args.n / first:,.0f} images/s)", "", "", True)
    row("reopen from cache (scan + memory map)", f"{reopen:.2f} s", "≤ 2 s", reopen <= 2)
    row("reopen up to float32 TensorData (split, convert)", f"{reopen_td:.2f} s", "≤ 2 s",
        reopen_td <= 2)
    ratio = mem["rss_growth"] / mem["raw"]
    row("resident memory of the cached set / raw uint8", f"{ratio:.2f}×", "≤ 1.5×", ratio <= 1.5)
    print(f"  raw uint8 {raw / 2**20:.0f} MiB; cache on disk {disk / 2**20:.0f} MiB; "
          f"float32 TensorData the trainer takes {td_bytes / 2**20:.0f} MiB "
          f"({td_bytes / raw:.1f}× raw)")
    return 0


if __name__ == "__main__":  # guard: the decoding pool spawns fresh interpreters
    sys.exit(main())
