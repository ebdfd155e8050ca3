"""The `genworkbench` command (contract in DESIGN.md). No Qt, and no torch, at module level:
`genworkbench --help` and the GUI's first paint must not wait for torch to import."""

from __future__ import annotations

import argparse
import json
import time
import os
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
    from workbench.core.errors import ConfigError
    from workbench.models.registry import get_model_info, list_models

    names = list_models(args.pattern)
    if not names:
        if not any(c in args.pattern for c in "*?["):
            get_model_info(args.pattern)  # an unknown name: its error has a did-you-mean
        raise ConfigError(f"no model matches {args.pattern!r}; `genworkbench models` lists them")
    rows = []
    for name in names:
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
    from workbench.data import list_datasets
    from workbench.data.tv import TV_DATASETS, data_root, is_present

    rows = [{"name": d.name, "kind": d.kind, "description": d.description, "builtin": True}
            for d in list_datasets()]
    root = data_root(args.data_root)
    for d in TV_DATASETS.values():
        rows.append({"name": d.name, "kind": "image", "description": d.description,
                     "builtin": False, "torchvision": True, "root": str(root),
                     "present": is_present(d.name, root)})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            where = ""
            if r.get("torchvision"):
                where = "  [present]" if r["present"] else "  [not downloaded: --download]"
            print(f"{r['name']:<13} {r['kind']:<7} {r['description']}{where}")
        print(f"torchvision root: {root} (--data-root or $GENWORKBENCH_DATA); any folder of "
              "images is a dataset too: --dataset PATH (see `genworkbench check-folder PATH`)")
    return 0


def _progress_printer(what: str):
    """A TaskContext whose progress redraws one stderr line (only on a terminal, else None)."""
    if not sys.stderr.isatty():
        return None
    from workbench.core.tasks import TaskContext

    def progress(done, total, _text="") -> None:
        end = "\n" if total and done >= total else ""
        print(f"\r{what} {done}/{total}", end=end, file=sys.stderr, flush=True)
    return TaskContext(on_progress=progress)


def cmd_check_folder(args) -> int:
    from workbench.data.folder import FolderOptions, no_image_message, scan_folder

    opts = FolderOptions(size=args.size, color=args.color, fit=args.fit)
    report, _, _ = scan_folder(args.path, opts, use_cache=not args.no_cache,
                               ctx=None if args.json else _progress_printer("decoding"))
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(report.root)
        if report.classes or report.empty_classes:
            width = max(len(c) for c in [*report.classes, *report.empty_classes, "class"])
            print(f"  {'class':<{width}}  images")
            for c in report.classes:
                print(f"  {c:<{width}}  {report.class_counts[c]:>6}")
            for c in report.empty_classes:
                print(f"  {c:<{width}}  {0:>6}  (empty: no usable image)")
        print(report.summary())
        if report.ok:
            fmts = ", ".join(f"{k} {v}" for k, v in report.source_formats.items())
            modes = ", ".join(f"{k} {v}" for k, v in report.source_modes.items())
            lo, hi = report.source_min_size, report.source_max_size
            print(f"source formats: {fmts}; modes: {modes}; sizes {lo[0]}×{lo[1]} to "
                  f"{hi[0]}×{hi[1]}" + ("  (from cache)" if report.from_cache else ""))
        if report.skipped:
            rel = [(os.path.relpath(p, report.root), r) for p, r in report.skipped]
            width = min(60, max(len(p) for p, _ in rel))
            print("skipped:")
            for p, r in rel:
                print(f"  {p:<{width}}  {r}")
    if not report.ok:
        _err(no_image_message(report))
        return EXIT_USER_ERROR
    return 0


# -- train -------------------------------------------------------------------------------------------
def _fmt(values: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in values.items())


