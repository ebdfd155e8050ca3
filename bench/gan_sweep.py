#!/usr/bin/env python
"""Sweep model configurations side by side, each pinned to its own pair of CPU cores.

How the dcgan default was chosen (README, "What mattered for dcgan"). Run it from the repository
root on a machine with spare cores:

    python bench/gan_sweep.py jobs.json OUTDIR      # all jobs at once, job k on its own 2 cores
    python bench/gan_sweep.py --one '{"id": "x", "model": "dcgan", "set": {"lr_g": 6e-4}}'

jobs.json is a list of jobs: {"id": NAME, "model": REGISTERED_NAME, "set": {field: value},
"bs": batch size (default: the model's own), "seed": S, "seconds": training budget,
"evals": [seconds, ...] (score at these marks of training time; default: the budget),
"samples": N, "standing": true to also score G's EMA with batch-norm statistics recomputed for
its weights}. Each score line is JSON: steps so far and, per sampler, [classifier score, FD,
classes covered]: "main" samples as bench/zoo.py does (G's EMA where there is one), "raw" from
G itself. Scoring time is not counted as training time. Job k's lines go to OUTDIR/ID.jsonl.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def standing_stats(net, model, n: int = 2000):
    """A copy of G whose batch-norm running statistics are recomputed for its own weights."""
    import torch
    from torch import nn

    g = copy.deepcopy(net)
    for m in g.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # a plain average over the batches below
    g.train()
    gen = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for _ in range(n // 250):
            g(model.draw_codes(250, gen)[0].to(model.device))
    return g.eval()


def run_job(job: dict) -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    from zoo import covered, score_model

    from workbench.analysis.metrics import digit_classifier, evaluate_samples
    from workbench.models.registry import get_config, get_model_info
    from workbench.data import load_dataset
    from workbench.engine.events import Finished, Metrics
    from workbench.engine.trainer import Trainer, TrainSettings

    data = load_dataset("mnist5k")
    classifier = digit_classifier(data)
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in job.get("set", {}).items()}
    config = get_config(job["model"], **overrides)
    bs = job.get("bs") or get_model_info(job["model"]).batch_size or 128
    settings = TrainSettings(steps=10**9, batch_size=bs, sample_every_s=0, device="cpu",
                             log_every=10, checkpoint_every=0, seed=job.get("seed", 0))
    trainer = Trainer(job["model"], data, settings, config=config)
    marks = sorted(job.get("evals") or [job.get("seconds", 120)])
    scoring = 0.0  # seconds spent scoring, taken off the training clock
    losses: dict = {}

    def score(step: int, t: float) -> None:
        model = trainer.model
        ema = getattr(model, "g_ema", None)
        samplers = {"main": ema}
        if ema is not None:
            samplers["raw"] = None
            if job.get("standing"):
                samplers["ema_standing"] = standing_stats(ema, model)
        row = {"id": job["id"], "t": round(t, 1), "steps": step}
        for name, net in samplers.items():
            if ema is not None:
                model.g_ema = net
            try:
                _, images = score_model(model, data, job.get("samples", 2000))
                r = evaluate_samples(images, data, classifier)
            finally:
                if ema is not None:
                    model.g_ema = ema
            row[name] = [round(r["classifier_score"], 3), round(r["frechet_distance"], 1),
                         covered(r["class_histogram"])]
        model.train()
        row["losses"] = {k: round(v, 4) for k, v in losses.items()
                         if k in ("d_loss", "g_loss", "d_real", "d_fake", "loss")}
        print(json.dumps(row), flush=True)

    for event in trainer.fit():
        if isinstance(event, Metrics):
            if event.phase == "train":
                losses = event.values
            t = event.time - scoring
            if marks and t >= marks[0]:
                marks.pop(0)
                t0 = time.perf_counter()
                score(event.step, t)
                scoring += time.perf_counter() - t0
                if not marks:
                    trainer.stop()
        elif isinstance(event, Finished) and event.reason == "diverged":
            print(json.dumps({"id": job["id"], "diverged_at": event.step}), flush=True)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "--one":
        run_job(json.loads(argv[1]))
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    jobs = json.loads(Path(argv[0]).read_text())
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    # The classifier once, before the jobs would all train it at the same time.
    from workbench.analysis.metrics import digit_classifier
    from workbench.data import load_dataset

    digit_classifier(load_dataset("mnist5k"))
    env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2 * len(jobs):
        print(f"note: {len(jobs)} jobs share {len(cpus) or 'unpinned'} cores: their step "
              "counts are not comparable with a free pair of cores", file=sys.stderr)
    running = []
    for k, job in enumerate(jobs):
        log = open(out / f"{job['id']}.jsonl", "w")
        cmd = [sys.executable, __file__, "--one", json.dumps(job)]
        if cpus:  # job k on the k-th pair of the cores this process may use
            pair = job.get("cpus") or f"{cpus[2 * k % len(cpus)]},{cpus[(2 * k + 1) % len(cpus)]}"
            cmd = ["taskset", "-c", pair] + cmd
        running.append((job, log, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                                   env=env)))
    for job, log, proc in running:
        proc.wait()
        log.close()
        print(job["id"], json.dumps(job.get("set", {})))
        print((out / f"{job['id']}.jsonl").read_text()[-3000:], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
