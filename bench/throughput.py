#!/usr/bin/env python
"""Training throughput of genworkbench against plain PyTorch and the pytorch/examples VAE.

Run it from the repository root:

    python bench/throughput.py            # full run: 5 in-process reps, E=30 whole-process runs
    python bench/throughput.py --quick    # smoke run: E=2 and fewer repetitions (~1-3 min)
    python bench/throughput.py --json     # same measurements, one JSON object on stdout
    python bench/throughput.py --epochs 10 --reps 7 --process-reps 3 --device cpu

Everything is model `vae_mlp` (784-400-20 MLP VAE, BCE + KL, Adam 1e-3) on the 4500 training
images of the embedded `mnist5k` dataset, batch 128. Machines that run this are small and noisy
(2 shared CPU cores), so the script never compares against numbers from another run: the
variants of one comparison are timed side by side in THIS run, interleaved (A, B, C, A, B, C, ...
after one untimed warm-up round), and each variant's median images/s is taken. Read the RATIOS;
the absolute images/s only describe this machine at this moment.

What each number means
----------------------
In-process (the data already in memory as tensors / an opened torchvision dataset; model and
optimizer construction excluded; `--inproc-epochs` epochs per repetition):

  trainer            `workbench.engine.trainer.Trainer("vae_mlp", mnist5k, batch 128,
                     sample_every_s=0, no run_dir)`, iterated as the CLI and the GUI do. Only steps
                     after the `Started` event count; the clock runs from the end of the first
                     train step to the end of the last one (a thin wrapper on the model's
                     `train_step` stamps each step), so images = (steps - 1) * 128. The trainer's
                     per-epoch validation pass (500 images) falls inside that window.
  trainer excl. val  the same repetition with the time spent in `Trainer.validate` inside the
                     window subtracted: the pure per-step cost of the trainer loop.
  plain loop         a hand-written loop over the same model (`create_model("vae_mlp")`), the same
                     in-memory tensors and the same optimizer (the model's own Adam):
                     `for idx in perm.split(128): loss = ...; zero_grad(); backward(); step()`.
                     Note: `perm.split(128)` keeps the last partial batch (4500 = 35*128 + 20),
                     the trainer drops it; images are counted exactly for both.
  examples loop      pytorch/examples `vae/main.py` (the classic BCE + KLD version), reproduced
                     in a temp file that this bench writes and both imports and runs: its VAE
                     class, `torchvision.datasets.MNIST(root, train=True, download=False,
                     transform=ToTensor())` over real IDX files of the same 4500 images, a
                     `DataLoader(batch_size=128, shuffle=True)` (no workers on the CPU, like the
                     example), Adam 1e-3, `loss.item()` and the example's log line every batch /
                     every 10 batches (printed into a buffer). The clock covers whole epochs,
                     DataLoader iteration (PIL image + ToTensor per item) included.

  ratio trainer / plain loop      the trainer's overhead; target: close to 1.0x.
  ratio trainer / examples loop   what the in-memory tensor pipeline buys over the example.

Whole process (the issue's actual target; `--epochs` E, default 30 as in the issue):

  genworkbench       wall time of the subprocess `python -m workbench train vae_mlp --dataset
                     mnist5k --epochs E --batch-size 128 --out TMP --device D`, i.e. interpreter
                     start, imports, dataset load, training with per-epoch validation, metrics,
                     checkpoints and the final sample sheets.
  examples script    wall time of the subprocess `python vae_example.py --epochs E` (the same
                     temp file): imports torch/torchvision, opens the IDX folder, trains E epochs
                     and exits. It does NOT run the example's per-epoch test() pass or save its
                     sample images, so the baseline is, if anything, flattered.

  Both are reported as images/s = E * 4500 / wall, and the ratio genworkbench / examples
  script; target: >= 2x.

The device is the CPU unless `--device auto` is given (then both the project and the example
pick CUDA when present). torch's default thread count is used everywhere and never changed.

Adding a comparison
-------------------
Each measurement is one small function returning a `Sample` dict ({"images", "seconds", ...}).
In-process ones are listed in `in_process_measurements()`, ratios in `RATIOS`. The GUI-attached
one (`measure_gui_attached`) trains from the real main window, offscreen unless DISPLAY is set;
target: >= 0.95x the headless trainer.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib.util
import io
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
MODEL = "vae_mlp"
DATASET = "mnist5k"
BATCH = 128

Sample = dict  # {"images": int, "seconds": float, optional extras like "val_seconds"}


# -- the pytorch/examples VAE, written out as a real script --------------------------------------
# The classic pytorch/examples vae/main.py (BCE + KLD). Only changes: no download (the network is
# closed; --data points at the IDX folder this bench writes), model/optimizer/loader passed to
# train() instead of living as module globals (so the bench can import it without running it), no
# test()/save_image (see the docstring), and train() returns the number of images it saw.
EXAMPLES_SCRIPT = r'''
"""pytorch/examples vae/main.py (classic BCE + KLD version), reproduced by bench/throughput.py."""
from __future__ import print_function
import argparse
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F
from torchvision import datasets, transforms


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()

        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5*logvar)
        eps = torch.randn_like(std)
        return mu + eps*std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')

    # see Appendix B from VAE paper:
    # Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
    # https://arxiv.org/abs/1312.6114
    # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    return BCE + KLD


def make_train_loader(root, batch_size, cuda):
    kwargs = {'num_workers': 1, 'pin_memory': True} if cuda else {}
    return torch.utils.data.DataLoader(
        datasets.MNIST(root, train=True, download=False,
                       transform=transforms.ToTensor()),
        batch_size=batch_size, shuffle=True, **kwargs)


def train(epoch, model, optimizer, train_loader, device, log_interval=10):
    model.train()
    train_loss = 0
    for batch_idx, (data, _) in enumerate(train_loader):
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        if batch_idx % log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader),
                loss.item() / len(data)))

    print('====> Epoch: {} Average loss: {:.4f}'.format(
          epoch, train_loss / len(train_loader.dataset)))
    return len(train_loader.dataset)


def main(argv=None):
    parser = argparse.ArgumentParser(description='VAE MNIST Example')
    parser.add_argument('--batch-size', type=int, default=128, metavar='N',
                        help='input batch size for training (default: 128)')
    parser.add_argument('--epochs', type=int, default=10, metavar='N',
                        help='number of epochs to train (default: 10)')
    parser.add_argument('--no-cuda', action='store_true', default=False,
                        help='enables CUDA training')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    parser.add_argument('--data', default='../data', help='MNIST root (holds MNIST/raw)')
    args = parser.parse_args(argv)
    args.cuda = not args.no_cuda and torch.cuda.is_available()

    torch.manual_seed(args.seed)

    device = torch.device("cuda" if args.cuda else "cpu")
    train_loader = make_train_loader(args.data, args.batch_size, args.cuda)
    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        train(epoch, model, optimizer, train_loader, device, args.log_interval)


if __name__ == "__main__":
    main()
'''


# -- MNIST IDX files ------------------------------------------------------------------------------
def write_idx_images(path: Path, images) -> None:
    """uint8 N×H×W -> IDX3 file: big-endian magic 2051, N, H, W, then the pixels row-major."""
    import numpy as np

    a = np.ascontiguousarray(images, dtype=np.uint8)
    n, h, w = a.shape
    with open(path, "wb") as f:
        f.write(struct.pack(">iiii", 2051, n, h, w))
        f.write(a.tobytes())


def write_idx_labels(path: Path, labels) -> None:
    """uint8 N -> IDX1 file: big-endian magic 2049, N, then the labels."""
    import numpy as np

    a = np.ascontiguousarray(labels, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">ii", 2049, a.shape[0]))
        f.write(a.tobytes())


def to_uint8(x):
    """float images in [0, 1] (N×1×H×W, made as uint8 / 255) back to uint8 N×H×W, exactly."""
    import torch

    return (x.squeeze(1) * 255.0).round().clamp(0, 255).to(torch.uint8).numpy()


def write_mnist_folder(root: Path, data) -> Path:
    """Lay out root/MNIST/raw/ the way torchvision 0.29's MNIST reads it.

    torchvision reads the raw IDX files directly (no processed/*.pt needed), but `_check_exists`
    wants all four files present even for train=True: the train files hold the 4500 training
    images, the t10k files the 500 validation images.
    """
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    write_idx_images(raw / "train-images-idx3-ubyte", to_uint8(data.x_train))
    write_idx_labels(raw / "train-labels-idx1-ubyte", data.y_train.numpy())
    write_idx_images(raw / "t10k-images-idx3-ubyte", to_uint8(data.x_val))
    write_idx_labels(raw / "t10k-labels-idx1-ubyte", data.y_val.numpy())
    return root


def check_mnist_folder(root: Path, data) -> None:
    """The torchvision dataset must hold exactly the project's training images and labels."""
    import torch
    from torchvision import datasets, transforms

    ds = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    assert len(ds) == data.n_train, (len(ds), data.n_train)
    assert torch.equal(ds.targets, data.y_train), "labels differ"
    for i in (0, len(ds) // 2, len(ds) - 1):
        img, label = ds[i]
        assert label == int(data.y_train[i])
        assert torch.equal(img, data.x_train[i]), f"image {i} differs after the IDX round trip"


def import_examples_script(path: Path):
    spec = importlib.util.spec_from_file_location("vae_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# -- context shared by the measurements -----------------------------------------------------------
@dataclass
class Context:
    data: object  # workbench TensorData (mnist5k)
    device: str  # "cpu" or "auto"
    torch_device: object
    tmp: Path
    mnist_root: Path
    examples_path: Path
    examples: object  # the imported examples module
    examples_dataset: object = None  # the opened torchvision MNIST (in-process)
    inproc_epochs: int = 2
    process_epochs: int = 30
    extra: dict = field(default_factory=dict)


def _sync(device) -> None:
    import torch

    if getattr(device, "type", "cpu") == "cuda":
        torch.cuda.synchronize(device)


# -- 1. the project's trainer ---------------------------------------------------------------------
def measure_trainer(ctx: Context, epochs: int | None = None) -> Sample:
    from workbench.engine.events import Finished, Metrics, Started
    from workbench.engine.trainer import Trainer, TrainSettings

    epochs = epochs or ctx.inproc_epochs
    settings = TrainSettings(batch_size=BATCH, epochs=epochs, steps=0, seed=0, device=ctx.device,
                             sample_every_s=0.0)
    trainer = Trainer(MODEL, ctx.data, settings)  # no run_dir: nothing written to disk
    stamps: list[float] = []  # end of every train step after Started
    val_spans: list[tuple[float, float]] = []
    metric_times: list[tuple[int, float]] = []
    finished = None
    for ev in trainer.fit():
        if isinstance(ev, Started):
            model = trainer.model
            inner_step = model.train_step
            clock = time.perf_counter

            def timed_step(x, y=None, _inner=inner_step, _stamps=stamps, _clock=clock):
                out = _inner(x, y)
                _stamps.append(_clock())
                return out

            model.train_step = timed_step  # instance attribute: seen by fit()'s model.train_step
            inner_validate = trainer.validate

            def timed_validate(*a, _inner=inner_validate, **k):
                t = time.perf_counter()
                out = _inner(*a, **k)
                val_spans.append((t, time.perf_counter()))
                return out

            trainer.validate = timed_validate
        elif isinstance(ev, Metrics) and ev.phase == "train":
            metric_times.append((ev.step, ev.time))
        elif isinstance(ev, Finished):
            finished = ev
    if finished is None or finished.reason != "completed":
        raise RuntimeError(f"trainer did not complete: {finished}")
    if len(stamps) >= 2:
        t_first, t_last = stamps[0], stamps[-1]
        seconds = t_last - t_first
        images = (len(stamps) - 1) * BATCH
        val = sum(min(b, t_last) - max(a, t_first) for a, b in val_spans
                  if b > t_first and a < t_last)
        how = "train_step stamps"
    else:  # the trainer stopped calling model.train_step: fall back to its own Metrics clock
        (s0, t0), (s1, t1) = metric_times[0], metric_times[-1]
        seconds, images, val, how = t1 - t0, (s1 - s0) * BATCH, float("nan"), "Metrics.time"
    return {"images": images, "seconds": seconds, "val_seconds": val, "steps": len(stamps),
            "clock": how}


# -- 1b. a plain PyTorch loop over the same model -------------------------------------------------
def measure_plain_loop(ctx: Context, epochs: int | None = None) -> Sample:
    import torch
    from torch.nn import functional as F

    from workbench.models.registry import create_model

    epochs = epochs or ctx.inproc_epochs
    dev = ctx.torch_device
    torch.manual_seed(0)
    model = create_model(MODEL, data=ctx.data.spec).to(dev)
    opt = model.configure_optimizers()["model"]  # the very optimizer the trainer uses (Adam 1e-3)
    beta = model.config.beta
    x_all = ctx.data.x_train.to(dev)
    n = x_all.shape[0]
    model.train()
    images = 0
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, device=dev)
        for idx in perm.split(BATCH):
            x = x_all[idx]
            mu, logvar = model.encoder(x).chunk(2, dim=1)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            recon = F.binary_cross_entropy_with_logits(model.decoder(z), x,
                                                       reduction="sum") / x.shape[0]
            kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(1).mean()
            loss = recon + beta * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            images += x.shape[0]
    _sync(dev)
    return {"images": images, "seconds": time.perf_counter() - t0}


# -- 2. the pytorch/examples loop, in process -----------------------------------------------------
def measure_examples_loop(ctx: Context, epochs: int | None = None) -> Sample:
    import torch
    from torch import optim

    epochs = epochs or ctx.inproc_epochs
    ex = ctx.examples
    dev = ctx.torch_device
    cuda = dev.type == "cuda"
    torch.manual_seed(1)  # the example's default --seed
    kwargs = {"num_workers": 1, "pin_memory": True} if cuda else {}
    loader = torch.utils.data.DataLoader(ctx.examples_dataset, batch_size=BATCH, shuffle=True,
                                         **kwargs)
    model = ex.VAE().to(dev)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    images = 0
    sink = io.StringIO()
    _sync(dev)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sink):
        for epoch in range(1, epochs + 1):
            images += ex.train(epoch, model, optimizer, loader, dev, 10)
    _sync(dev)
    return {"images": images, "seconds": time.perf_counter() - t0}


# -- 4. GUI-attached vs headless training ---------------------------------------------------------
GUI_SECONDS = 6.0


def measure_gui_attached(ctx: Context, epochs: int | None = None) -> Sample:
    """The same training started from the real MainWindow as a user watching it: the default
    runner (a training process), live plots, sample grids every 3 s; steady-state images/s after
    the first second. bench/ui_latency.py drives it, and also measures the window being resized
    and zoomed throughout (its default)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import ui_latency

    qs = ui_latency.qt_session()
    qs["n"] += 1
    seconds = GUI_SECONDS if (epochs or ctx.inproc_epochs) > 1 else 2.0
    out = ui_latency.in_window(seconds, qs["loop"], qs["app"], qs["work"] / str(qs["n"]),
                               interact=False, probe=False)
    return {"images": out["images"], "seconds": out["seconds"]}


def in_process_measurements() -> list[tuple[str, str, Callable[[Context], Sample]]]:
    """(key, label, function) for the in-process comparisons, timed interleaved."""
    return [
        ("trainer", "workbench Trainer (in-process)", measure_trainer),
        ("plain_loop", "plain PyTorch loop, same model", measure_plain_loop),
        ("examples_loop", "pytorch/examples loop (DataLoader)", measure_examples_loop),
        ("gui_attached", "workbench Trainer, GUI attached", measure_gui_attached),
    ]


# -- 3. whole process -----------------------------------------------------------------------------
def measure_whole_process(ctx: Context, which: str, epochs: int | None = None) -> Sample:
    """Wall time of one training subprocess: `which` is "project" or "examples"."""
    epochs = epochs or ctx.process_epochs
    if which == "project":
        out = Path(tempfile.mkdtemp(prefix="run-", dir=ctx.tmp)) / "run"
        cmd = [sys.executable, "-m", "workbench", "train", MODEL, "--dataset", DATASET,
               "--epochs", str(epochs), "--batch-size", str(BATCH), "--out", str(out)]
        if ctx.device != "auto":
            cmd += ["--device", ctx.device]
        cwd = REPO
    elif which == "examples":
        cmd = [sys.executable, str(ctx.examples_path), "--epochs", str(epochs),
               "--batch-size", str(BATCH), "--data", str(ctx.mnist_root)]
        if ctx.device == "cpu":
            cmd.append("--no-cuda")
        cwd = ctx.tmp
    else:
        raise ValueError(which)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {p.returncode}:\n{p.stderr[-2000:]}")
    return {"images": epochs * ctx.data.n_train, "seconds": seconds,
            "stdout_tail": p.stdout.strip().splitlines()[-1:]}


def whole_process_measurements():
    return [
        ("process_project", "genworkbench train (subprocess)",
         lambda ctx: measure_whole_process(ctx, "project")),
        ("process_examples", "examples script (subprocess)",
         lambda ctx: measure_whole_process(ctx, "examples")),
    ]


# (key, numerator, denominator, what it shows, target as (comparison, value) or None)
RATIOS = [
    ("trainer_vs_plain", "trainer", "plain_loop", "trainer overhead (in-process)", ("~", 1.0)),
    ("trainer_excl_val_vs_plain", "trainer_excl_val", "plain_loop",
     "trainer per-step overhead, validation time removed", ("~", 1.0)),
    ("trainer_vs_examples", "trainer", "examples_loop",
     "in-memory tensors vs examples DataLoader (in-process)", None),
    ("plain_vs_examples", "plain_loop", "examples_loop",
     "same, without the trainer (in-process)", None),
    ("process_project_vs_examples", "process_project", "process_examples",
     "whole process: genworkbench train vs examples script", (">=", 2.0)),
    ("gui_attached_vs_headless", "gui_attached", "trainer", "GUI attached vs headless",
     (">=", 0.95)),
]


# -- driver ---------------------------------------------------------------------------------------
def run_interleaved(ctx, measurements, reps: int, results: dict, log) -> None:
    for rep in range(reps):
        for key, label, fn in measurements:
            s = fn(ctx)
            s["images_per_s"] = s["images"] / s["seconds"]
            results.setdefault(key, {"label": label, "samples": []})["samples"].append(s)
            log(f"  rep {rep + 1}/{reps}  {label:<38} {s['images_per_s']:>9,.0f} img/s "
                f"({s['seconds']:.2f} s)")


def summarise(results: dict) -> None:
    # A derived row: the trainer with the validation time inside its window removed.
    tr = results.get("trainer")
    if tr and all(s.get("val_seconds") == s.get("val_seconds") for s in tr["samples"]):
        derived = [{"images": s["images"], "seconds": s["seconds"] - s["val_seconds"],
                    "images_per_s": s["images"] / (s["seconds"] - s["val_seconds"])}
                   for s in tr["samples"]]
        results["trainer_excl_val"] = {"label": "  ... excl. its validation passes",
                                       "samples": derived}
    for r in results.values():
        ips = [s["images_per_s"] for s in r["samples"]]
        r["median_images_per_s"] = statistics.median(ips)
        r["min_images_per_s"], r["max_images_per_s"] = min(ips), max(ips)
        r["median_seconds"] = statistics.median(s["seconds"] for s in r["samples"])


def compute_ratios(results: dict) -> dict:
    out = {}
    for key, num, den, what, target in RATIOS:
        if num not in results or den not in results:
            continue
        ratio = results[num]["median_images_per_s"] / results[den]["median_images_per_s"]
        # the same ratio per repetition (paired, since they ran next to each other)
        paired = [a["images_per_s"] / b["images_per_s"]
                  for a, b in zip(results[num]["samples"], results[den]["samples"])]
        entry = {"ratio": ratio, "paired_median": statistics.median(paired),
                 "paired_min": min(paired), "paired_max": max(paired),
                 "numerator": num, "denominator": den, "what": what}
        if target:
            op, val = target
            entry["target"] = f"{op}{val:g}x"
            if op == ">=":
                entry["meets_target"] = ratio >= val
        out[key] = entry
    return out


def environment(args, device) -> dict:
    import numpy
    import torch
    import torchvision

    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "numpy": numpy.__version__, "python": platform.python_version(),
        "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "cpu": cpu,
        "device": str(device), "device_arg": args.device,
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def print_report(env, cfg, results, ratios) -> None:
    p = print
    p(f"genworkbench throughput bench  {env['date']}")
    p(f"torch {env['torch']} (threads {env['threads']}), torchvision {env['torchvision']}, "
      f"python {env['python']}, device {env['device'].upper() if env['device'] == 'cpu' else env['device']}")
    p(f"{env['cpus']} CPUs: {env['cpu']}; load average at start "
      f"{', '.join(f'{x:.2f}' for x in env['loadavg_at_start'] or [])}")
    load = env["loadavg_at_start"]
    if load and load[0] > 0.5 * (env["cpus"] or 1):
        p(f"note: the 1-minute load average was {load[0]:.2f} at the start: other work shares "
          "these cores, so expect noisy numbers (look at the paired min..max)")
    p(f"{MODEL} on {DATASET} ({cfg['n_train']} training images), batch {BATCH}")
    p("")
    p(f"In-process, data already loaded: {cfg['reps']} interleaved reps of "
      f"{cfg['inproc_epochs']} epoch(s) each, after one warm-up round")
    hdr = f"  {'variant':<40} {'img/s median':>12} {'min':>9} {'max':>9}"
    p(hdr)
    keys = [k for k, *_ in in_process_measurements()]
    if "trainer" in keys:
        keys.insert(keys.index("trainer") + 1, "trainer_excl_val")
    for key in keys:
        if key in results:
            r = results[key]
            p(f"  {r['label']:<40} {r['median_images_per_s']:>12,.0f} "
              f"{r['min_images_per_s']:>9,.0f} {r['max_images_per_s']:>9,.0f}")
    p("")
    p(f"Whole process, E={cfg['process_epochs']} epochs: {cfg['process_reps']} interleaved reps; "
      f"img/s = E*{cfg['n_train']}/wall")
    p(f"  {'variant':<40} {'wall s med':>12} {'img/s med':>9} {'min':>9} {'max':>9}")
    for key, *_ in whole_process_measurements():
        if key in results:
            r = results[key]
            p(f"  {r['label']:<40} {r['median_seconds']:>12.2f} "
              f"{r['median_images_per_s']:>9,.0f} {r['min_images_per_s']:>9,.0f} "
              f"{r['max_images_per_s']:>9,.0f}")
    p("")
    p("Ratios (median img/s over median img/s; [paired per-rep min..max])")
    for key, r in ratios.items():
        tgt = ""
        if "target" in r:
            tgt = f"  target {r['target']}"
            if "meets_target" in r:
                tgt += "  " + ("MET" if r["meets_target"] else "NOT MET")
        p(f"  {r['what']:<56} {r['ratio']:6.2f}x  "
          f"[{r['paired_min']:.2f}..{r['paired_max']:.2f}]{tgt}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: E=2, 3 in-process reps, 2 process reps")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ap.add_argument("--epochs", type=int, help="epochs E of the whole-process runs (default 30)")
    ap.add_argument("--reps", type=int, help="in-process repetitions (default 5)")
    ap.add_argument("--inproc-epochs", type=int, help="epochs per in-process repetition (default 2)")
    ap.add_argument("--process-reps", type=int, help="whole-process repetitions (default 3)")
    ap.add_argument("--device", choices=("cpu", "auto"), default="cpu",
                    help="cpu (default), or auto: CUDA/MPS when present, for both sides")
    ap.add_argument("--skip-process", action="store_true", help="only the in-process comparisons")
    ap.add_argument("--skip-inproc", action="store_true", help="only the whole-process comparison")
    args = ap.parse_args(argv)
    q = args.quick
    epochs = args.epochs or (2 if q else 30)
    reps = args.reps or (3 if q else 5)
    # 2 epochs per rep, so one per-epoch validation pass falls inside the trainer's window
    inproc_epochs = args.inproc_epochs or 2
    process_reps = args.process_reps or (2 if q else 3)

    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if args.json else \
        (lambda msg: print(msg, flush=True))

    import torch
    from torchvision import datasets, transforms

    from workbench.core.device import resolve_device
    from workbench.data import load_dataset

    device = resolve_device(args.device)
    env = environment(args, device)
    data = load_dataset(DATASET)
    cfg = {"model": MODEL, "dataset": DATASET, "batch_size": BATCH, "n_train": data.n_train,
           "reps": reps, "inproc_epochs": inproc_epochs, "process_epochs": epochs,
           "process_reps": process_reps, "quick": q}
    log(f"torch {env['torch']}, {env['threads']} threads, device {device}, {env['date']}")

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp_s:
        tmp = Path(tmp_s)
        mnist_root = write_mnist_folder(tmp / "data", data)
        check_mnist_folder(mnist_root, data)
        examples_path = tmp / "vae_example.py"
        examples_path.write_text(EXAMPLES_SCRIPT.lstrip(), encoding="utf-8")
        ctx = Context(data=data, device=args.device, torch_device=device, tmp=tmp,
                      mnist_root=mnist_root, examples_path=examples_path,
                      examples=import_examples_script(examples_path),
                      inproc_epochs=inproc_epochs, process_epochs=epochs)
        ctx.examples_dataset = datasets.MNIST(str(mnist_root), train=True, download=False,
                                              transform=transforms.ToTensor())

        if not args.skip_inproc:
            log("warm-up (untimed) ...")
            for _key, _label, fn in in_process_measurements():
                fn(ctx, 1)
            log(f"in-process: {reps} reps x {inproc_epochs} epoch(s)")
            run_interleaved(ctx, in_process_measurements(), reps, results, log)
        if not args.skip_process:
            log(f"whole process: {process_reps} reps x E={epochs} epochs")
            run_interleaved(ctx, whole_process_measurements(), process_reps, results, log)

    summarise(results)
    ratios = compute_ratios(results)
    if args.json:
        print(json.dumps({"environment": env, "config": cfg, "results": results,
                          "ratios": ratios}, indent=2, default=str))
    else:
        print()
        print_report(env, cfg, results, ratios)
    return 0


if __name__ == "__main__":
    sys.exit(main())
