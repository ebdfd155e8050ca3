#!/usr/bin/env python
"""GAN lab, headless part: how fast the toy GAN steps, and mode collapse in numbers.

Run it from the repository root:

    python bench/gan_lab.py                 # speed + the full mode table (3 seeds, both sets)
    python bench/gan_lab.py --quick         # speed + one seed, a quarter of the steps
    python bench/gan_lab.py --skip-modes    # speed only (--skip-speed: the table only)
    python bench/gan_lab.py --jobs 2 --json
    python bench/gan_lab.py --skip-modes --against HEAD~3   # speed now vs. a commit, side by side

Speed: `GanLab("grid25", "toy_gan").step_both(n)` (what the lab panel's worker runs while it
plays) and `snapshot()` with its defaults (what it draws), in steps/s and ms, with one and with
two intra-op threads (a small MLP gains nothing from more). With --against REV the speed is
taken in fresh processes, alternating this tree and REV's `workbench/` (exported with
`git archive`, nothing in the repository changes) for --rounds rounds, so both see the same
load; each line gives the median over the rounds.

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
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (modes, high-quality share) to reach with toy_gan_stable, and PacGAN4's published numbers.
TARGETS = {"ring8": (8, 0.97), "grid25": (25, 0.95)}
PACGAN4 = {"ring8": (7.8, 0.959), "grid25": (24.8, 0.936)}


def speed(threads: int, seconds: float = 3.0, direct_adam: bool = True) -> dict:
    import torch

    try:
        from workbench.experiments.lab import GanLab
    except ImportError:  # a tree before the floors (--against an older revision)
        from workbench.engine.lab import GanLab
    try:  # the by-hand path's direct fused-Adam call (absent in trees before it was gated)
        from workbench.models.gan import fused_adam
    except ImportError:
        fused_adam = None
    if fused_adam is not None:
        fused_adam.enabled = direct_adam
    torch.set_num_threads(threads)
    lab = GanLab("grid25", "toy_gan", seed=0)
    lab.step_both(50)  # warm-up
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        lab.step_both(50)
        n += 50
    steps_s = n / (time.perf_counter() - t0)
    direct = fused_adam.direct_steps if fused_adam is not None else None
    # Per second of CPU time too: what the process got of a core, so less sensitive to the
    # other processes' load than the wall-clock rate (equal to it on an idle core).
    steps_cpu_s = n / max(time.process_time() - c0, 1e-9)
    lab.snapshot()
    times = []
    for _ in range(20):
        t = time.perf_counter()
        lab.snapshot()
        times.append(time.perf_counter() - t)
    times.sort()
    return {"threads": threads, "steps_per_s": steps_s, "steps_per_cpu_s": steps_cpu_s,
            "batch": lab.batch_size, "direct_adam": direct_adam, "direct_adam_steps": direct,
            "snapshot_ms_median": 1e3 * times[len(times) // 2], "snapshot_ms_max": 1e3 * times[-1]}


def _direct_adam_ratio(seconds: float) -> dict:
    import torch

    from workbench.models.gan import fused_adam

    runs = {True: [], False: []}
    taken = 0
    for _ in range(3):
        for direct in (True, False):
            before = fused_adam.direct_steps
            runs[direct].append(speed(1, seconds, direct_adam=direct)["steps_per_s"])
            if direct:
                taken += fused_adam.direct_steps - before
    fused_adam.enabled = True
    d, p = statistics.median(runs[True]), statistics.median(runs[False])
    return {"torch": torch.__version__, "direct_steps": taken, "direct": d, "plain": p,
            "ratio": d / p}


def speed_side_by_side(rev: str, rounds: int, seconds: float,
                       thread_counts: tuple[int, ...] = (1, 2)) -> list[dict]:
    """Speed of this tree and of `rev`, each in a fresh process, alternating so that a load
    that comes and goes hits both alike; per tree and thread count, the medians of the rounds."""
    with tempfile.TemporaryDirectory(prefix="gan_lab_bench_") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "workbench"],
                                 capture_output=True, check=False)
        if archive.returncode:
            raise SystemExit(f"gan_lab.py: error: git archive {rev}: "
                             f"{archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        trees = {"this tree": str(ROOT), rev: tmp}
        runs: dict[tuple[str, int], list[dict]] = {}
        for _ in range(rounds):
            for label, path in trees.items():
                for threads in thread_counts:
                    cmd = [sys.executable, __file__, "--speed-worker", path, "--threads",
                           str(threads), "--seconds", str(seconds)]
                    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    runs.setdefault((label, threads), []).append(json.loads(res.stdout))
    out = []
    for (label, threads), rs in runs.items():
        row = {"tree": label, "threads": threads, "batch": rs[0]["batch"], "rounds": len(rs)}
        for key in ("steps_per_s", "steps_per_cpu_s", "snapshot_ms_median", "snapshot_ms_max"):
            row[key] = statistics.median(r[key] for r in rs)
        row["steps_per_s_all"] = [round(r["steps_per_s"], 1) for r in rs]
        out.append(row)
    return out


def train_and_score(model: str, dataset: str, seed: int, steps_scale: float = 1.0) -> dict:
    import torch

    torch.set_num_threads(1)
    from workbench.analysis.modes import N_SAMPLES, mode_report_for
    from workbench.models.registry import get_model_info
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
    ap.add_argument("--against", metavar="REV",
                    help="speed of this tree and of git revision REV side by side")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per tree with --against")
    ap.add_argument("--seconds", type=float, default=3.0, help="stepping time per speed run")
    ap.add_argument("--one-thread", action="store_true",
                    help="speed with one intra-op thread only (the lab's worker uses one)")
    # internal: one speed run of the workbench package under PATH, printed as JSON
    ap.add_argument("--speed-worker", metavar="PATH", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.speed_worker:
        sys.path.insert(0, args.speed_worker)  # before the first import of workbench
        print(json.dumps(speed(args.threads, args.seconds)))
        return 0
    if args.against:
        rows = speed_side_by_side(args.against, args.rounds, args.seconds,
                                  (1,) if args.one_thread else (1, 2))
        if args.json:
            print(json.dumps({"load_avg": os.getloadavg()[0], "speed": rows}, indent=2))
            return 0
        print(f"toy_gan in the lab (grid25), headless, {args.rounds} alternating rounds of "
              f"{args.seconds:g} s; load average {os.getloadavg()[0]:.2f} at the end")
        for r in rows:
            print(f"  {r['tree']:>10}, {r['threads']} thread(s): {r['steps_per_s']:6.0f} steps/s "
                  f"(rounds: {r['steps_per_s_all']}), {r['steps_per_cpu_s']:.0f} per CPU s; "
                  f"snapshot() {r['snapshot_ms_median']:.1f} ms median", flush=True)
        if args.skip_modes:
            return 0

    out: dict = {"load_avg_start": os.getloadavg()[0], "cpus": os.cpu_count()}
    threads = (1,) if args.one_thread else (1, 2)
    out["speed"] = [speed(t, args.seconds) for t in threads] \
        if not (args.skip_speed or args.against) else []
    # What the direct fused-Adam call (models/gan/fused_adam.py) buys: one thread, alternating
    # direct and plain `opt.step()`, three rounds each, medians.
    out["direct_adam"] = {} if (args.skip_speed or args.against) else _direct_adam_ratio(
        args.seconds)
    if not args.json:
        print(f"machine: {out['cpus']} CPUs, load average {out['load_avg_start']:.2f} at start")
        print("toy_gan in the lab (grid25), headless", flush=True)
        for s in out["speed"]:
            print(f"  {s['threads']} thread(s): {s['steps_per_s']:7.0f} steps/s (batch "
                  f"{s['batch']}, target ≥ 500; {s['steps_per_cpu_s']:.0f} per CPU s); snapshot() {s['snapshot_ms_median']:.1f} ms "
                  f"median, {s['snapshot_ms_max']:.1f} ms max (target ≤ ~15)", flush=True)
        d = out["direct_adam"]
        if d:
            print(f"  direct fused Adam: {d['direct_steps']} optimiser steps took it "
                  f"(torch {d['torch']}); {d['direct']:.0f} against {d['plain']:.0f} steps/s "
                  f"with opt.step(): {d['ratio']:.2f}x", flush=True)
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