def cmd_train(args) -> int:
    from workbench.engine.distributed import Distributed

    dist = Distributed.from_env()  # under torchrun: one of WORLD_SIZE data-parallel processes
    if dist is None:
        return _train(args, None)
    args.exit_without_finalizing = True
    try:
        return _train(args, dist)
    except Exception as e:
        # Rank 0 reports the run; another rank says which it is, and a lost peer (a rank that
        # failed first) is one line here, not a traceback. Rank 0 keeps the traceback of a bug.
        from workbench.core.errors import WorkbenchError

        if dist.is_main and not (isinstance(e, RuntimeError) and _lost_peer(e)):
            raise
        if isinstance(e, WorkbenchError):
            raise type(e)(f"rank {dist.rank}: {e}") from None
        raise WorkbenchError(f"rank {dist.rank}: {type(e).__name__}: "
                             f"{str(e).strip().splitlines()[0] if str(e).strip() else ''} "
                             "(another process of the job probably failed first: see its "
                             "message)") from None
    finally:
        dist.close()


def _lost_peer(e: Exception) -> bool:
    """A collective that failed because another process of the job went away."""
    import torch.distributed as td

    text = str(e).lower()
    return isinstance(e, getattr(td, "DistError", ())) or "peer" in text or "connection" in text


def _train(args, dist) -> int:
    from workbench.core import config as C
    from workbench.models.registry import get_config
    from workbench.data import load_dataset
    from workbench.engine.events import CheckpointSaved, Finished, Metrics, Started
    from workbench.engine.settings import resolve_settings
    from workbench.engine.trainer import Trainer, TrainSettings

    overrides = C.parse_assignments(args.set)
    exp = None
    if args.recipe is not None:
        from workbench.engine.recipes import load_recipe

        exp = load_recipe(args.recipe)
        if args.model and args.model != exp.model:
            raise C.ConfigError(f"{args.recipe} is a recipe with {exp.model}, not "
                                f"{args.model}; drop the model name or the --recipe")
        args.model = exp.model
        if args.dataset is None:
            args.dataset = exp.dataset_argument()
    elif not args.model:
        raise C.ConfigError("name a model (see `genworkbench models`) or pass --recipe FILE")
    if args.dataset is None:
        raise C.ConfigError("--dataset is required (or a --recipe file that names one)")
    if args.out is None:
        if args.resume:
            raise C.ConfigError("--resume needs the run directory: --out RUN_DIR")
        from workbench.core.paths import new_run_dir

        args.out = new_run_dir(args.model)
    # A recipe's settings are the base; --set, then the flags, override them.
    train_keys = {f.name for f in C.fields_of(TrainSettings)}
    # --set may also name a training setting (e.g. log_every); the model config gets the rest.
    changes = {k: v for k, v in overrides.items() if k in train_keys}
    model_over = {k: v for k, v in overrides.items() if k not in train_keys}
    if args.device:
        changes["device"] = args.device
    if args.batch_size is not None:
        changes["batch_size"] = args.batch_size
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.steps is not None:
        changes.update(steps=args.steps, epochs=0)
    elif args.epochs is not None:
        changes.update(epochs=args.epochs, steps=0)
    if args.checkpoint_every is not None:
        changes["checkpoint_every"] = args.checkpoint_every
    if args.frame_every is not None:
        changes["frame_every"] = args.frame_every
    changes["sample_every_s"] = 0.0  # headless: sheets are written at the end
    settings = resolve_settings(args.model, exp.settings() if exp else None, changes,
                                tuned=exp is None and not args.resume)
    config = C.replace(exp.model_config(), **model_over) if exp else get_config(args.model,
                                                                                 **model_over)
    if args.resume and model_over:
        raise C.ConfigError("--resume continues a run with its own config; drop --set")
    main = dist is None or dist.is_main
    if dist:
        dist.start(dist.device(settings.device))
        if not main:
            dist.barrier()  # rank 0 decodes (and caches) a folder first; the others read the cache
    data = load_dataset(args.dataset, image_size=args.image_size, color=args.color,
                        fit=args.fit, data_root=args.data_root, download=args.download,
                        limit=args.limit, ctx=_progress_printer("loading") if main else None)
    if dist and main:
        dist.barrier()
    if not main:  # only rank 0 prints and writes; the others train their shards silently
        return _train_quietly(Trainer(args.model, data, settings, config=config,
                                      run_dir=Path(args.out), resume=args.resume, dist=dist))
    if data.source.get("skipped"):
        print(f"warning: {data.source['skipped']} files in {args.dataset} were skipped "
              f"(`genworkbench check-folder {args.dataset}` lists them with reasons)",
              file=sys.stderr)
    trainer = Trainer(args.model, data, settings, config=config, run_dir=Path(args.out),
                      resume=args.resume, dist=dist)

    interrupted = []

    def on_sigint(signum, frame):
        if interrupted:  # a second Ctrl-C: give up at once
            raise KeyboardInterrupt
        interrupted.append(True)
        print("\nstopping after this step (Ctrl-C again to abort without saving)...",
              file=sys.stderr)
        trainer.stop()

    old = signal.signal(signal.SIGINT, on_sigint)
    old_term = _stop_on_sigterm(trainer) if dist else None
    try:
        for ev in trainer.fit():
            if isinstance(ev, Started):
                what = "resuming at step" if ev.start_step else "starting"
                procs = (f" ({ev.batch_size // dist.world_size} on each of {dist.world_size} "
                         f"processes, {dist.backend})") if dist else ""
                print(f"{ev.model} on {data.name} ({data.n_train} train / {data.n_val} val), "
                      f"device {ev.device}, batch {ev.batch_size}{procs}, {ev.total_steps} steps "
                      f"({ev.steps_per_epoch}/epoch); {what} {ev.start_step or ''}".rstrip())
                for w in trainer.warnings:
                    print(f"warning: {w}", file=sys.stderr)
                if args.save_recipe is not None and trainer.run is not None:
                    from workbench.engine.recipes import Recipe, save_recipe

                    save_recipe(Recipe.from_run(trainer.run), args.save_recipe)
                    print(f"recipe written to {args.save_recipe}")
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
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return 0


