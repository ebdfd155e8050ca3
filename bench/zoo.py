#!/usr/bin/env python
"""Model zoo quality: every registered model, trained headless on `mnist5k` for a time budget.

Run it from the repository root:

    python bench/zoo.py                          # every model, 120 s each (the issue's budget)
    python bench/zoo.py --quick                  # smoke run: ~10 s each, 500 samples
    python bench/zoo.py --models 'vae*' --seconds 60
    python bench/zoo.py --models dcgan --seconds 300 --json

Each model trains with its default config through `workbench.engine.trainer.Trainer` (seed 0,
the model's own batch size when its recipe has one (dcgan: 64), else 128, no run directory, no sample grids during training), stopped once `--seconds` of
training time are spent. One row per model:

  steps/s   optimisation steps per second of training time (per-epoch validation included)
  losses    the last logged train means of the model's main plotted losses
  of        what was scored: `samples` (models that can sample: `--samples` draws, labels
            cycling 0..9 for conditional models) or `recon` (reconstructions of the 500
            validation images, for autoencoders)
  score     classifier score exp(E KL(p(y|x) || p(y))) with the digit classifier of
            workbench.analysis.metrics (10 = confident and balanced, 1 = one class)
  FD        Fréchet distance between that classifier's features of the scored images and of
            the 4500 real training images
  classes   how many digits are the argmax of at least 2% of the scored images

The first line is the reference: the real validation images scored the same way. The classifier
is trained once and cached (see metrics.cache_dir()).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def score_model(model, data, n_samples: int, seed: int = 0):
    """(what was scored, images N×C×H×W in [0, 1]) from a trained model."""
    import torch

    model.eval()
    with torch.inference_mode():
        if model.can("sample"):
            g = torch.Generator().manual_seed(seed)
            labels = model.cycling_labels(n_samples)
            parts = []
            for a in range(0, n_samples, 500):
                lab = None if labels is None else labels[a:a + 500]
                parts.append(model.sample(min(500, n_samples - a), labels=lab,
                                          generator=g).float().cpu())
            return "samples", torch.cat(parts)
        x = data.x_val.to(model.device)
        return "recon", model.reconstruct(x, data.y_val.to(model.device)).float().cpu()


def run_model(name: str, data, seconds: float, batch_size: int | None, n_samples: int,
              device: str, classifier) -> dict:
    from workbench.analysis.metrics import evaluate_samples
    from workbench.models.registry import get_model_info
    from workbench.engine.events import Finished, Metrics
    from workbench.engine.trainer import Trainer, TrainSettings

    # Like the CLI and the GUI: the model's tuned batch size unless one is asked for.
    batch_size = batch_size or get_model_info(name).batch_size or 128

    settings = TrainSettings(steps=10**9, batch_size=batch_size, sample_every_s=0,
                             device=device, log_every=10, checkpoint_every=0)
    trainer = Trainer(name, data, settings)
    losses: dict[str, float] = {}
    steps, elapsed, reason = 0, 0.0, ""
    for event in trainer.fit():
        if isinstance(event, Metrics):
            steps, elapsed = event.step, event.time
            if event.phase == "train":
                losses = event.values
            if event.time >= seconds:
                trainer.stop()
        elif isinstance(event, Finished):
            steps, reason = event.step, event.reason
    model = trainer.model
    main = [k for _, keys in model.plot_groups[:1] for k in keys if k in losses]
    row = {"model": name, "batch_size": batch_size, "steps": steps, "seconds": round(elapsed, 1),
           "steps_per_s": steps / elapsed if elapsed else 0.0, "finished": reason,
           "losses": {k: losses[k] for k in main}}
    if reason == "diverged":
        return row
    what, images = score_model(model, data, n_samples)
    row["scored"] = what
    row.update(evaluate_samples(images, data, classifier))
    return row


def covered(hist) -> int:
    return sum(f >= 0.02 for f in hist)


def fmt_row(row: dict) -> str:
    losses = " ".join(f"{k}={v:.4g}" for k, v in row.get("losses", {}).items())
    if "classifier_score" not in row:
        return f"{row['model']:<13} {row.get('steps_per_s', 0):8.1f} {'-':>7} " \
               f"{'-':>7} {'-':>8} {'-':>7}  {row.get('finished', '')} {losses}"
    speed = f"{row['steps_per_s']:8.1f}" if "steps_per_s" in row else f"{'-':>8}"
    return (f"{row['model']:<13} {speed} "
            f"{row.get('scored', 'real'):>7} {row['classifier_score']:7.2f} "
            f"{row['frechet_distance']:8.1f} {covered(row['class_histogram']):5d}/10  {losses}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=None,
                   help="training time per model (default 120; 10 with --quick)")
    p.add_argument("--models", default="*", help="glob over the registered names (default *)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 10 s per model and 500 samples unless given")
    p.add_argument("--samples", type=int, default=None,
                   help="samples to score (default 2000; 500 with --quick)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="batch size for every model (default: each model's own, else 128)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = p.parse_args(argv)
    if args.seconds is None:
        args.seconds = 10.0 if args.quick else 120.0
    if args.samples is None:
        args.samples = 500 if args.quick else 2000

    from workbench.analysis.metrics import digit_classifier, evaluate_samples
    from workbench.models.registry import get_model_info, list_models
    from workbench.data import load_dataset

    # Models made for 2-D points (the toy GANs) have no place on digits.
    names = [n for n in list_models() if fnmatch.fnmatch(n, args.models)
             and "image" in get_model_info(n).data_kinds]
    if not names:
        print(f"no registered model matches {args.models!r}", file=sys.stderr)
        return 2
    data = load_dataset("mnist5k")
    t = time.perf_counter()
    classifier = digit_classifier(data)
    reference = {"model": "real (val)", **evaluate_samples(data.x_val, data, classifier)}
    out = {"dataset": "mnist5k", "seconds_per_model": args.seconds, "samples": args.samples,
           "batch_size": args.batch_size, "device": args.device,
           "classifier_ready_s": round(time.perf_counter() - t, 1), "reference": reference,
           "models": []}
    if not args.json:
        print(f"mnist5k, {args.seconds:g} s per model, batch {args.batch_size or 'per model'}, "
              f"device {args.device}, {args.samples} samples (classifier ready in "
              f"{out['classifier_ready_s']} s)")
        print(f"{'model':<13} {'steps/s':>8} {'of':>7} {'score':>7} {'FD':>8} {'classes':>7}  "
              "final train losses")
        print(fmt_row(reference))
    for name in names:
        row = run_model(name, data, args.seconds, args.batch_size, args.samples, args.device,
                        classifier)
        out["models"].append(row)
        if not args.json:
            print(fmt_row(row), flush=True)
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
