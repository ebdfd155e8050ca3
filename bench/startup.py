"""Time from launching `genworkbench` to the main window's first paint.

    python bench/startup.py [--runs 7] [--json]

Each run starts a fresh `python -m workbench` with GENWORKBENCH_STARTUP_PROBE=1: the app prints
the wall-clock time of the window's first Paint event and quits. Printed beside it, measured in
the same run: a bare `import torch` and a bare `import PySide6.QtWidgets` in fresh processes, so
the ratio shows what importing torch lazily (after the first paint) saves. Target: window
visible ≤ 1.5 s on the 2-core machine. Uses QT_QPA_PLATFORM=offscreen unless DISPLAY is set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _launch_to_paint(env) -> float:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-m", "workbench"], env=env, capture_output=True,
                         text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("WINDOW_VISIBLE"):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"no paint seen: {out.stdout[-500:]} {out.stderr[-2000:]}")


def _python_c(code: str, env) -> float:
    t0 = time.time()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    return time.time() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, GENWORKBENCH_STARTUP_PROBE="1",
               GENWORKBENCH_SETTINGS=os.path.join(tempfile.mkdtemp(), "settings.ini"))
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    _launch_to_paint(env)  # warm the file cache once; not counted
    window, torch_imp, qt_imp = [], [], []
    for _ in range(args.runs):  # interleaved, so drift hits all three alike
        window.append(_launch_to_paint(env))
        torch_imp.append(_python_c("import torch", env))
        qt_imp.append(_python_c("import PySide6.QtWidgets", env))
    res = {
        "window_visible_s": {"median": statistics.median(window), "max": max(window)},
        "import_torch_s": {"median": statistics.median(torch_imp)},
        "import_qtwidgets_s": {"median": statistics.median(qt_imp)},
        "window_over_torch_import": statistics.median(window) / statistics.median(torch_imp),
        "runs": args.runs, "platform": env.get("QT_QPA_PLATFORM", "xcb"),
    }
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"launch → first paint of the window: median {res['window_visible_s']['median']:.2f} s,"
          f" max {res['window_visible_s']['max']:.2f} s over {args.runs} runs (target ≤ 1.5 s)")
    print(f"for scale, in fresh processes: import torch {res['import_torch_s']['median']:.2f} s, "
          f"import PySide6.QtWidgets {res['import_qtwidgets_s']['median']:.2f} s")
    print(f"window visible / torch import = {res['window_over_torch_import']:.2f} "
          "(below 1: the window does not wait for torch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