def _stop_on_sigterm(trainer):
    """torchrun passes Ctrl-C on as SIGTERM, and Slurm's scancel sends it: stop after the step
    the ranks agree on and save a checkpoint (torchrun waits 30 s before killing)."""
    return signal.signal(signal.SIGTERM, lambda signum, frame: trainer.stop())


def _train_quietly(trainer) -> int:
    """A rank other than 0: the same loop, no output; exit codes as rank 0's."""
    from workbench.engine.events import Finished

    def on_signal(signum, frame):
        trainer.stop()

    old = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    try:
        for ev in trainer.fit():
            if isinstance(ev, Finished):
                if ev.reason == "diverged":
                    return EXIT_DIVERGED
                return EXIT_INTERRUPTED if ev.reason == "stopped" else 0
    finally:
        signal.signal(signal.SIGINT, old)
        signal.signal(signal.SIGTERM, old_term)
    return 0


def cmd_recipe(args) -> int:
    from workbench.engine.recipes import Recipe, save_recipe
    from workbench.engine.runs import RunDir

    exp = Recipe.from_run(RunDir.open(args.run))
    save_recipe(exp, args.out)
    ds = exp.dataset if isinstance(exp.dataset, str) else exp.dataset.get("name", "its dataset")
    print(f"wrote {args.out}: {exp.model} on {ds}; repeat it with "
          f"`genworkbench train --recipe {args.out}`")
    return 0


# -- sample / eval -----------------------------------------------------------------------------------
def cmd_sample(args) -> int:
    from workbench.core.errors import ConfigError

    if args.from_sidecar is not None:
        return _sample_from_sidecar(args)
    if args.run is None:
        raise ConfigError("name the run directory: genworkbench sample RUN_DIR --out FILE.png")
    if args.gif is not None:
        return _sample_gif(args)
    if args.out is None:
        raise ConfigError("--out FILE.png|FILE.npz is required (or --gif OUT.gif, or "
                          "--from-sidecar FILE.png.json)")
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npz"):
        raise ConfigError(f"--out must end in .png or .npz, not {out.name!r}")
    if args.n is not None and args.n < 1:
        raise ConfigError("--n must be at least 1")
    if out.suffix.lower() == ".npz":
        return _sample_npz(args, out)

    from workbench.reports.export import render_sheet, save_sheet_with_provenance
    from workbench.core.device import resolve_device

    # PNG sheets render on the CPU (the same pixels everywhere); a device the user names must
    # still exist, or the command would silently ignore a mistake.
    resolve_device(args.device)
    from workbench.engine.runs import RunDir

    run = RunDir.open(args.run)
    spec = _sheet_spec(args)
    data = _sheet_data(run, args, spec)
    arr, prov = render_sheet(run, spec, data, step=args.step)
    save_sheet_with_provenance(out, arr, prov)
    what = f"{spec.n or spec.rows * spec.cols} samples" if spec.kind == "samples" \
        else f"a {spec.kind} sheet"
    print(f"wrote {what} of {run.model_name} (step {prov['step']}, seed {spec.seed}, "
          f"{arr.shape[1]}×{arr.shape[0]} px) to {out}, provenance in {out.name}.json")
    return 0


