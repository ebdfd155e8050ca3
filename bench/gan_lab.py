#!/usr/bin/env python
"""GAN lab, headless part: how fast the toy GAN steps, and mode collapse in numbers.

Run it from the repository root:

    python bench/gan_lab.py                 # speed + the full mode table (3 seeds, both sets)
    python bench/gan_lab.py --quick         # speed + one seed, a quarter of the steps
    python bench/gan_lab.py --skip-modes    # speed only (--skip-speed: the table only)
    python bench/gan_lab.py --jobs 2 --json

Speed: `GanLab("grid25", "toy_gan").step_both(n)` (what the lab panel's worker runs while it
plays) and `snapshot()` with its defaults (what it draws), in steps/s and ms, with one and with
two intra-op threads (a small MLP gains nothing from more).

Mode table: each model trained with its registered defaults (config, batch size, step count)
through `workbench.engine.trainer.Trainer`, exactly as `genworkbench train MODEL --dataset D`
does (per-epoch validation included, no run directory), seeds 0, 1, 2; then 2500 samples from
`model.sample` scored by workbench.analysis.modes (DESIGN.md's definitions). Each row is the
mean over the seeds; `s/run` is the training wall time of one run and `cpu s` its CPU time (one
thread: the time it needs of one idle core, whatever the load). Runs go `--jobs` at a time,
one intra-op thread each, so with --jobs 2 on a 2-core machine each run has about one core: the
times are an upper bound for a run that has both cores. Other processes on the machine slow
every number down; the table says how loaded it was.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (modes, high-quality share) to reach with toy_gan_stable, and PacGAN4's published numbers.
TARGETS = {"ring8": (8, 0.97), "grid25": (25, 0.95)}
PACGAN4 = {"ring8": (7.8, 0.959), "grid25": (24.8, 0.936)}


def speed(threads: int, seconds: float = 3.0) -> dict:
    import torch

    from workbench.engine.lab import GanLab

    torch.set_num_threads(threads)
    lab = GanLab("grid25", "toy_gan", seed=0)
    lab.step_both(50)  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        lab.step_both(50)
        n += 50
    steps_s = n / (time.perf_counter() - t0)
    lab.snapshot()
    times = []
    for _ in range(20):
        t = time.perf_counter()
        lab.snapshot()
        times.append(time.perf_counter() - t)
    times.sort()
    return {"threads": threads, "steps_per_s": steps_s, "batch": lab.batch_size,
            "snapshot_ms_median": 1e3 * times[len(times) // 2], "snapshot_ms_max": 1e3 * times[-1]}


def train_and_score(model: str, dataset: str, seed: int, steps_scale: float = 1.0) -> dict:
    import torch

    torch.set_num_threads(1)
    from workbench.analysis.modes import N_SAMPLES, mode_report_for
    from workbench.core.registry import get_model_info
    from workbench.data import load_dataset
    from workbench.engine.events import Finished
    from workbench.engine.trainer import Trainer, TrainSettings

    info = get_model_info(model)
    steps = max(1, int((info.steps or 5000) * steps_scale))
    settings = TrainSettings(batch_size=info.batch_size or 128, steps=steps, epochs=0, seed=seed,
                             device="cpu", sample_every_s=0.0, checkpoint_every=0,
                             log_every=100)
    data = load_dataset(dataset)
    trainer = Trainer(model, data, settings)
    t0, c0 = time.perf_counter(), time.process_time()
    for ev in trainer.fit():
        if isinstance(ev, Finished) and ev.reason != "completed":
            raise RuntimeError(ev.message)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    m = trainer.model
    m.eval()
    with torch.no_grad():
        x = m.sample(N_SAMPLES, generator=torch.Generator().manual_seed(10_000 + seed))
    r = mode_report_for(data, x.float().cpu().numpy())
    return {"model": model, "dataset": dataset, "seed": seed, "steps": steps, "seconds": wall,
            "cpu_seconds": cpu,
            "modes": r.modes_captured, "n_modes": r.n_modes, "hq": r.hq_share,
            "reverse_kl": r.reverse_kl}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--quick", action="store_true", help="one seed, a quarter of the steps")
    ap.add_argument("--skip-modes", action="store_true", help="speed only")
    ap.add_argument("--skip-speed", action="store_true", help="mode table only")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1, help="training runs at a time")
    ap.add_argument("--models", default="toy_gan_stable,toy_gan")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    out: dict = {"load_avg_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    out["speed"] = [speed(1), speed(2)] if not args.skip_speed else []
    if not args.json:
        print(f"machine: {out['cpus']} CPUs, load average {out['load_avg_start']:.2f} at start")
        print("toy_gan in the lab (grid25), headless", flush=True)
        for s in out["speed"]:
            print(f"  {s['threads']} thread(s): {s['steps_per_s']:7.0f} steps/s (batch "
                  f"{s['batch']}, target ≥ 500); snapshot() {s['snapshot_ms_median']:.1f} ms "
                  f"median, {s['snapshot_ms_max']:.1f} ms max (target ≤ ~15)", flush=True)
    if args.skip_modes:
        if args.json:
            print(json.dumps(out, indent=2))
        return 0

    seeds = [0] if args.quick else list(range(args.seeds))
    scale = 0.25 if args.quick else 1.0
    jobs = [(m, d, s, scale) for m in args.models.split(",") for d in ("ring8", "grid25")
            for s in seeds]
    runs = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(train_and_score, *job) for job in jobs]
        for fut in as_completed(futures):  # one line per run as it ends: partial results count
            r = fut.result()
            runs.append(r)
            if not args.json:
                print(f"  run {len(runs)}/{len(jobs)}: {r['model']} {r['dataset']} seed "
                      f"{r['seed']}: {r['modes']}/{r['n_modes']} modes, "
                      f"{100 * r['hq']:.1f} % HQ, {r['seconds']:.0f} s wall, "
                      f"{r['cpu_seconds']:.0f} s CPU", flush=True)
    out["runs"] = runs
    out["load_avg_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"\nmode metrics, {len(seeds)} seed(s), 2500 samples, mean over seeds "
          f"(load average {out['load_avg_end']:.2f} at the end)")
    print(f"  {'model':<15} {'data':<7} {'steps':>6} {'s/run':>6} {'cpu s':>6} {'modes':>11} "
          f"{'HQ %':>6} {'rev KL':>7}   target (PacGAN4)")
    for m in args.models.split(","):
        for d in ("ring8", "grid25"):
            rs = [r for r in runs if r["model"] == m and r["dataset"] == d]
            mean = lambda k: sum(r[k] for r in rs) / len(rs)  # noqa: E731
            tgt = f"{TARGETS[d][0]} / {100 * TARGETS[d][1]:.0f} %" if m == "toy_gan_stable" \
                else "collapses"
            pac = PACGAN4[d]
            print(f"  {m:<15} {d:<7} {rs[0]['steps']:>6} {mean('seconds'):>6.0f} "
                  f"{mean('cpu_seconds'):>6.0f} "
                  f"{mean('modes'):>5.1f} / {rs[0]['n_modes']:<3} {100 * mean('hq'):>6.1f} "
                  f"{mean('reverse_kl'):>7.3f}   {tgt} ({pac[0]} / {100 * pac[1]:.1f} %)")
            per_seed = ", ".join(f"{r['modes']}/{100 * r['hq']:.1f}%" for r in rs)
            print(f"  {'':<15} {'':<7} per seed: {per_seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
