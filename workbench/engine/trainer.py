"""The trainer is a generator: `for event in Trainer(...).fit(): ...`.

It yields small events (engine/events.py) and checks its stop flag after every yield, so the same
loop serves the tests (iterate it), the CLI (print it) and the GUI (a worker thread forwards the
events as signals; pausing is simply not asking for the next event).

Determinism, which `--resume` relies on: the model is built right after seeding; the batch order
of epoch e is a permutation drawn from its own generator seeded by (seed, e); validation and the
sample grids run under a forked RNG, so however often they run they never move the training RNG.
A checkpoint stores weights, optimizer states, the torch RNG state and the step, which is all the
loop needs to continue exactly where it was.
"""

from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from workbench.core import config as C
from workbench.core.config import param
from workbench.core.errors import ConfigError
from workbench.engine.events import (CheckpointSaved, Event, Finished, Metrics, Samples,
                                     Started)
from workbench.engine.runs import RunDir, metric_record, now


@dataclass(frozen=True)
class TrainSettings:
    batch_size: int = param(128, min=1, max=65536, label="batch size",
                            help="Examples per optimisation step.")
    epochs: int = param(10, min=0, max=100_000,
                        help="Passes over the training set (used when steps is 0).")
    steps: int = param(0, min=0, max=1_000_000_000,
                       help="Total optimisation steps; 0 means: use epochs.")
    seed: int = param(0, min=0, max=2**31 - 1,
                      help="Seeds the weights, the batch order and the noise: same seed, same run.")
    device: Literal["auto", "cpu", "cuda", "mps"] = param(
        "auto", help="Where to train: auto picks CUDA, then Apple MPS, then the CPU.")
    log_every: int = param(10, min=1, max=1_000_000, label="log every",
                           help="Steps between logged metric lines (means over the interval).")
    val_every: int = param(0, min=0, max=1_000_000, label="validate every",
                           help="Steps between validation passes; 0 means: every epoch.")
    checkpoint_every: int = param(1000, min=0, max=1_000_000, label="checkpoint every",
                                  help="Steps between checkpoints; 0 means: only at the end.")
    keep_checkpoints: int = param(3, min=1, max=1000, label="keep checkpoints",
                                  help="How many of the newest checkpoints to keep on disk.")
    sample_every_s: float = param(3.0, min=0.0, max=3600.0, label="sample every (s)",
                                  help="Seconds between sample/reconstruction grids; 0 = never.")
    frame_every: int = param(0, min=0, max=1_000_000, label="sample frame every",
                             help="Steps between small fixed-noise sample frames saved in "
                                  "samples/frames/ (for `genworkbench sample RUN --gif`); "
                                  "0 = none.")

    def check(self):
        if self.epochs == 0 and self.steps == 0:
            raise ConfigError("set either epochs or steps above 0")


GRID_SAMPLES = 64
GRID_RECONSTRUCTIONS = 16


def epoch_order(n: int, seed: int, epoch: int, device):
    import torch

    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).to(device)


@contextlib.contextmanager
def isolated_rng(device, seed: int):
    """Run side work (validation, sample grids) without moving the training RNG."""
    import torch

    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def grid_pictures(model, step: int, seed: int, x_val=None, y_val=None,
                  reconstruct: bool = True) -> Samples:
    """The grids of a model at one step, as float arrays: GRID_SAMPLES samples from the noise
    `seed` draws (the same seed, the same codes: a viewer sees them improve) and, given
    validation images, the first GRID_RECONSTRUCTIONS above their reconstructions. The one grid
    decoder: the trainer's live grids and frames, and a snapshot decoded in the window, use it.
    Run it in inference mode, with the model in eval mode."""
    import torch

    out = Samples(step)
    if model.can("sample"):
        g = torch.Generator().manual_seed(seed)
        labels = model.cycling_labels(GRID_SAMPLES)
        out.samples = model.sample(GRID_SAMPLES, labels=labels, generator=g).float().cpu().numpy()
    if reconstruct and x_val is not None and model.can("reconstruct"):
        x = x_val[:GRID_RECONSTRUCTIONS]
        y = y_val[:GRID_RECONSTRUCTIONS] if y_val is not None else None
        out.inputs = x.float().cpu().numpy()
        out.reconstructions = model.reconstruct(x, y).float().cpu().numpy()
    return out