def _sheet_spec(args):
    """The SheetSpec the sample options describe (the window's export dialog builds the same)."""
    import math

    from workbench.reports.export import SheetSpec
    from workbench.core.errors import ConfigError

    if args.kind != "samples" and args.n is not None:
        raise ConfigError("--n applies to samples sheets; use --rows/--cols for a "
                          f"{args.kind} sheet")
    rows, cols, n = args.rows, args.cols, args.n or 0
    if args.kind == "samples" and rows is None and cols is None:
        n = n or 64
        cols = max(1, int(math.ceil(math.sqrt(n))))
        rows = int(math.ceil(n / cols))
    elif args.kind == "samples" and n:
        cols = cols or int(math.ceil(n / rows))
        rows = rows or int(math.ceil(n / cols))
    rows, cols = rows or 8, cols or 8
    if n == rows * cols:
        n = 0  # the sheet is full: the same spec as the dialog's rows × cols
    dims = ()
    if args.dims:
        try:
            dims = tuple(int(d) for d in args.dims.split(","))
        except ValueError:
            raise ConfigError(f"--dims takes comma-separated integers, not {args.dims!r}") \
                from None
    spec = SheetSpec(kind=args.kind, rows=rows, cols=cols, n=n, padding=args.padding,
                     background=args.background, upscale=args.upscale, seed=args.seed,
                     label=args.label, label_rows=args.label_rows, caption=args.caption,
                     dims=dims, span=args.span, index_a=args.index_a, index_b=args.index_b,
                     method=args.method)
    spec.check()
    return spec


def _sheet_data(run, args, spec):
    """The run's dataset when the sheet shows real images (or picks traversal dims by KL)."""
    if spec.kind == "samples" or (spec.kind == "traversal" and spec.dims):
        return None
    from workbench.data import load_described

    return load_described(run.meta["dataset"], data_root=args.data_root)


def _sample_npz(args, out: Path) -> int:
    import numpy as np
    import torch

    from workbench.core.device import resolve_device
    from workbench.core.errors import ConfigError
    from workbench.engine.runs import RunDir

    n = args.n or 64
    run = RunDir.open(args.run)
    model = run.load_model(resolve_device(args.device), step=args.step)
    for w in model.load_warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not model.can("sample"):
        raise ConfigError(f"{run.model_name} cannot draw samples (an autoencoder has no prior); "
                          "use a VAE or a GAN")
    labels = None
    if model.conditional:
        if args.label is not None and not 0 <= args.label < model.num_classes:
            raise ConfigError(f"--label must lie in 0..{model.num_classes - 1}")
        labels = (torch.full((n,), args.label, device=model.device)
                  if args.label is not None else model.cycling_labels(n))
    elif args.label is not None:
        raise ConfigError(f"{run.model_name} is not conditional: --label does not apply")
    g = torch.Generator().manual_seed(args.seed)
    with torch.inference_mode():
        x = model.sample(n, labels=labels, generator=g).float().cpu().numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"x": x.astype(np.float32)}
    if labels is not None:
        arrays["y"] = labels.cpu().numpy()
    np.savez(out, **arrays)
    print(f"wrote {n} samples of {run.model_name} (step {model.loaded_step}) to {out}")
    return 0


