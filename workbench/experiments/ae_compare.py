"""Autoencoders side by side: the lesson experiments that train two or three models briefly on
mnist5k and put their pictures next to each other.

- `compare_reconstructions`: stacked (MLP) against convolutional autoencoder, same steps;
- `sparse_codes`: a sparse autoencoder against the same network without the penalty;
- `vae_loss_terms`: a 2-D VAE trained on reconstruction only, KL only, or both;
- `interpolations`: decoded AE and VAE paths between two digits against a pixel cross-fade.

Every experiment trains through `train_brief` (create_model + the model's own train_step on the
Trainer's batch order, the same seed and batches for every model, validation curves on the whole
validation split) and ends in an experiments.Result. `scatter_image` rasterises labelled 2-D codes without Qt, so the
CLI, tests and GUI show the same picture.

Qt-free.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from workbench.analysis.anomaly import reconstruction_errors
from workbench.analysis.latent import LatentProbe, interpolate, project_2d
from workbench.analysis.metrics import classifier_score, digit_classifier, predict
from workbench.analysis.sheets import image_grid
from workbench.core.config import param
from workbench.core.device import resolve_device
from workbench.core.errors import ConfigError
from workbench.data import load_dataset
from workbench.engine.short_run import short_run
from workbench.engine.trainer import evaluate, isolated_rng
from workbench.experiments.registry import Context, Curve, Image, Result, Table
from workbench.models.registry import create_model, get_config, get_model_info

# The latent scatter panel's colours (matplotlib's tab10), so digit k has one colour everywhere.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
PALETTE_RGB = np.array([[int(h[i:i + 2], 16) / 255.0 for i in (1, 3, 5)] for h in PALETTE])
DATASET = "mnist5k"

CLASSIFIER_HELP = ("The digit classifier that scores the pictures: full (the Metrics tab's, "
                   "trained once and cached) or small (seconds; for quick runs).")


# == the parameters ================================================================================
@dataclass(frozen=True)
class CompareReconstructionsParams:
    models: str = param("ae_mlp, ae_conv",
                        help="The autoencoders to compare, by registered name, separated by "
                             "commas.")
    steps: int = param(250, min=1, quick=6, help="Training steps of each model.")
    batch_size: int = param(64, min=1, max=4096, label="batch size",
                            help="Training images per step (the same batches for every model).")
    latent_dim: int = param(16, min=1, max=1024, label="code size",
                            help="Code size of every model that has one: the same for all.")
    n_show: int = param(10, min=1, max=64, quick=4, label="digits shown",
                        help="Validation digits shown with their reconstructions.")
    eval_every: int = param(25, min=1, quick=3, label="validate every",
                            help="Steps between two points of the validation curves.")
    classifier: Literal["full", "small"] = param("full", quick="small", help=CLASSIFIER_HELP)

    @property
    def model_names(self) -> list[str]:
        return [m for m in self.models.replace(",", " ").split() if m]

    def check(self):
        if not self.model_names:
            raise ConfigError("models must name at least one autoencoder, e.g. ae_mlp, ae_conv")


@dataclass(frozen=True)
class SparseCodesParams:
    steps: int = param(400, min=1, quick=6, help="Training steps of each model.")
    batch_size: int = param(64, min=1, max=4096, label="batch size",
                            help="Training images per step.")
    sparsity_weight: float = param(1.0, min=0.0, label="sparsity weight λ",
                                   help="Weight of the KL sparsity penalty (above 0: the other "
                                        "model has 0).")
    threshold: float = param(0.1, min=0.0, max=1.0,
                             help="A code unit counts as active above this (strictly between "
                                  "0 and 1: the codes are sigmoids).")
    n_codes: int = param(20, min=1, max=100, quick=4, label="digits shown",
                         help="Validation digits whose codes the heat map shows.")
    eval_every: int = param(50, min=1, quick=3, label="validate every",
                            help="Steps between two points of the validation curves.")

    def check(self):
        if not self.sparsity_weight > 0:
            raise ConfigError(f"sparsity_weight must be above 0 (the other model has 0), got "
                              f"{self.sparsity_weight}")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold must be between 0 and 1 (sigmoid codes), got "
                              f"{self.threshold}")


@dataclass(frozen=True)
class VaeLossTermsParams:
    steps: int = param(600, min=1, quick=6, help="Training steps of each of the three VAEs.")
    batch_size: int = param(64, min=1, max=4096, label="batch size",
                            help="Training images per step.")
    latent_dim: int = param(2, min=2, max=64, label="code size",
                            help="2: the pictures are the codes themselves; more are drawn on "
                                 "their top two principal axes.")
    size: int = param(240, min=64, max=2048, quick=96, help="Side of each scatter, in pixels.")
    extent: Literal["shared", "per_panel"] = param(
        "shared", help="One view for the three scatters (shared) or each fitted to its codes.")
    eval_every: int = param(50, min=1, quick=3, label="validate every",
                            help="Steps between two points of the validation curves.")


@dataclass(frozen=True)
class InterpolationsParams:
    steps: int = param(500, min=1, quick=6, help="Training steps of the AE and of the VAE.")
    batch_size: int = param(64, min=1, max=4096, label="batch size",
                            help="Training images per step.")
    latent_dim: int = param(16, min=1, max=1024, label="code size",
                            help="Code size of both models.")
    pairs: tuple[int, ...] = param(
        (1, 7, 3, 8), min=0, max=9, quick=(1, 7), label="digit pairs",
        help="Pairs of digits to go between, one pair after the other: 1,7,3,8 is 1 → 7 and "
             "3 → 8.")
    n: int = param(9, min=3, max=32, quick=5, label="images per path",
                   help="Images along each path, both ends included.")
    eval_every: int = param(50, min=1, quick=3, label="validate every",
                            help="Steps between two points of the validation curves.")
    classifier: Literal["full", "small"] = param("full", quick="small", help=CLASSIFIER_HELP)

    @property
    def digit_pairs(self) -> list[tuple[int, int]]:
        return list(zip(self.pairs[::2], self.pairs[1::2]))

    def check(self):
        if not self.pairs or len(self.pairs) % 2:
            raise ConfigError(f"pairs must name digits 0..9 two by two (1,7,3,8: 1 → 7 and "
                              f"3 → 8), at least one pair, got {self.pairs}")


# == the shared trainer ============================================================================
@dataclass
class Trained:
    """A briefly trained model and how its training went."""

    name: str                      # registered model name
    label: str                     # what the tables and legends call it
    model: torch.nn.Module         # in eval mode
    steps: int
    seconds: float                 # training time only (validation passes not counted)
    curve_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # validation metric -> values

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def _load_data(ctx: Context):
    device = resolve_device(ctx.device)
    return load_dataset(DATASET).to(device), device


def train_brief(model_name: str, data, steps: int, ctx: Context, *, overrides: dict | None = None,
                batch_size: int = 64, eval_every: int = 25, label: str = "",
                span: tuple[float, float] = (0.0, 1.0)) -> Trained:
    """Train a registered model for `steps` steps on `data` (a TensorData on its device) and
    return it in eval mode with its validation curves (every metric its eval_step reports, over
    the whole validation split, at step 0, every `eval_every` steps and at the end).

    The weights and the batch order (the Trainer's) come from ctx.seed alone, inside a forked
    RNG, so two models in one experiment see the same batches and the caller's RNG is left as
    it was. Progress maps this run onto `span` of the whole experiment."""
    label = label or model_name
    cfg = get_config(model_name, **(overrides or {}))
    device = data.x_train.device
    ev_steps, ev_rows = [], []

    def validate(step: int, model) -> None:
        ev_steps.append(step)
        ev_rows.append(evaluate(model, data, device, ctx.seed))

    with isolated_rng(device, ctx.seed):
        model = create_model(model_name, data=data.spec, config=cfg).to(device)
        model.setup_optimizers()
        validate(0, model)
        seconds, t0 = 0.0, time.perf_counter()
        for step, _ in short_run(model, steps, ctx, x=data.x_train, batch_size=batch_size,
                                 seed=ctx.seed, name=label, span=span, report_every=5):
            seconds += time.perf_counter() - t0  # training time only, not the validation
            if step % eval_every == 0 or step == steps:
                validate(step, model)
            t0 = time.perf_counter()
    ctx.check()
    model.eval()
    curves = {k: np.array([r[k] for r in ev_rows], np.float64) for k in ev_rows[0]}
    return Trained(model_name, label, model, steps, seconds, np.array(ev_steps, np.float64),
                   curves)


# == pictures ======================================================================================
def image_rows(rows, pad: int = 2) -> np.ndarray:
    """Equal-length rows of N×C×H×W images in [0, 1] as one picture (H', W') or (H', W', 3)
    in [0, 1], on a white background."""
    rows = [np.asarray(r, np.float32) for r in rows]
    n = len(rows[0])
    if any(len(r) != n for r in rows):
        raise ValueError("every row needs the same number of images")
    grid = image_grid(np.concatenate(rows), nrow=n, padding=pad).astype(np.float32) / 255.0
    return grid[..., 0] if grid.shape[-1] == 1 else grid


def _tick_step(extent: float) -> float:
    """A round tick spacing giving at most ~5 ticks per half axis (1, 2, 5, 10, …)."""
    raw = max(extent / 5.0, 1e-9)
    mag = 10.0 ** np.floor(np.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * mag >= raw:
            return float(max(m * mag, 1.0)) if extent >= 1.0 else float(m * mag)
    return float(10 * mag)


def scatter_extent(xy, floor: float = 3.0) -> float:
    """Half-width of a square view centred on 0 that holds every finite point (with a 5 %
    margin), at least `floor`: the prior's ±3 always fits, so codes squeezed near 0 stay a dot
    in the middle instead of being blown up."""
    p = np.asarray(xy, np.float64)
    p = p[np.isfinite(p).all(1)] if p.size else p.reshape(0, 2)
    return float(max(floor, np.abs(p).max() * 1.05 if len(p) else 0.0))


def scatter_image(xy, labels, size: int = 240, extent: float | None = None,
                  radius: int = 1, seed: int = 0) -> np.ndarray:
    """Labelled 2-D points as a size×size×3 RGB picture in [0, 1]: white background, faint grey
    axes through 0 with a tick every round unit (see `_tick_step`), each point a
    (2·radius+1)² square in PALETTE[label % 10].

    The view is the square [−extent, extent]², x to the right and y up; `extent` None fits the
    points (`scatter_extent`). Points are drawn in a random order fixed by `seed`, so no class
    hides the others just by coming last."""
    p = np.asarray(xy, np.float64).reshape(-1, 2)
    lab = np.asarray(labels, np.int64).reshape(-1)
    if len(lab) != len(p):
        raise ValueError(f"{len(p)} points but {len(lab)} labels")
    if size < 16:
        raise ValueError("size must be at least 16 pixels")
    extent = scatter_extent(p) if extent is None else float(extent)
    if not extent > 0:
        raise ValueError("extent must be positive")
    img = np.ones((size, size, 3), np.float32)

    def to_pix(v):  # data coordinate -> pixel index along an axis (col for x; row for -y)
        return np.rint((v / extent * 0.5 + 0.5) * (size - 1)).astype(np.int64)

    axis = np.float32(0.82)
    c0 = int(to_pix(np.array(0.0)))
    img[size - 1 - c0, :, :] = axis
    img[:, c0, :] = axis
    step = _tick_step(extent)
    for k in range(1, int(extent // step) + 1):
        for v in (k * step, -k * step):
            t = int(to_pix(np.array(v)))
            img[max(size - 1 - c0 - 3, 0):size - c0 + 3, t] = axis  # ticks on the x axis
            img[size - 1 - t, max(c0 - 3, 0):c0 + 4] = axis        # ticks on the y axis
    ok = np.isfinite(p).all(1)
    cols, rows = to_pix(p[ok, 0]), size - 1 - to_pix(p[ok, 1])
    inside = (cols >= 0) & (cols < size) & (rows >= 0) & (rows < size)
    cols, rows, colours = cols[inside], rows[inside], PALETTE_RGB[lab[ok][inside] % 10]
    order = np.random.default_rng(seed).permutation(len(cols))
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            r, c = np.clip(rows[order] + dr, 0, size - 1), np.clip(cols[order] + dc, 0, size - 1)
            img[r, c] = colours[order]  # later writes win: the shuffled order decides overlaps
    return img


def legend_image(x, y, scale: int = 1) -> np.ndarray:
    """The palette's key without text: one real digit of each class drawn in its class colour
    (digit 0 first), as one RGB strip in [0, 1]."""
    x, y = np.asarray(x, np.float32), np.asarray(y, np.int64)
    tiles = []
    for k in range(10):
        idx = np.flatnonzero(y == k)
        if not len(idx):
            continue
        ink = x[idx[0], 0][..., None]                        # H×W×1 in [0, 1]
        tile = 1.0 - ink * (1.0 - PALETTE_RGB[k][None, None, :])  # white paper, coloured ink
        tiles.append(np.pad(tile, ((2, 2), (2, 2), (0, 0)), constant_values=1.0))
    strip = np.concatenate(tiles, axis=1)
    strip = strip.astype(np.float32)
    return np.kron(strip, np.ones((scale, scale, 1), np.float32)) if scale > 1 else strip


def code_heatmap(x, codes, cell: int = 6) -> np.ndarray:
    """Rows = images (the digit itself on the left), columns = code units; black 0 → white 1 for
    sigmoid codes in [0, 1] (anything else clipped), so a sparse code is a mostly dark row with
    a few bright cells. Grey picture (H, W) in [0, 1], with a grey gap after the digits."""
    x = np.asarray(x, np.float32)
    c = np.clip(np.asarray(codes, np.float32), 0.0, 1.0)
    h = x.shape[-1]
    heat = np.kron(c, np.ones((h, cell), np.float32))         # (N·h, units·cell)
    digits = x[:, 0].reshape(-1, h)                           # white ink on black, like the heat
    gap = np.full((len(heat), 4), 0.5, np.float32)
    return np.concatenate([digits, gap, heat], axis=1)


# == shared pieces ==================================================================================
def _val_show(data, n: int, seed: int) -> np.ndarray:
    """Indices of n validation images, one class after another (0, 1, …, 9, 0, …), chosen by seed."""
    y = data.y_val.cpu().numpy()
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(y == k)).tolist() for k in range(10)]
    return np.array([by_class[i % 10][i // 10] for i in range(n)], np.int64)


def _classifier(data, which: str):
    if which == "full":
        return digit_classifier(data)  # the Metrics tab's classifier: cached after the first use
    if which == "small":
        return digit_classifier(data, epochs=1, n_train=1000)  # seconds; for quick runs
    raise ConfigError(f"classifier must be 'full' or 'small', got {which!r}")


def _errors(model, data) -> tuple[float, float]:
    """Mean validation reconstruction error: (MSE per pixel, BCE in nats per image)."""
    x = data.x_val
    return (float(reconstruction_errors(model, x, "mse").mean()),
            float(reconstruction_errors(model, x, "bce").mean()))


def _autoencoder(name: str) -> None:
    info = get_model_info(name)  # ConfigError for an unknown name
    cls = info.model_cls
    if not (callable(getattr(cls, "encode", None)) and callable(getattr(cls, "decode", None))):
        raise ConfigError(f"{name} has no encoder and decoder: this experiment compares "
                          "autoencoders (ae_*, vae_*)")
    if cls.conditional:
        raise ConfigError(f"{name} is conditional: it needs labels to encode; pick an "
                          "unconditional autoencoder")


def _has_field(name: str, fld: str) -> bool:
    return hasattr(get_config(name), fld)


# == 1. stacked against convolutional =============================================================
def compare_reconstructions(p: CompareReconstructionsParams, ctx: Context) -> Result:
    """Train each autoencoder in p.models for the same steps on mnist5k; show the same
    validation digits reconstructed by each, their validation losses over the steps, and a table
    of size, time, validation MSE/BCE and the classifier score of the reconstructions."""
    models = p.model_names
    for m in models:
        _autoencoder(m)
    steps, batch = p.steps, p.batch_size
    data, _ = _load_data(ctx)
    runs = []
    for i, m in enumerate(models):
        over = {"latent_dim": p.latent_dim} if _has_field(m, "latent_dim") else {}
        runs.append(train_brief(m, data, steps, ctx, overrides=over, batch_size=batch,
                                eval_every=p.eval_every, span=(0.9 * i / len(models),
                                                               0.9 * (i + 1) / len(models))))
    ctx.progress(0.9, text="scoring the reconstructions")
    clf = _classifier(data, p.classifier)
    x_val = data.x_val.cpu().numpy()
    real_score = classifier_score(predict(clf, x_val)[0])
    show = _val_show(data, p.n_show, ctx.seed)
    rows, table, values, curves = [x_val[show]], [], {"real_score": real_score}, []
    for r in runs:
        ctx.check()
        probe = LatentProbe(r.model, r.name)
        rec = probe.reconstruct(x_val)
        rows.append(rec[show])
        mse, bce = _errors(r.model, data)
        score = classifier_score(predict(clf, rec)[0])
        table.append([r.label, r.parameters, int(probe.dim), r.steps, round(r.seconds, 2),
                      mse, bce, score])
        values.update({f"{r.label}.mse": mse, f"{r.label}.bce": bce, f"{r.label}.score": score,
                       f"{r.label}.seconds": r.seconds, f"{r.label}.parameters": r.parameters})
        curves.append(Curve(r.label, r.curve_steps, r.curves["loss"], "validation loss",
                            "step", "validation loss (BCE, nats per image)"))
    table.append(["(the originals)", 0, 0, 0, 0.0, 0.0, 0.0, real_score])
    best = min(runs, key=lambda r: values[f"{r.label}.bce"]).label
    summary = (f"After {steps} steps each (batch {batch}, same seed and batches), {best} "
               f"reconstructs the validation digits best ("
               + ", ".join(f"{r.label} BCE {values[f'{r.label}.bce']:.1f}" for r in runs)
               + " nats per image). Classifier score of the reconstructions: "
               + ", ".join(f"{r.label} {values[f'{r.label}.score']:.2f}" for r in runs)
               + f" (real digits {real_score:.2f}, at most 10).")
    ctx.progress(1.0, text="done")
    return Result(
        "Stacked and convolutional autoencoders side by side", summary,
        tables=[Table(["model", "parameters", "code size", "steps", "train s", "val MSE/pixel",
                       "val BCE/image", "classifier score"], table,
                      "Validation reconstructions")],
        curves=curves,
        images=[Image("Rows: originals, " + ", ".join(r.label for r in runs)
                      + " (same validation digits)", image_rows(rows))],
        values=values)


# == 2. sparse codes ===============================================================================
def sparse_codes(p: SparseCodesParams, ctx: Context) -> Result:
    """ae_sparse (KL sparsity on a sigmoid code, weight λ) against the same network with λ = 0:
    how many code units fire per image, the sorted mean activation of the units, the histogram
    of activations, and a heat map of the codes of a few validation digits."""
    steps, batch, n_codes, eval_every = p.steps, p.batch_size, p.n_codes, p.eval_every
    lam, thr = p.sparsity_weight, p.threshold
    data, _ = _load_data(ctx)
    runs = [train_brief("ae_sparse", data, steps, ctx, batch_size=batch, eval_every=eval_every,
                        overrides={"sparsity": "kl", "sparsity_weight": w}, label=label,
                        span=(0.45 * i, 0.45 * (i + 1)))
            for i, (w, label) in enumerate([(lam, f"sparse (λ={lam:g})"), (0.0, "plain (λ=0)")])]
    ctx.progress(0.9, text="encoding the validation digits")
    x_val = data.x_val.cpu().numpy()
    show = _val_show(data, n_codes, ctx.seed)
    bins = np.linspace(0.0, 1.0, 21)
    table, curves, images, values = [], [], [], {}
    rho = runs[0].model.config.target_activation
    for r, key in zip(runs, ("sparse", "plain")):
        ctx.check()
        codes = LatentProbe(r.model, r.name).encode(x_val)        # sigmoid codes in [0, 1]
        unit_mean = codes.mean(0)
        active = (codes > thr).mean(1)                              # per image: share of units
        mse, bce = _errors(r.model, data)
        dead = int((codes.max(0) <= thr).sum())
        table.append([r.label, float(codes.mean()), float(active.mean()),
                      float(active.mean() * codes.shape[1]), dead, mse, bce])
        values.update({f"{key}.mean_activation": float(codes.mean()),
                       f"{key}.active_share": float(active.mean()), f"{key}.mse": mse,
                       f"{key}.bce": bce, f"{key}.dead_units": float(dead)})
        curves.append(Curve(r.label, np.arange(1, len(unit_mean) + 1, dtype=np.float64),
                            np.sort(unit_mean)[::-1].astype(np.float64), "units",
                            "code unit (most active first)", "mean activation"))
        hist = np.histogram(codes, bins)[0] / codes.size
        curves.append(Curve(r.label, (bins[:-1] + bins[1:]) / 2, hist.astype(np.float64),
                            "histogram", "activation", "share of all activations"))
        curves.append(Curve(r.label, r.curve_steps, r.curves["recon"], "validation",
                            "step", "validation reconstruction loss (nats per image)"))
        images.append(Image(f"{r.label}: codes of {n_codes} validation digits (rows; bright = "
                            f"active, {codes.shape[1]} units)", code_heatmap(x_val[show],
                                                                              codes[show])))
    s, p = values["sparse.active_share"], values["plain.active_share"]
    summary = (f"With the sparsity penalty (λ={lam:g}, target ρ={rho:g}) a validation digit "
               f"switches on {100 * s:.1f}% of the code units above {thr:g} (mean activation "
               f"{values['sparse.mean_activation']:.3f}); without it {100 * p:.1f}% "
               f"(mean {values['plain.mean_activation']:.3f}). Reconstruction BCE "
               f"{values['sparse.bce']:.1f} against {values['plain.bce']:.1f} nats per image"
               + (": here the sparse code even reconstructs better (without the penalty the "
                  "sigmoid units drift into saturation, where they carry little)."
                  if values["sparse.bce"] < values["plain.bce"]
                  else ": sparsity costs some accuracy."))
    ctx.progress(1.0, text="done")
    return Result(
        "Sparse autoencoder: few active code units", summary,
        tables=[Table(["model", "mean activation", f"share of units > {thr:g} per image",
                       "units active per image", "dead units", "val MSE/pixel", "val BCE/image"],
                      table, "Codes of the validation digits")],
        curves=curves, images=images, values=values)


# == 3. the VAE's loss terms =======================================================================
LOSS_TERMS = (("recon", "reconstruction only"), ("kl", "KL only"), ("both", "both (the ELBO)"))


def vae_loss_terms(p: VaeLossTermsParams, ctx: Context) -> Result:
    """Three vae_mlp runs with a 2-D code, trained on the reconstruction term only, the KL term
    only, and both: the validation codes (posterior means) as three scatters coloured by digit,
    the reconstructions, and a table of reconstruction error, KL and the spread of the codes."""
    steps, batch, size, eval_every = p.steps, p.batch_size, p.size, p.eval_every
    latent, extent_mode = p.latent_dim, p.extent
    data, _ = _load_data(ctx)
    runs = [train_brief("vae_mlp", data, steps, ctx, batch_size=batch, eval_every=eval_every,
                        overrides={"latent_dim": latent, "loss_terms": t}, label=label,
                        span=(0.3 * i, 0.3 * (i + 1)))
            for i, (t, label) in enumerate(LOSS_TERMS)]
    ctx.progress(0.9, text="encoding the validation digits")
    x_val = data.x_val.cpu().numpy()
    y_val = data.y_val.cpu().numpy()
    show = _val_show(data, 10, ctx.seed)
    codes = {}
    table, curves, values, rec_rows = [], [], {}, [x_val[show]]
    for (t, _), r in zip(LOSS_TERMS, runs):
        ctx.check()
        probe = LatentProbe(r.model, r.name)
        mu = probe.encode(x_val)
        # More than two dimensions are drawn on their top two principal axes.
        codes[t] = mu if latent == 2 else project_2d(mu)[0]
        kl = float(probe.kl_per_dim(x_val).sum())
        mse, bce = _errors(r.model, data)
        std = mu.std(0)
        radius = float(np.sqrt((mu ** 2).sum(1)).max())
        rec = probe.reconstruct(x_val)
        # How different the reconstructions are from each other: 0 when every digit decodes
        # to the same picture (the KL-only collapse).
        variety = float(rec.std(0).mean())
        rec_rows.append(rec[show])
        table.append([r.label, bce, mse, kl, float(std[0]), float(std[1]), radius, variety])
        values.update({f"{t}.bce": bce, f"{t}.mse": mse, f"{t}.kl": kl,
                       f"{t}.spread": float(std.mean()), f"{t}.max_radius": radius,
                       f"{t}.variety": variety})
        curves.append(Curve(r.label, r.curve_steps, r.curves["recon"], "reconstruction",
                            "step", "validation reconstruction (BCE, nats per image)"))
        curves.append(Curve(r.label, r.curve_steps, r.curves["kl"], "KL",
                            "step", "validation KL(q(z|x) ‖ p(z)) (nats)"))
    shared = scatter_extent(np.concatenate(list(codes.values())))
    images = []
    for (t, _), r in zip(LOSS_TERMS, runs):
        ext = shared if extent_mode == "shared" else scatter_extent(codes[t])
        step = _tick_step(ext)
        what = "posterior means" if latent == 2 else f"PCA of the {latent}-D posterior means"
        images.append(Image(f"{r.label}: validation codes ({what}), view ±{ext:.1f}, "
                            f"ticks every {step:g}",
                            scatter_image(codes[t], y_val, size=size, extent=ext, seed=ctx.seed)))
    images.append(Image("Colours: digits 0 to 9", legend_image(x_val, y_val, scale=1)))
    images.append(Image("Rows: originals, then the reconstructions of " + ", ".join(
        r.label for r in runs), image_rows(rec_rows)))
    v = values
    summary = (
        f"Reconstruction only: codes spread up to radius {v['recon.max_radius']:.1f} (std "
        f"{v['recon.spread']:.2f}) with KL {v['recon.kl']:.0f} nats, BCE {v['recon.bce']:.0f}. "
        f"KL only: every code sits at the prior's centre (std {v['kl.spread']:.3f}, KL "
        f"{v['kl.kl']:.2f}), so every digit decodes to the same picture (variety "
        f"{v['kl.variety']:.4f} against {v['both.variety']:.3f}; the KL term gives the decoder "
        f"no gradient, so that picture is its untrained output), BCE {v['kl.bce']:.0f}. "
        f"Both: codes packed within radius {v['both.max_radius']:.1f} (std "
        f"{v['both.spread']:.2f}), KL {v['both.kl']:.1f}, BCE {v['both.bce']:.0f}: the KL "
        f"term packs the codes {v['recon.spread'] / max(v['both.spread'], 1e-12):.1f}× "
        f"tighter (std) for a change in reconstruction BCE of "
        f"{v['both.bce'] - v['recon.bce']:+.1f} nats. "
        f"Scatter views are {'shared' if extent_mode == 'shared' else 'fitted per panel'} "
        "(at least ±3, the prior's bulk).")
    ctx.progress(1.0, text="done")
    return Result(
        "Reconstruction only, KL only, both: three latent pictures", summary,
        tables=[Table(["loss trained", "val BCE/image", "val MSE/pixel", "KL (nats)", "std z₁",
                       "std z₂", "largest |μ|", "variety of reconstructions"], table,
                      "Validation set (codes = posterior means)")],
        curves=curves, images=images, values=values)


# == 4. interpolation: AE against VAE against pixels ===============================================
def nearest_real_distance(images, real, chunk: int = 256) -> np.ndarray:
    """Mean squared pixel difference of each image to its nearest neighbour among `real`
    (both N×C×H×W): how far an image is from every real digit. (N,) float64."""
    a = torch.as_tensor(np.asarray(images, np.float32)).flatten(1).double()
    b = torch.as_tensor(np.asarray(real, np.float32)).flatten(1).double()
    b2 = b.pow(2).sum(1)
    out = []
    for c in a.split(chunk):
        d2 = c.pow(2).sum(1, keepdim=True) + b2[None] - 2.0 * c @ b.T
        out.append(d2.min(1).values.clamp_min(0.0) / a.shape[1])
    return torch.cat(out).numpy() if out else np.zeros(0)


def interpolations(p: InterpolationsParams, ctx: Context) -> Result:
    """ae_mlp and vae_mlp with the same code size; for each pair of validation digits, the
    decoded straight line between their codes (the VAE's posterior means) beside a pixel
    cross-fade, and the classifier's confidence along each path."""
    steps, batch, latent, n, eval_every = p.steps, p.batch_size, p.latent_dim, p.n, p.eval_every
    pairs = p.digit_pairs
    data, _ = _load_data(ctx)
    runs = [train_brief(name, data, steps, ctx, batch_size=batch, eval_every=eval_every,
                        overrides={"latent_dim": latent}, label=label,
                        span=(0.45 * i, 0.45 * (i + 1)))
            for i, (name, label) in enumerate([("ae_mlp", "AE"), ("vae_mlp", "VAE")])]
    ctx.progress(0.9, text="decoding the paths")
    clf = _classifier(data, p.classifier)
    x_val = data.x_val.cpu().numpy()
    y_val = data.y_val.cpu().numpy()
    rng = np.random.default_rng(ctx.seed)
    probes = [LatentProbe(r.model, r.name) for r in runs]
    kinds = ("AE", "VAE", "pixels")
    conf = {k: [] for k in kinds}       # per pair: max-probability at each point of the path
    hit = {k: [] for k in kinds}        # per pair: share of in-between points read as a or b
    near = {k: [] for k in kinds}       # per pair: distance of each in-between image to real data
    x_train = data.x_train.cpu().numpy()
    images = []
    t = np.linspace(0.0, 1.0, n)
    for a, b in pairs:
        ctx.check()
        i0 = int(rng.choice(np.flatnonzero(y_val == a)))
        i1 = int(rng.choice(np.flatnonzero(y_val == b)))
        x0, x1 = x_val[i0:i0 + 1], x_val[i1:i1 + 1]
        rows = []
        for probe in probes:
            z = probe.encode(np.concatenate([x0, x1]))
            rows.append(probe.decode(interpolate(z[0], z[1], n, "linear")))
        rows.append(((1 - t)[:, None, None, None] * x0 + t[:, None, None, None] * x1)
                    .astype(np.float32))
        for k, row in zip(kinds, rows):
            probs = predict(clf, row)[0]
            conf[k].append(probs.max(1))
            inner = probs[1:-1].argmax(1)
            hit[k].append(float(np.isin(inner, (a, b)).mean()))
            near[k].append(nearest_real_distance(row, x_train))
        images.append(Image(f"{a} → {b}: AE path, VAE path, pixel cross-fade ({n} steps)",
                            image_rows(rows)))
    table, values, curves = [], {}, []
    for k in kinds:
        c = np.array(conf[k])                    # (pairs, n)
        inner = c[:, 1:-1]                       # the in-between images only
        d = np.array(near[k])                    # (pairs, n)
        table.append([{"AE": f"AE ({runs[0].name}) decoded line", "VAE":
                       f"VAE ({runs[1].name}) decoded line", "pixels": "pixel cross-fade"}[k],
                      float(inner.mean()), float(inner.min(1).mean()), float(np.mean(hit[k])),
                      float(d[:, 1:-1].mean())])
        values.update({f"{k}.mean_max_prob": float(inner.mean()),
                       f"{k}.nearest_real": float(d[:, 1:-1].mean()),
                       f"{k}.min_max_prob": float(inner.min(1).mean()),
                       f"{k}.read_as_endpoint": float(np.mean(hit[k]))})
        curves.append(Curve(k, t, c.mean(0), "confidence", "position along the path t",
                            "classifier's max probability (mean over pairs)"))
        curves.append(Curve(k, t, d.mean(0), "distance", "position along the path t",
                            "MSE per pixel to the nearest real training digit"))
    closest = min(kinds, key=lambda k: values[f"{k}.nearest_real"])
    ae, vae = values["AE.nearest_real"], values["VAE.nearest_real"]
    if abs(ae - vae) < 0.05 * max(ae, vae):  # a tie at this training length: say so
        closest = "AE and VAE alike (within 5 %)"
    summary = (
        "Classifier confidence (mean max-probability) on the in-between images: "
        + ", ".join(f"{k} {values[f'{k}.mean_max_prob']:.3f}" for k in kinds)
        + "; lowest point per path on average: "
        + ", ".join(f"{k} {values[f'{k}.min_max_prob']:.3f}" for k in kinds)
        + (" (the classifier reads the overlaid strokes of a cross-fade confidently too). "
           if values["pixels.mean_max_prob"] >= max(values["AE.mean_max_prob"],
                                                    values["VAE.mean_max_prob"]) else ". ")
        + "Mean squared pixel distance from an in-between image to the nearest real training "
        "digit: " + ", ".join(f"{k} {values[f'{k}.nearest_real']:.4f}" for k in kinds)
        + f"; closest to real digits: {closest}.")
    ctx.progress(1.0, text="done")
    return Result(
        "Interpolation: AE against VAE against pixels", summary,
        tables=[Table(["path", "mean max-probability", "lowest max-probability",
                       "read as one of the two digits", "MSE to nearest real digit"], table,
                      f"In-between images of {len(pairs)} pair(s), {n - 2} per path; "
                      f"code size {latent}, {steps} steps each")],
        curves=curves, images=images, values=values)
