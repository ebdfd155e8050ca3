#!/usr/bin/env python
"""Latent explorer speed: slider drag → decoded image on screen, scatter refresh, and the GUI
stall while t-SNE runs in the background.

    python bench/latent.py [--moves 300] [--json]

One process; every number comes from the real widgets (offscreen unless DISPLAY is set):
  * slider → screen: for each 28×28 model (vae_mlp, ae_conv, vae_conv, dcgan's generator), a
    slider of LatentSliders is set to a new value, the event loop runs until the decode lands,
    and the image view is repainted synchronously; the time for the whole chain, per move
    (target p95 ≤ 8 ms on CPU);
  * scatter refresh: LatentScatter.set_points with synthetic 2-D codes in 10 classes, followed by
    a synchronous repaint of the plot (70 000 points: target ≤ 100 ms; 5 000: ≤ 20 ms);
  * t-SNE stall: LatentExplorer runs t-SNE on 500 codes in its background job while a 10 ms
    precise timer measures how late the event loop is (target max stall ≤ 50 ms).
Weights are untrained: decode cost does not depend on what a model learned.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SLIDER_MODELS = ("vae_mlp", "ae_conv", "vae_conv", "dcgan")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def probe_for(name: str):
    import torch

    from workbench.analysis.latent import LatentProbe
    from workbench.models.registry import create_model
    from workbench.data.spec import DataSpec

    torch.manual_seed(0)
    return LatentProbe(create_model(name, DataSpec.mnist()), name)


def slider_latency(app, name: str, moves: int) -> list[float]:
    from workbench.ui.panels.latent_sliders import LatentSliders

    w = LatentSliders()
    w.resize(400, 700)
    w.show()
    w.set_probe(probe_for(name))
    app.processEvents()
    done = [False]
    w.decoded.connect(lambda: done.__setitem__(0, True))
    times = []
    slider = w._sliders[0]
    for i in range(moves + 20):
        value = int(900 * ((i * 37) % 61 - 30) / 30)  # jump around −3 … 3
        done[0] = False
        t0 = time.perf_counter()
        slider.setValue(value if value != slider.value() else value + 1)
        while not done[0]:
            app.processEvents()
        w.image.viewport().repaint()  # on screen now
        if i >= 20:  # warm-up moves excluded
            times.append((time.perf_counter() - t0) * 1000)
    w.close()
    w.deleteLater()
    return times


def scatter_refresh(app, n: int, reps: int = 8) -> list[float]:
    import numpy as np

    from workbench.ui.panels.latent_scatter import LatentScatter

    w = LatentScatter()
    w.resize(800, 600)
    w.show()
    names = [str(k) for k in range(10)]
    rng = np.random.default_rng(0)
    times = []
    for r in range(reps + 2):
        labels = rng.integers(0, 10, n)
        xy = (rng.normal(size=(n, 2)) + labels[:, None] * 0.5).astype(np.float32)
        app.processEvents()
        t0 = time.perf_counter()
        w.set_points(xy, labels, names, f"{n} points", keep_view=r > 0)
        w.plot.viewport().repaint()
        if r >= 2:
            times.append((time.perf_counter() - t0) * 1000)
    w.close()
    w.deleteLater()
    return times


def tsne_stall(session_info) -> dict:
    import numpy as np
    import torch
    from PySide6.QtCore import Qt, QTimer

    from workbench.ui.latent_session import LatentSession
    from workbench.ui.panels.latent_explorer import LatentExplorer

    app, loop = session_info["app"], session_info["loop"]
    probe = probe_for("vae_mlp")
    snap = {"model": "vae_mlp", "config": probe.model.config, "spec": probe.spec, "step": 0,
            "state": {k: v.numpy().copy() for k, v in probe.model.state_dict().items()}}
    session = LatentSession()
    w = LatentExplorer(session)
    w.resize(1100, 700)
    w.show()
    session.set_active(True)
    session.set_snapshot(snap, "mnist5k")
    t_end = time.perf_counter() + 60
    while session.encoded is None and time.perf_counter() < t_end:
        loop.run_until_complete(_sleep(0.05))
    ticks = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    t0 = time.perf_counter()
    w.run_tsne()
    while w.tsne_running:
        loop.run_until_complete(_sleep(0.02))
    seconds = time.perf_counter() - t0
    timer.stop()
    w.shutdown()
    session.shutdown()
    w.close()
    stall = sorted(max(0.0, (b - a) * 1000 - 10) for a, b in zip(ticks, ticks[1:]))
    del np, torch
    return {"tsne_points": len(w.view_idx), "tsne_seconds": seconds,
            "stall_p50_ms": pct(stall, 0.5), "stall_p99_ms": pct(stall, 0.99),
            "stall_max_ms": stall[-1] if stall else 0.0}


async def _sleep(s):
    import asyncio

    await asyncio.sleep(s)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from ui_latency import qt_session

    s = qt_session()
    app = s["app"]
    from workbench.ui.training_run import use_one_torch_thread_for_the_gui

    use_one_torch_thread_for_the_gui()  # as the window does once the backend is loaded
    out: dict = {"platform": os.environ.get("QT_QPA_PLATFORM", "xcb"), "slider_ms": {},
                 "scatter_ms": {}}
    for name in SLIDER_MODELS:
        t = slider_latency(app, name, args.moves)
        out["slider_ms"][name] = {"p50": pct(t, 0.5), "p95": pct(t, 0.95), "max": max(t)}
    for n in (5_000, 70_000):
        t = scatter_refresh(app, n)
        out["scatter_ms"][str(n)] = {"median": statistics.median(t), "max": max(t)}
    out["tsne"] = tsne_stall(s)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"platform: {out['platform']}")
    print("slider drag -> decoded image on screen (target p95 <= 8 ms)")
    for name, r in out["slider_ms"].items():
        print(f"  {name:10s} p50 {r['p50']:6.2f} ms   p95 {r['p95']:6.2f} ms   max {r['max']:6.2f} ms")
    print("scatter refresh (set_points + repaint)")
    for n, r in out["scatter_ms"].items():
        target = 100 if int(n) >= 70_000 else 20
        print(f"  {int(n):6d} points  median {r['median']:6.1f} ms   max {r['max']:6.1f} ms"
              f"   (target <= {target} ms)")
    t = out["tsne"]
    print(f"t-SNE of {t['tsne_points']} codes in the background: {t['tsne_seconds']:.1f} s; GUI "
          f"stall p50 {t['stall_p50_ms']:.1f} ms, p99 {t['stall_p99_ms']:.1f} ms, max "
          f"{t['stall_max_ms']:.1f} ms (target max <= 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