def _sample_from_sidecar(args) -> int:
    import numpy as np

    from workbench.reports.export import read_provenance, rerender, save_sheet_with_provenance
    from workbench.core.errors import ConfigError

    src = Path(args.from_sidecar)
    out = Path(args.out) if args.out is not None else None
    if out is None or out.suffix.lower() != ".png":
        raise ConfigError("--from-sidecar needs --out NEW.png for the re-rendered sheet")
    prov = read_provenance(src)
    arr, new = rerender(prov)
    save_sheet_with_provenance(out, arr, new)
    original = Path(str(src)[:-len(".json")]) if src.suffix.lower() == ".json" else src
    same = ""
    if original.exists() and original.resolve() != out.resolve():
        from PIL import Image

        with Image.open(original) as im:
            old = np.asarray(im)
        now = arr[:, :, 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr
        same = ("; pixel-identical to " if old.shape == now.shape and np.array_equal(old, now)
                else "; DIFFERS from ") + str(original)
    print(f"re-rendered {prov.get('kind', 'sheet')} of {prov.get('model')} at step "
          f"{prov.get('step')} to {out}{same}")
    return 0


def _sample_gif(args) -> int:
    """Samples from fixed noise over training: the frames the trainer saved (train with
    --frame-every N), else one frame per checkpoint still kept."""
    import numpy as np
    from PIL import Image

    from workbench.engine.runs import list_frames
    from workbench.reports.export import render_sheet, write_gif
    from workbench.core.errors import ConfigError
    from workbench.engine.runs import RunDir

    gif = Path(args.gif)
    if gif.suffix.lower() != ".gif":
        raise ConfigError(f"--gif must end in .gif, not {gif.name!r}")
    run = RunDir.open(args.run)
    frames = list_frames(run.path)
    if frames:
        steps = [s for s, _ in frames]
        pics = []
        for _, p in frames:
            with Image.open(p) as im:
                pics.append(np.asarray(im.convert("L" if im.mode in ("L", "I;16") else "RGB")))
        source = f"{len(frames)} frames in {frames[0][1].parent}"
    else:
        ckpts = run.checkpoints()
        if not ckpts:
            raise ConfigError(f"{run.path} has no sample frames and no checkpoint to draw from")
        spec = _sheet_spec(args)
        steps, pics = [], []
        for ck in ckpts:
            arr, _ = render_sheet(run, spec, step=ck.step)
            steps.append(ck.step)
            pics.append(arr)
        source = (f"{len(ckpts)} kept checkpoints (train with --frame-every N for a frame "
                  "every N steps)")
    captions = [f"step {s}" for s in steps] if args.caption else None
    write_gif(pics, gif, fps=args.fps, captions=captions)
    print(f"wrote {gif}: {len(pics)} frames from {source}")
    return 0


def cmd_eval(args) -> int:
    from workbench.reports.evaluation import evaluate_run, metric_rows

    # the recorded description reloads folders and torchvision sets too, not just names
    result = evaluate_run(args.run, args.samples, device=args.device, data_root=args.data_root,
                          progress=None if args.json or not sys.stderr.isatty() else
                          (lambda text: print(f"... {text}", file=sys.stderr, flush=True)))
    for w in result.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['model']} at step {result['step']} on {result['dataset']} "
              f"({result['n_val']} validation examples): {_fmt(result['val'])}")
        rows = metric_rows(result)
        width = max(len(label) for _, label, _ in rows)
        for _, label, text in rows:
            print(f"  {label:<{width}}  {text}")
        for note in result.get("notes", []):
            print(f"  note: {note}")
    return 0


