"""GUI responsiveness and throughput while the window trains.

    python bench/ui_latency.py [--seconds 8] [--reps 2] [--json]

One process, interleaved repetitions (machines here are noisy: compare within one run):
  * headless: `Trainer.fit()` iterated on the main thread, vae_mlp on mnist5k, batch 128;
  * gui: the same training started from the real MainWindow (TrainingRun, live plots, sample
    grids every 3 s), while the bench resizes the window and zooms a plot every 200 ms, as a user
    would. A 10 ms Qt PreciseTimer runs throughout; its lateness is the event-loop stall.

Printed: images/s of both and their ratio (target gui/headless ≥ 0.95), and the stall p50/p99/max
after the first second of training (targets p99 ≤ 16 ms, max ≤ 50 ms). Offscreen unless DISPLAY.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

MODEL, DATASET, BATCH = "vae_mlp", "mnist5k", 128


def headless(seconds: float) -> float:
    """Images/s of the bare trainer over `seconds` (after its first step)."""
    from workbench.data import load_dataset
    from workbench.engine.events import Metrics
    from workbench.engine.trainer import Trainer, TrainSettings

    tr = Trainer(MODEL, load_dataset(DATASET),
                 TrainSettings(epochs=100_000, batch_size=BATCH, log_every=10,
                               sample_every_s=0.0))
    t0 = step0 = None
    for ev in tr.fit():
        if isinstance(ev, Metrics) and ev.phase == "train":
            now = time.perf_counter()
            if t0 is None:
                t0, step0 = now, ev.step
            elif now - t0 >= seconds:
                tr.stop()
                return (ev.step - step0) * BATCH / (now - t0)
    raise RuntimeError("trainer ended early")


def in_window(seconds: float, loop, app, workdir: Path, interact: bool = True,
              probe: bool = True) -> dict:
    """Train in the real window for `seconds`. `probe` runs the 10 ms stall timer (it wakes the
    GUI 100 times a second, so throughput-only measurements turn it off)."""
    from PySide6.QtCore import QSettings, Qt, QTimer

    from workbench.engine.trainer import TrainSettings
    from workbench.ui.main_window import MainWindow

    w = MainWindow(settings=QSettings(str(workdir / "s.ini"), QSettings.Format.IniFormat),
                   workspace=workdir / "runs")
    w.resize(1280, 820)
    w.show()
    w.load_backend_blocking()
    w.state.select_model(MODEL)
    w.setup.train_form.set_config(TrainSettings(epochs=100_000, batch_size=BATCH, log_every=10,
                                                sample_every_s=3.0))
    ticks: list[float] = []
    steps: list[tuple[float, int]] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    poke = QTimer()
    poke.setInterval(200)
    k = [0]

    def interact_once():  # resize and zoom, as a user would while watching
        k[0] += 1
        w.resize(1280 - 40 * (k[0] % 2), 820 - 30 * (k[0] % 2))
        plot = next(iter(w.training_view.plots.plots.values()), None)
        if plot is not None:
            plot.getViewBox().scaleBy((0.9, 0.9) if k[0] % 2 else (1 / 0.9, 1 / 0.9))

    poke.timeout.connect(interact_once)
    assert w.session.start()
    w.session.runner.metrics.connect(lambda b: steps.append((time.perf_counter(), b[-1].step)))
    if probe:
        timer.start()
    if interact:
        poke.start()

    async def wait_for_data_then(s):
        while not steps:
            await asyncio.sleep(0.05)
        await asyncio.sleep(s)

    loop.run_until_complete(wait_for_data_then(seconds + 1.0))
    timer.stop()
    poke.stop()
    w.close()  # stops and joins the training thread
    t_first = steps[0][0]
    t_start = t_first + 1.0  # "after start-up": skip the first second of training
    meas = [(t, s) for t, s in steps if t >= t_start]
    images = (meas[-1][1] - meas[0][1]) * BATCH
    secs = meas[-1][0] - meas[0][0]
    iv = [(b - a) * 1000 for a, b in zip(ticks, ticks[1:]) if a >= t_start]
    stall = sorted(max(0.0, x - 10.0) for x in iv)
    return {"images_per_s": images / secs, "images": images, "seconds": secs, "stall_ms": stall}


_SESSION: dict = {}


def qt_session():
    """One QApplication with qasync's loop per process, as ui/app.py sets it up."""
    if not _SESSION:
        import qasync

        from workbench.ui.app import create_app

        app = create_app([])
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        _SESSION.update(app=app, loop=loop, work=Path(tempfile.mkdtemp(prefix="gwb-bench-")),
                        n=0)
    return _SESSION


def pct(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--no-interact", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import torch

    qs = qt_session()
    heads, guis, stalls = [], [], []
    for r in range(args.reps):
        heads.append(headless(args.seconds))
        g = in_window(args.seconds, qs["loop"], qs["app"], qs["work"] / str(r),
                      not args.no_interact)
        guis.append(g["images_per_s"])
        stalls += g["stall_ms"]
    stalls.sort()
    res = {
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "platform": os.environ.get("QT_QPA_PLATFORM", "xcb"),
        "headless_images_per_s": statistics.median(heads),
        "gui_images_per_s": statistics.median(guis),
        "gui_over_headless": statistics.median(guis) / statistics.median(heads),
        "stall_ms": {"p50": pct(stalls, 0.5), "p99": pct(stalls, 0.99), "max": stalls[-1],
                     "ticks": len(stalls)},
        "runs": {"headless": heads, "gui": guis},
    }
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"torch {res['torch']}, {res['threads']} threads, Qt platform {res['platform']}, "
          f"{args.reps} × {args.seconds:.0f} s interleaved")
    print(f"headless trainer   {res['headless_images_per_s']:9,.0f} img/s")
    print(f"trained in window  {res['gui_images_per_s']:9,.0f} img/s   "
          f"ratio {res['gui_over_headless']:.3f} (target ≥ 0.95)")
    s = res["stall_ms"]
    print(f"event-loop stall of a 10 ms timer while training (after the first second): "
          f"p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms, max {s['max']:.1f} ms over "
          f"{s['ticks']} ticks (targets p99 ≤ 16, max ≤ 50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
