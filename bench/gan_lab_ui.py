"""GUI responsiveness of the GAN lab while it plays with every layer drawn.

    python bench/gan_lab_ui.py [--seconds 10] [--dataset grid25] [--model toy_gan] [--interact]
                               [--json]

One process: first the bare GanLab stepping on the main thread (headless steps/s, one torch
thread like the panel's worker), then GanLabPanel in a 1280×820 window playing at full pace with
D's map, the manifold, real and generated samples and the arrows all on. A 10 ms Qt PreciseTimer
runs throughout (bench/ui_latency.py's method); its lateness after the first second is the
event-loop stall. Printed: stall p50/p99/max (target max ≤ 50 ms), the lab's steps/s in the
window vs headless, snapshots drawn per second and the time each draw took.
Offscreen unless DISPLAY is set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ui_latency import pct, qt_session  # noqa: E402  (the same stall method and Qt session)


def headless(dataset: str, model: str, seconds: float) -> float:
    import torch

    from workbench.experiments.lab import GanLab

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lab = GanLab(dataset=dataset, model=model, seed=0)
        lab.step_both(5)  # warm-up
        t0, s0 = time.perf_counter(), lab.step
        while time.perf_counter() - t0 < seconds:
            lab.step_both(20)
        return (lab.step - s0) / (time.perf_counter() - t0)
    finally:
        torch.set_num_threads(prev)


def in_panel(dataset: str, model: str, seconds: float, loop, interact: bool = False) -> dict:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QMainWindow

    from workbench.ui.panels.gan_lab import GanLabPanel

    win = QMainWindow()
    panel = GanLabPanel(dataset=dataset, model=model, seed=0)
    win.setCentralWidget(panel)
    win.resize(1280, 820)
    win.show()
    for box in panel.layer_boxes.values():
        box.setChecked(True)

    async def until(cond, timeout):
        t0 = time.perf_counter()
        while not cond():
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError("the lab did not start")
            await asyncio.sleep(0.02)

    loop.run_until_complete(until(lambda: panel.snapshot is not None, 60))
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    states: list[tuple[float, int]] = []
    panel.state_changed.connect(lambda st: states.append((time.perf_counter(), st["step"])))
    poke = QTimer()
    poke.setInterval(200)
    k = [0]

    def interact_once():  # resize the window and zoom the plane, as a user would
        k[0] += 1
        win.resize(1280 - 40 * (k[0] % 2), 820 - 30 * (k[0] % 2))
        panel.plot.getPlotItem().getViewBox().scaleBy((0.9, 0.9) if k[0] % 2 else (1 / 0.9,) * 2)

    poke.timeout.connect(interact_once)
    draws0 = len(panel.draw_ms)
    timer.start()
    if interact:
        poke.start()
    panel.play()
    t_start = time.perf_counter() + 1.0  # skip the first second
    loop.run_until_complete(asyncio.sleep(seconds + 1.0))
    timer.stop()
    poke.stop()
    panel.pause()
    draw_ms = panel.draw_ms[draws0:]
    panel.shutdown()
    win.close()
    meas = [(t, s) for t, s in states if t >= t_start]
    steps_per_s = (meas[-1][1] - meas[0][1]) / (meas[-1][0] - meas[0][0]) if len(meas) > 1 else 0.0
    iv = [(b - a) * 1000 for a, b in zip(ticks, ticks[1:]) if a >= t_start]
    return {"stall_ms": sorted(max(0.0, x - 10.0) for x in iv), "steps_per_s": steps_per_s,
            "draw_ms": draw_ms, "draws_per_s": len(draw_ms) / (seconds + 1.0)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--dataset", default="grid25")
    ap.add_argument("--model", default="toy_gan")
    ap.add_argument("--interact", action="store_true",
                    help="also resize the window and zoom the plot every 200 ms")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    qs = qt_session()
    head = headless(args.dataset, args.model, min(args.seconds, 5.0))
    r = in_panel(args.dataset, args.model, args.seconds, qs["loop"], args.interact)
    s, d = r["stall_ms"], sorted(r["draw_ms"])
    res = {"platform": os.environ.get("QT_QPA_PLATFORM", "xcb"), "dataset": args.dataset,
           "model": args.model, "headless_steps_per_s": head,
           "panel_steps_per_s": r["steps_per_s"], "panel_over_headless": r["steps_per_s"] / head,
           "stall_ms": {"p50": pct(s, 0.5), "p99": pct(s, 0.99), "max": s[-1], "ticks": len(s)},
           "draws_per_s": r["draws_per_s"],
           "draw_ms": {"median": statistics.median(d) if d else None,
                       "max": d[-1] if d else None}}
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"GAN lab, {args.model} on {args.dataset}, Qt platform {res['platform']}, "
          f"{args.seconds:.0f} s playing at full pace, every layer on"
          + (", resizing and zooming every 200 ms" if args.interact else ""))
    print(f"headless GanLab   {head:8.0f} steps/s")
    print(f"lab in the panel  {r['steps_per_s']:8.0f} steps/s   ratio "
          f"{res['panel_over_headless']:.2f}")
    print(f"snapshots drawn   {r['draws_per_s']:8.1f} /s, draw time median "
          f"{res['draw_ms']['median']:.1f} ms, max {res['draw_ms']['max']:.1f} ms")
    st = res["stall_ms"]
    print(f"event-loop stall of a 10 ms timer (after the first second): p50 {st['p50']:.1f} ms, "
          f"p99 {st['p99']:.1f} ms, max {st['max']:.1f} ms over {st['ticks']} ticks "
          f"(target max ≤ 50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