def cmd_anomaly(args) -> int:
    from workbench.experiments.holdout import holdout_experiment
    from workbench.core import config as C
    from workbench.models.registry import get_config
    from workbench.data import load_dataset

    data = load_dataset(args.dataset, data_root=args.data_root)
    config = get_config(args.model, **C.parse_assignments(args.set))
    printer = None if args.json else _progress_printer("training")
    res = holdout_experiment(args.model, data, args.holdout, args.steps,
                             batch_size=args.batch_size, seed=args.seed, config=config,
                             device=args.device, kind=args.error, ctx=printer)
    if args.json:
        print(json.dumps(res.as_dict(roc=True), indent=2))
        return 0
    d = res.as_dict(roc=False)
    names = res.class_names or [str(k) for k in range(data.spec.num_classes)]
    print(f"{args.model} trained {args.steps} steps on {data.name} without class "
          f"{names[args.holdout]}; {d['n_normal']} normal and {d['n_anomalous']} held-out "
          f"validation images scored by reconstruction error ({args.error})")
    print("mean error per class: " + " ".join(
        f"{k}:{v:.4g}" for k, v in d["per_class_mean_error"].items()))
    print(f"AUC {res.auc:.4f}  (1 = the error separates class {names[args.holdout]} perfectly, "
          "0.5 = chance)")
    return 0


def no_display_reason(env=None, platform: str = sys.platform) -> str | None:
    """Why the window cannot open here, or None: on Linux without an X or Wayland display (and no
    QT_QPA_PLATFORM chosen) Qt would abort with a core dump and a misleading libxcb hint."""
    env = os.environ if env is None else env
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return ("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset): run it "
            "in a desktop session or with ssh -X, or use the headless commands (genworkbench "
            "train, sample, eval, lessons --check)")


def cmd_gui(args) -> int:
    from workbench.core.errors import WorkbenchError

    reason = no_display_reason()
    if reason:
        raise WorkbenchError(reason)
    from workbench.ui.app import run_app

    return run_app(run_dir=getattr(args, "run", None), lesson=getattr(args, "lesson", None))


