"""The `genworkbench` command (contract in DESIGN.md). No Qt, and no torch, at module level:
`genworkbench --help` and the GUI's first paint must not wait for torch to import."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

EXIT_USER_ERROR = 1
EXIT_DIVERGED = 3
EXIT_INTERRUPTED = 130


def _err(msg: str) -> None:
    print(f"genworkbench: error: {msg}", file=sys.stderr)


# -- models / datasets ------------------------------------------------------------------------------
def cmd_models(args) -> int:
    from workbench.core.config import fields_of
    from workbench.core.registry import get_model_info, list_models

    rows = []
    for name in list_models(args.pattern):
        info = get_model_info(name)
        rows.append({"name": name, "family": info.family, "description": info.description,
                     "capabilities": list(info.model_cls.class_capabilities()),
                     "conditional": info.model_cls.conditional,
                     "config": [f.to_json() for f in fields_of(info.default_config())]})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['family']:<12} {r['description']}")
        if args.verbose:
            for f in r["config"]:
                lim = "" if f["min"] is None and f["max"] is None else f" [{f['min']}, {f['max']}]"
                ch = f" ({'|'.join(map(str, f['choices']))})" if f["choices"] else ""
                print(f"    {f['name']}={f['default']}{ch}{lim}  {f['help']}")
    return 0


def cmd_datasets(args) -> int:
    from workbench.data.builtin import list_datasets

    rows = [{"name": d.name, "kind": d.kind, "description": d.description, "builtin": True}
            for d in list_datasets()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['name']:<10} {r['kind']:<7} {r['description']}")
    return 0


# -- train -------------------------------------------------------------------------------------------
def _fmt(values: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in values.items())


def cmd_train(args) -> int:
    from workbench.core import config as C
    from workbench.core.registry import get_config
    from workbench.data import load_dataset
    from workbench.engine.events import CheckpointSaved, Finished, Metrics, Started
    from workbench.engine.trainer import Trainer, TrainSettings

    overrides = C.parse_assignments(args.set)
    settings = TrainSettings()
    train_keys = {f.name for f in C.fields_of(settings)}
    # --set may also name a training setting (e.g. log_every); the model config gets the rest.
    settings = C.replace(settings, **{k: v for k, v in overrides.items() if k in train_keys})
    model_over = {k: v for k, v in overrides.items() if k not in train_keys}
    changes = {"device": args.device}
    if args.batch_size is not None:
        changes["batch_size"] = args.batch_size
    elif "batch_size" not in overrides and not args.resume:
        from workbench.core.registry import get_model_info

        # A model tuned at its own batch size (the toy GANs) gets it unless the user says.
        tuned = get_model_info(args.model).batch_size
        if tuned:
            changes["batch_size"] = tuned
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.steps is not None:
        changes.update(steps=args.steps, epochs=0)
    elif args.epochs is not None:
        changes.update(epochs=args.epochs, steps=0)
    if args.checkpoint_every is not None:
        changes["checkpoint_every"] = args.checkpoint_every
    changes["sample_every_s"] = 0.0  # headless: sheets are written at the end
    settings = C.replace(settings, **changes)
    config = get_config(args.model, **model_over)
    if args.resume and model_over:
        raise C.ConfigError("--resume continues a run with its own config; drop --set")
    data = load_dataset(args.dataset)
    trainer = Trainer(args.model, data, settings, config=config, run_dir=Path(args.out),
                      resume=args.resume)

    interrupted = []

    def on_sigint(signum, frame):
        if interrupted:  # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        interrupted.append(True)
        print("\nstopping after this step (Ctrl-C again to abort without saving)...",
              file=sys.stderr)
        trainer.stop()

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        for ev in trainer.fit():
            if isinstance(ev, Started):
                what = "resuming at step" if ev.start_step else "starting"
                print(f"{ev.model} on {data.name} ({data.n_train} train / {data.n_val} val), "
                      f"device {ev.device}, batch {ev.batch_size}, {ev.total_steps} steps "
                      f"({ev.steps_per_epoch}/epoch); {what} {ev.start_step or ''}".rstrip())
                for w in trainer.warnings:
                    print(f"warning: {w}", file=sys.stderr)
            elif isinstance(ev, Metrics):
                if ev.phase == "train":
                    print(f"step {ev.step} epoch {ev.epoch} {_fmt(ev.values)} "
                          f"| {ev.images_per_s:,.0f} img/s", flush=True)
                else:
                    print(f"val  {ev.step} epoch {ev.epoch} {_fmt(ev.values)}", flush=True)
            elif isinstance(ev, CheckpointSaved) and args.verbose:
                print(f"checkpoint {ev.path}")
            elif isinstance(ev, Finished):
                if ev.reason == "diverged":
                    _err(ev.message)
                    return EXIT_DIVERGED
                print(f"{ev.message}; run directory {args.out}")
                return EXIT_INTERRUPTED if ev.reason == "stopped" else 0
    finally:
        signal.signal(signal.SIGINT, old)
    return 0


# -- sample / eval -----------------------------------------------------------------------------------
def cmd_sample(args) -> int:
    import numpy as np
    import torch

    from workbench.analysis.sheets import save_sheet
    from workbench.core.device import resolve_device
    from workbench.core.errors import ConfigError
    from workbench.engine.runs import RunDir

    if args.n < 1:
        raise ConfigError("--n must be at least 1")
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npz"):
        raise ConfigError(f"--out must end in .png or .npz, not {out.name!r}")
    run = RunDir.open(args.run)
    model = run.load_model(resolve_device(args.device))
    for w in model.load_warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not model.can("sample"):
        raise ConfigError(f"{run.model_name} cannot draw samples (an autoencoder has no prior); "
                          "use a VAE or a GAN")
    labels = None
    if model.conditional:
        if args.label is not None and not 0 <= args.label < model.num_classes:
            raise ConfigError(f"--label must lie in 0..{model.num_classes - 1}")
        labels = (torch.full((args.n,), args.label, device=model.device)
                  if args.label is not None else model.cycling_labels(args.n))
    elif args.label is not None:
        raise ConfigError(f"{run.model_name} is not conditional: --label does not apply")
    g = torch.Generator().manual_seed(args.seed)
    with torch.inference_mode():
        x = model.sample(args.n, labels=labels, generator=g).float().cpu().numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npz":
        arrays = {"x": x.astype(np.float32)}
        if labels is not None:
            arrays["y"] = labels.cpu().numpy()
        np.savez(out, **arrays)
    else:
        save_sheet(x, out)
    print(f"wrote {args.n} samples of {run.model_name} (step {model.loaded_step}) to {out}")
    return 0


def cmd_eval(args) -> int:
    from workbench.core.device import resolve_device
    from workbench.data import load_dataset
    from workbench.engine.runs import RunDir
    from workbench.engine.trainer import evaluate

    run = RunDir.open(args.run)
    device = resolve_device(args.device)
    model = run.load_model(device)
    data = load_dataset(run.meta["dataset"]["name"]).to(device)
    vals = evaluate(model, data, device, seed=int(run.meta.get("seed", 0)), full=True)
    result = {"run": str(run.path), "model": run.model_name, "step": model.loaded_step,
              "dataset": data.name, "n_val": data.n_val, "val": vals}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{run.model_name} at step {model.loaded_step} on {data.name} "
              f"({data.n_val} validation examples): {_fmt(vals)}")
    return 0


def cmd_gui(args) -> int:
    from workbench.ui.app import run_app

    return run_app(run_dir=getattr(args, "run", None))


# -- parser ------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from workbench import __version__

    p = argparse.ArgumentParser(
        prog="genworkbench",
        description="Train and take apart generative models (AEs, VAEs, GANs) and watch them "
                    "learn. With no command, the window opens on the embedded MNIST subset.")
    p.add_argument("--version", action="version", version=f"genworkbench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser("gui", help="open the window (optionally on a run directory)")
    g.add_argument("--run", type=Path, help="a run directory to open")
    g.set_defaults(func=cmd_gui)

    m = sub.add_parser("models", help="list registered models and their config fields")
    m.add_argument("pattern", nargs="?", default="*", help="glob on the name, e.g. 'vae*'")
    m.add_argument("--json", action="store_true")
    m.add_argument("-v", "--verbose", action="store_true", help="show every config field")
    m.set_defaults(func=cmd_models)

    d = sub.add_parser("datasets", help="list built-in datasets")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_datasets)

    t = sub.add_parser("train", help="train a model headless into a run directory")
    t.add_argument("model", help="registered model name (see `genworkbench models`)")
    t.add_argument("--dataset", required=True, help="built-in dataset name")
    t.add_argument("--out", required=True, type=Path, help="run directory to create (or resume)")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="total optimisation steps")
    length.add_argument("--epochs", type=int, help="passes over the training set (default 10)")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config field, e.g. --set latent_dim=2 --set beta=4")
    t.add_argument("--device", default="auto", help="auto|cpu|cuda|mps")
    t.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    t.add_argument("--checkpoint-every", type=int, metavar="N")
    t.add_argument("-v", "--verbose", action="store_true")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", type=Path)
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--out", required=True, type=Path, help="FILE.png (sheet) or FILE.npz")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--label", type=int, help="class to draw (conditional models)")
    s.add_argument("--device", default="auto")
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("eval", help="validation metrics of a run's newest checkpoint")
    e.add_argument("run", type=Path)
    e.add_argument("--json", action="store_true")
    e.add_argument("--device", default="auto")
    e.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args.func, args.run = cmd_gui, None
    from workbench.core.errors import WorkbenchError

    try:
        return args.func(args)
    except WorkbenchError as e:
        _err(str(e))
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except OSError as e:  # a path that cannot be read or written
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        _err(f"{e.strerror or e}{where}")
        return EXIT_USER_ERROR