def evaluate(model, data, device, seed: int = 0, batch_size: int = 256,
             full: bool = False) -> dict[str, float]:
    """Validation losses over the whole validation set (example-weighted means); `full` adds
    the model's expensive metrics (see GenerativeModel.eval_step)."""
    totals: dict[str, float] = {}
    n_val = data.n_val
    was_training = model.training
    with isolated_rng(device, seed):
        model.eval()
        for a in range(0, n_val, batch_size):
            x = data.x_val[a:a + batch_size]
            y = data.y_val[a:a + batch_size] if data.y_val is not None else None
            for k, v in model.eval_step(x, y, full=full).items():
                totals[k] = totals.get(k, 0.0) + v * x.shape[0]
        model.train(was_training)
    return {k: v / max(n_val, 1) for k, v in totals.items()}


class Trainer:
    def __init__(self, model_name: str, data, settings: TrainSettings | None = None,
                 config=None, run_dir: Path | None = None, resume: bool = False,
                 dist=None):
        self.model_name = model_name
        # engine.distributed.Distributed under torchrun: only rank 0 writes the run directory.
        self.dist = dist
        self.is_writer = dist is None or dist.is_main
        self.data = data
        self.settings = settings or TrainSettings()
        C.validate(self.settings)
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.resume = resume
        self.model = None
        self.run: RunDir | None = None
        self.warnings: list[str] = []
        self._stop = threading.Event()
        self._step = self._total = 0  # for the status of a run that ends in an exception

    def stop(self) -> None:
        """Ask the loop to end at its next yield (thread-safe); it saves a checkpoint first."""
        self._stop.set()

    # -- set-up -----------------------------------------------------------------------------------
    def _build(self, device):
        from workbench.models.registry import create_model, get_model_info
        from workbench.core.seeding import seed_everything, set_rng_state

        s = self.settings
        if self.resume:
            if self.run_dir is None:
                raise ConfigError("--resume needs the run directory (--out)")
            run = RunDir.open(self.run_dir)  # every rank reads it (a shared file system)
            if run.model_name != self.model_name:
                raise ConfigError(f"{self.run_dir} holds a {run.model_name} run, not "
                                  f"{self.model_name}")
            config = run.config()
            # The batch order and noise depend on these: keep the run's own values.
            seed = int(run.meta["seed"])
            self.settings = s = C.replace(s, seed=seed, batch_size=int(
                run.meta.get("train", {}).get("batch_size", s.batch_size)))
            self._check_batch_size()
            model = create_model(self.model_name, data=self.data.spec, config=config).to(device)
            model.setup_optimizers()
            ck, state, resume_warnings = run.resume_point(model)
            self.warnings += resume_warnings
            if self.is_writer:
                run.keep_metrics_until(ck.step)
            for name, opt in model.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            set_rng_state(self._rank_rng(state, seed))
            if self.dist:
                self.dist.prepare(model)
            return (model, run if self.is_writer else None, config, int(state["step"]),
                    float(state.get("elapsed", 0.0)), ck.step)
        config = self.config if self.config is not None else get_model_info(
            self.model_name).default_config()
        C.validate(config)
        self._check_batch_size()  # before the run directory exists: a retry can reuse it
        s = self.settings
        seed_everything(s.seed)
        model = create_model(self.model_name, data=self.data.spec, config=config).to(device)
        model.setup_optimizers()
        run = None
        if self.dist:
            self.dist.prepare(model)  # rank 0's weights everywhere, averaged gradients
            if self.dist.rank:
                import torch

                torch.manual_seed(self.dist.rank_seed(s.seed))
        if self.run_dir is not None and self.is_writer:
            run = RunDir.create(self.run_dir, self.model_name, config, self.data.describe(),
                                s.seed, train=C.to_dict(s))
        return model, run, config, 0, 0.0, None

    def _check_batch_size(self) -> None:
        """A batch larger than the training set is the whole set (a small folder just trains),
        said once in the warnings."""
        bs, n = self.settings.batch_size, self.data.n_train
        if bs > n:
            self.settings = C.replace(self.settings, batch_size=n)
            self.warnings.append(f"batch size {bs} is larger than the {n} training examples: "
                                 f"every step uses all {n}")
        if self.dist:
            self.dist.shard(bs)  # the global batch must split evenly over the ranks

    def _rank_rng(self, state: dict, seed: int) -> dict:
        """The RNG state this process resumes with: its own from a distributed checkpoint of
        the same world size; otherwise rank 0 (and a single process) takes the saved stream and
        the other ranks a fresh one derived from (seed, rank, step)."""
        if self.dist is None:
            return state["rng"]
        ranks = state.get("rng_ranks")
        if ranks and len(ranks) == self.dist.world_size:
            return ranks[self.dist.rank]
        if self.dist.rank == 0:
            return state["rng"]
        import torch

        from workbench.core.seeding import get_rng_state

        torch.manual_seed(self.dist.rank_seed(seed, int(state["step"])))
        return get_rng_state()

    def _state(self, step: int, epoch: int, elapsed: float) -> dict:
        from workbench.core.seeding import get_rng_state

        state = {"step": step, "epoch": epoch, "elapsed": elapsed,
                 "optimizers": {k: o.state_dict() for k, o in self.model.optimizers.items()},
                 "rng": get_rng_state()}
        if self.dist:  # a collective: every rank calls _state; rank 0's "rng" stays the default
            state["rng_ranks"] = self.dist.gather_rng()
        return state

    # -- the loop ---------------------------------------------------------------------------------
    def fit(self) -> Iterator[Event]:
        try:
            yield from self._fit()
        except Exception as e:
            # A save that failed (full disk), a bug: the Runs list shows why the run ended,
            # rather than taking the run for a killed one.
            if self.run is not None:
                self.run.write_status("failed", self._step, self._total, str(e))
            raise

    def _fit(self) -> Iterator[Event]:
        from workbench.core.device import resolve_device
        from workbench.engine.checkpoint import save_checkpoint

        device = (self.dist.device(self.settings.device) if self.dist
                  else resolve_device(self.settings.device))
        model, run, config, step, elapsed0, last_ckpt = self._build(device)
        self.model, self.run, self.config = model, run, config
        s = self.settings
        data = self.data.to(device)
        n, bs = data.n_train, s.batch_size
        spe = n // bs  # the last partial batch of an epoch is dropped; the order changes per epoch
        total = s.steps if s.steps > 0 else s.epochs * spe
        val_every = s.val_every or spe
        yield Started(self.model_name, str(device), step, total, spe, bs, self.run_dir,
                      tuple(model.plot_groups), tuple(self.warnings))
        self._total = total
        if run:
            run.write_status("running", step, total)

        t0 = now() - elapsed0
        sums: dict[str, float] = {}
        count = 0
        t_log = now()
        steps_since_log = 0
        t_sample = now() if step > 0 else -math.inf
        order, order_epoch = None, -1
        reason = "completed"
        dist, writer = self.dist, self.is_writer
        shard = dist.shard(bs) if dist else (0, bs)  # this rank's slice of each global batch
        saves = self.run_dir is not None  # the same on every rank: checkpoints are collectives
        stop_agreed = False

        while step < total:
            # Under torchrun the ranks stop together, at the step they agreed on.
            if stop_agreed if dist else self._stop.is_set():
                reason = "stopped"
                break
            epoch, i = divmod(step, spe)
            if epoch != order_epoch:
                order, order_epoch = epoch_order(n, s.seed, epoch, device), epoch
            idx = order[i * bs:(i + 1) * bs][shard[0]:shard[1]]
            x = data.x_train[idx]
            y = data.y_train[idx] if data.y_train is not None else None
            model.train()
            values = model.train_step(x, y)
            if dist:
                dist.average_running_stats(model)
                values, stop_agreed = dist.mean_metrics(values, self._stop.is_set(), device)
            bad = [k for k, v in values.items() if not math.isfinite(v)]
            if bad:
                kept = f"the last good checkpoint (step {last_ckpt}) is kept" if last_ckpt \
                    else "no checkpoint had been written yet"
                msg = (f"{bad[0]} became {values[bad[0]]} at step {step + 1}: training diverged "
                       f"and was stopped; {kept}. Try a smaller learning rate.")
                if run:
                    run.write_status("diverged", step, total, msg)
                yield Finished(step, "diverged", msg, None)
                return
            step += 1
            self._step = step
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
            steps_since_log += 1
            elapsed = now() - t0

            if step % s.log_every == 0 or step == total:
                means = {k: v / count for k, v in sums.items()}
                t = now()
                ips = steps_since_log * bs / max(t - t_log, 1e-9)
                t_log, steps_since_log = t, 0
                sums, count = {}, 0
                if run:
                    run.append_metrics([metric_record(step, epoch, elapsed, means)])
                yield Metrics(step, epoch, "train", means, elapsed, ips)

            if writer and (step % val_every == 0 or step == total):
                vals = self.validate(model, data, device, full=step == total)
                if run:
                    run.append_metrics([metric_record(step, epoch, elapsed, vals, "val")])
                yield Metrics(step, epoch, "val", vals, elapsed)

            if saves and s.checkpoint_every and step % s.checkpoint_every == 0:
                state = self._state(step, epoch, now() - t0)
                last_ckpt = step
                if run:
                    ck = save_checkpoint(run.checkpoints_dir, step, model, state,
                                         s.keep_checkpoints)
                    yield CheckpointSaved(step, ck.weights)

            if run and s.frame_every and step % s.frame_every == 0:
                self._write_frame(model, device, run, step)

            if writer and s.sample_every_s and now() - t_sample >= s.sample_every_s:
                yield self.grids(model, data, device, step)
                t_sample = now()

        epoch = step // spe
        ck_path = None
        if saves and step != last_ckpt and step > 0:
            state = self._state(step, epoch, now() - t0)
            if run:
                ck = save_checkpoint(run.checkpoints_dir, step, model, state, s.keep_checkpoints)
                ck_path = ck.weights
                yield CheckpointSaved(step, ck.weights)
        if run and s.frame_every and step > 0 and step % s.frame_every:
            self._write_frame(model, device, run, step)  # the GIF ends on the final weights
        if writer:
            grids = self.grids(model, data, device, step)
            if run:
                self._write_sheets(run, grids)
            yield grids
        msg = f"{'stopped' if reason == 'stopped' else 'finished'} at step {step} of {total}"
        if run:
            run.write_status(reason, step, total, msg)
        yield Finished(step, reason, msg, ck_path)

    # -- side work, under an isolated RNG ---------------------------------------------------------
    def validate(self, model, data, device, full: bool = False) -> dict[str, float]:
        return evaluate(model, data, device, self.settings.seed,
                        max(self.settings.batch_size, 256), full=full)

    def grids(self, model, data, device, step: int) -> Samples:
        import torch

        with isolated_rng(device, self.settings.seed + 1), torch.inference_mode():
            model.eval()
            out = grid_pictures(model, step, self.settings.seed + 1, data.x_val, data.y_val)
            model.train()
        return out

    def _write_frame(self, model, device, run: RunDir, step: int) -> None:
        """One frame of the training animation: the fixed-noise sample grid (the same noise
        as the live grid), a small uint8 PNG written atomically."""
        import torch

        from workbench.engine.runs import frame_path
        from workbench.analysis.sheets import save_sheet

        if not model.can("sample"):
            return
        with isolated_rng(device, self.settings.seed + 1), torch.inference_mode():
            model.eval()
            x = grid_pictures(model, step, self.settings.seed + 1).samples
            model.train()
        save_sheet(x, frame_path(run.path, step), nrow=8, text={"step": str(step)})

    def _write_sheets(self, run: RunDir, grids: Samples) -> None:
        from workbench.analysis.sheets import save_sheet

        if grids.samples is not None:
            save_sheet(grids.samples, run.samples_dir / f"samples-step-{grids.step:08d}.png")
        if grids.reconstructions is not None:
            import numpy as np

            pairs = np.concatenate([grids.inputs, grids.reconstructions])
            save_sheet(pairs, run.samples_dir / f"reconstructions-step-{grids.step:08d}.png",
                       nrow=len(grids.inputs))