# -- lessons --------------------------------------------------------------------------------------
def cmd_lessons(args) -> int:
    """List the lessons, check them (a few steps each, headless), or open the window on one."""
    from workbench.course.lessons import load_catalogue, rehearse

    cat = load_catalogue()
    for problem in cat.problems:  # a broken teacher's file is named, the rest still list
        print(f"genworkbench: warning: skipped a lesson file: {problem}", file=sys.stderr)
    if args.check:
        chosen = [cat.get(n) for n in args.name] if args.name else cat.lessons
        failed = 0
        for lesson in chosen:
            t0 = time.perf_counter()
            try:
                rehearse(lesson, steps=args.steps)
            except Exception as e:  # noqa: BLE001 - report every lesson, then fail at the end
                failed += 1
                print(f"FAIL {lesson.name}: {type(e).__name__}: {e}", flush=True)
                continue
            print(f"ok   {lesson.name} ({time.perf_counter() - t0:.1f} s)", flush=True)
        return 1 if failed or cat.problems else 0
    if args.name:
        if len(args.name) > 1:
            _err("give one lesson to open (or --check to check several)")
            return EXIT_USER_ERROR
        lesson = cat.get(args.name[0])  # a clear error before any window opens
        args.lesson, args.run = lesson.name, None
        return cmd_gui(args)
    if args.json:
        print(json.dumps([x.summary() for x in cat.lessons], indent=2, ensure_ascii=False))
        return 0
    for part, lessons in cat.parts():
        print(part)
        for x in lessons:
            print(f"  {x.number:>2}  {x.name:<28} {x.title}")
    return 0


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

    le = sub.add_parser("lessons", help="list the lessons, or open the window on one",
                        description="With no NAME: list the lessons (name and title). With a "
                        "NAME (or number): open the window on that lesson. --check runs a few "
                        "steps of each lesson headless (for teachers writing their own).")
    le.add_argument("name", nargs="*", metavar="NAME", help="a lesson's name or number")
    le.add_argument("--json", action="store_true", help="list as JSON")
    le.add_argument("--check", action="store_true",
                    help="load every lesson (or the named ones) and run a few steps of each")
    le.add_argument("--steps", type=int, default=3, help="steps per lesson for --check")
    le.set_defaults(func=cmd_lessons)

    m = sub.add_parser("models", help="list registered models and their config fields")
    m.add_argument("pattern", nargs="?", default="*", help="glob on the name, e.g. 'vae*'")
    m.add_argument("--json", action="store_true")
    m.add_argument("-v", "--verbose", action="store_true", help="show every config field")
    m.set_defaults(func=cmd_models)

    d = sub.add_parser("datasets", help="list built-in and torchvision datasets")
    d.add_argument("--json", action="store_true")
    d.add_argument("--data-root", type=Path, help="torchvision datasets folder")
    d.set_defaults(func=cmd_datasets)

    cf = sub.add_parser("check-folder", help="scan an image folder and report what loads and "
                                             "what is skipped, with reasons")
    cf.add_argument("path", type=Path)
    cf.add_argument("--json", action="store_true", help="print one JSON object")
    cf.add_argument("--size", type=int, default=32, help="square size to preprocess to")
    cf.add_argument("--color", choices=("auto", "grey", "rgb"), default="auto")
    cf.add_argument("--fit", choices=("crop", "pad"), default="crop")
    cf.add_argument("--no-cache", action="store_true", help="decode again even when cached")
    cf.set_defaults(func=cmd_check_folder)

    t = sub.add_parser("train", help="train a model headless into a run directory")
    t.add_argument("model", nargs="?",
                   help="registered model name (see `genworkbench models`); optional with "
                        "--recipe")
    # A run's recipe file was called an experiment file before; --experiment still works.
    t.add_argument("--recipe", "--experiment", dest="recipe", type=Path, metavar="FILE",
                   help="a recipe file (.toml or .json: model, config, dataset, seed, "
                        "steps, batch size, ...); the other flags override it")
    t.add_argument("--dataset",
                   help="built-in or torchvision dataset name, or a folder of images")
    t.add_argument("--image-size", type=int, metavar="N",
                   help="folders: square size to preprocess to (default 32)")
    t.add_argument("--color", choices=("auto", "grey", "rgb"),
                   help="folders: colour mode (auto: grey when every image is grey)")
    t.add_argument("--fit", choices=("crop", "pad"),
                   help="folders: centre crop (default) or pad to square")
    t.add_argument("--data-root", type=Path, help="torchvision datasets folder")
    t.add_argument("--download", action="store_true",
                   help="torchvision: download the dataset when it is not in --data-root")
    t.add_argument("--limit", type=int, metavar="N",
                   help="torchvision: a fixed subset of N training images")
    t.add_argument("--out", type=Path,
                   help="run directory to create (or resume); default: a new folder in the "
                        "workspace")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="total optimisation steps")
    length.add_argument("--epochs", type=int, help="passes over the training set (default 10)")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config field, e.g. --set latent_dim=2 --set beta=4")
    t.add_argument("--device", help="auto|cpu|cuda|mps (default auto)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    t.add_argument("--checkpoint-every", type=int, metavar="N")
    t.add_argument("--frame-every", type=int, metavar="N",
                   help="save a fixed-noise sample frame every N steps (sample --gif)")
    t.add_argument("-v", "--verbose", action="store_true")
    t.add_argument("--save-recipe", "--save-experiment", dest="save_recipe", type=Path,
                   metavar="FILE", help="also write the recipe file (.toml/.json) that repeats "
                                        "this run")
    t.set_defaults(func=cmd_train)

    x = sub.add_parser("recipe", aliases=["experiment"],
                       help="write the recipe file (.toml or .json) that repeats a run")
    x.add_argument("run", type=Path, help="a run directory")
    x.add_argument("--out", required=True, type=Path, help="FILE.toml or FILE.json")
    x.set_defaults(func=cmd_recipe)

    s = sub.add_parser("sample", help="draw samples (or another sheet) from a trained run")
    s.add_argument("run", type=Path, nargs="?", help="the run directory")
    s.add_argument("--n", type=int, help="samples to draw (default 64)")
    s.add_argument("--out", type=Path, help="FILE.png (sheet + FILE.png.json provenance) or "
                                            "FILE.npz (array x, and y when conditional)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--label", type=int, help="class to draw (conditional models)")
    s.add_argument("--device", default="auto", help=".npz only: sheets render on the CPU")
    s.add_argument("--step", type=int, help="the checkpoint to use (default: the newest)")
    s.add_argument("--kind", choices=("samples", "reconstructions", "traversal",
                                      "interpolation"), default="samples")
    s.add_argument("--rows", type=int, help="grid rows (reconstructions: input/output pairs; "
                                            "traversal: dimensions; interpolation: strips)")
    s.add_argument("--cols", type=int, help="grid columns (traversal/interpolation: steps)")
    s.add_argument("--padding", type=int, default=2, help="pixels between images")
    s.add_argument("--background", choices=("white", "black", "grey"), default="white")
    s.add_argument("--upscale", type=int, default=1, help="nearest-neighbour factor")
    s.add_argument("--caption", action="store_true", help="model, step and seed under it")
    s.add_argument("--label-rows", action="store_true",
                   help="conditional models: one label per row")
    s.add_argument("--dims", help="traversal: comma-separated dimensions (default: the most "
                                  "informative first)")
    s.add_argument("--span", type=float, default=3.0, help="traversal: values from -S to S")
    s.add_argument("--index-a", type=int, default=0, help="interpolation: first image")
    s.add_argument("--index-b", type=int, default=1, help="interpolation: second image")
    s.add_argument("--method", choices=("linear", "slerp"), default="linear")
    s.add_argument("--data-root", type=Path, help="torchvision datasets folder, if moved")
    s.add_argument("--from-sidecar", type=Path, metavar="FILE.png.json",
                   help="render again exactly what a sheet's sidecar (or PNG) describes")
    s.add_argument("--gif", type=Path, metavar="OUT.gif",
                   help="animate the fixed-noise samples over training")
    s.add_argument("--fps", type=float, default=4.0, help="--gif: frames per second")
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("eval", help="validation metrics of a run's newest checkpoint")
    e.add_argument("run", type=Path)
    e.add_argument("--json", action="store_true")
    e.add_argument("--device", default="auto")
    e.add_argument("--data-root", type=Path, help="torchvision datasets folder, if moved")
    e.add_argument("--samples", type=int, metavar="N",
                   help="samples drawn for the sample metrics (default: as many as the "
                        "validation images, at most 1000; 2500 for mixtures; 0 skips them)")
    e.set_defaults(func=cmd_eval)

    a = sub.add_parser("anomaly", help="train without one class, then score every validation "
                                       "image by reconstruction error: ROC AUC for that class")
    a.add_argument("--model", required=True, help="an unconditional AE or VAE, e.g. ae_mlp")
    a.add_argument("--dataset", required=True, help="a labelled dataset, e.g. mnist5k")
    a.add_argument("--holdout", type=int, required=True, metavar="K",
                   help="the class left out of training (the anomaly)")
    a.add_argument("--steps", type=int, default=1000)
    a.add_argument("--batch-size", type=int, default=64)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--error", choices=("mse", "bce"), default="mse",
                   help="the score: mean squared error per pixel or BCE per image")
    a.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field")
    a.add_argument("--device", default="auto")
    a.add_argument("--data-root", type=Path, help="torchvision datasets folder")
    a.add_argument("--json", action="store_true", help="print one JSON object (with the ROC)")
    a.set_defaults(func=cmd_anomaly)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args.func, args.run = cmd_gui, None
    from workbench.core.errors import WorkbenchError

    try:
        rc = args.func(args)
    except WorkbenchError as e:
        _err(str(e))
        rc = EXIT_USER_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        rc = EXIT_INTERRUPTED
    except OSError as e:  # a path that cannot be read or written
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        _err(f"{e.strerror or e}{where}")
        rc = EXIT_USER_ERROR
    if getattr(args, "exit_without_finalizing", False):
        _exit_without_finalizing(rc)
    return rc


def _exit_without_finalizing(rc: int) -> None:
    """End a torchrun process here, skipping Python's finalization. A gloo worker thread frees
    the last collective's work (tensors with Python objects) after the caller has already seen it
    complete; if that lands while the interpreter is finalizing, taking the GIL ends the thread
    inside a noexcept destructor and the rank dies of SIGABRT ("terminate called without an
    active exception", 1 run in ~15 here; gdb shows ~AsyncAllgatherWork in
    ProcessGroupGloo::runLoop under Py_FinalizeEx). Everything the run keeps is written and
    closed by now; only the standard streams need flushing."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
