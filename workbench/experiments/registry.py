"""Small, self-contained experiments that end in a table, a few curves and a few images: the
pictures of the lessons that are not "train one model and watch it" (PCA against a linear
autoencoder, semi-supervised learning with few labels, JS against Wasserstein, fitting a Gaussian
with different f-divergences, the generator's vanishing gradient, a discriminator that wins).

Qt-free. Each experiment is a function `fn(params: dict, ctx: Context) -> Result` in its own
module, named in EXPERIMENTS below as "module:function" so that listing experiments imports
nothing heavy. The GUI's experiment view, the lessons and the tests call `run_experiment`; the
function reports progress through `ctx.progress(fraction, text)` and calls `ctx.check()` often,
which raises Cancelled once the caller asks it to stop.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from workbench.core.errors import ConfigError
from workbench.core.tasks import TaskContext


@dataclass
class Table:
    columns: list[str]
    rows: list[list]                  # cells are str, int or float (floats shown to 4 digits)
    title: str = ""


@dataclass
class Curve:
    name: str                         # the legend entry
    x: np.ndarray
    y: np.ndarray
    plot: str = "main"                # curves with the same plot name share one plot
    x_label: str = ""
    y_label: str = ""
    log_y: bool = False               # a log y axis for the plot (values spanning decades)
    log_x: bool = False               # a log x axis for the plot (e.g. label counts 1…100)


@dataclass
class Image:
    title: str
    pixels: np.ndarray                # (H, W) or (H, W, 3) floats in [0, 1]


@dataclass
class Result:
    title: str
    summary: str = ""                 # one to three sentences: what the numbers show
    tables: list[Table] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)  # key numbers, for tests and the CLI


class Context(TaskContext):
    """What an experiment gets besides its parameters: the one TaskContext (`progress`,
    `check()`, `emit`) plus the device and seed to run on. `progress(fraction, text)` here is
    the caller's callback; `should_stop()` returns True once the caller wants it to stop."""

    def __init__(self, progress: Callable[[float, str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, device: str = "cpu",
                 seed: int = 0):
        super().__init__(None if progress is None else (
            lambda done, total, text: progress(done if total is None else done / total, text)),
            should_stop=should_stop)
        self.device, self.seed = device, seed


@dataclass(frozen=True)
class ExperimentInfo:
    name: str
    title: str
    target: str                       # "workbench.analysis.module:function"
    defaults: dict                    # every parameter the function reads, with its default
    quick: dict                       # overrides that make a test run take a few seconds


# name -> ExperimentInfo. Add an experiment: write the function, list it here.
EXPERIMENTS: dict[str, ExperimentInfo] = {}


def _add(name: str, title: str, target: str, defaults: dict, quick: dict | None = None) -> None:
    EXPERIMENTS[name] = ExperimentInfo(name, title, target, dict(defaults), dict(quick or {}))


def list_experiments() -> list[ExperimentInfo]:
    return list(EXPERIMENTS.values())


def get_experiment(name: str) -> ExperimentInfo:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ConfigError(f"unknown experiment {name!r}; known: "
                          f"{', '.join(sorted(EXPERIMENTS)) or '(none)'}") from None


def resolve_params(name: str, params: dict | None = None, quick: bool = False) -> dict:
    """The experiment's defaults, then its quick overrides if asked, then `params`; an unknown
    parameter is an error that names it."""
    info = get_experiment(name)
    merged = dict(info.defaults)
    if quick:
        merged.update(info.quick)
    for k, v in (params or {}).items():
        if k not in info.defaults:
            raise ConfigError(f"experiment {name!r} has no parameter {k!r}; it has "
                              f"{', '.join(sorted(info.defaults))}")
        merged[k] = v
    return merged


def run_experiment(name: str, params: dict | None = None, *, quick: bool = False,
                   progress: Callable[[float, str], None] | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   device: str = "cpu", seed: int = 0) -> Result:
    info = get_experiment(name)
    merged = resolve_params(name, params, quick)
    module, func = info.target.split(":")
    fn = getattr(importlib.import_module(module), func)
    ctx = Context(progress or (lambda f, t="": None), should_stop or (lambda: False),
                  device, seed)
    return fn(merged, ctx)


# == parameter checks (every experiment's function validates its params with these) ==========
def int_param(params: dict, key: str, lo: int = 1, hi: int | None = None) -> int:
    v = params[key]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) and not (
            isinstance(v, float) and v.is_integer()):
        raise ConfigError(f"parameter {key!r} must be a whole number, not {v!r}")
    v = int(v)
    if v < lo or (hi is not None and v > hi):
        raise ConfigError(f"parameter {key!r} must be in [{lo}, {hi if hi is not None else '∞'}]"
                          f", not {v}")
    return v


def float_param(params: dict, key: str, lo: float | None = None, hi: float | None = None,
                open_lo: bool = False) -> float:
    v = params[key]
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"parameter {key!r} must be a number, not {params[key]!r}") from None
    if not math.isfinite(v) or (lo is not None and (v <= lo if open_lo else v < lo)) or (
            hi is not None and v > hi):
        lo_s = "" if lo is None else f"{'>' if open_lo else '≥'} {lo}"
        hi_s = "" if hi is None else f"≤ {hi}"
        raise ConfigError(f"parameter {key!r} must be finite and {' and '.join(filter(None, (lo_s, hi_s)))}"
                          f", not {params[key]!r}")
    return v


def choice_param(params: dict, key: str, choices: Sequence[str]) -> str:
    v = params[key]
    if v not in choices:
        raise ConfigError(f"parameter {key!r} must be one of {', '.join(choices)}, not {v!r}")
    return v


def floats_param(params: dict, key: str) -> list[float]:
    v = params[key]
    if isinstance(v, str):
        v = [s for s in v.replace(",", " ").split() if s]
    try:
        out = [float(t) for t in v]
    except (TypeError, ValueError):
        raise ConfigError(f"parameter {key!r} must be a list of numbers, not {params[key]!r}") \
            from None
    if not out or not all(math.isfinite(t) for t in out):
        raise ConfigError(f"parameter {key!r} must be a non-empty list of finite numbers")
    return out


# == the experiments ===============================================================================
# (registered below by the modules' authors: _add(name, title, "module:function", defaults, quick))

# -- PCA against a linear autoencoder; semi-supervised learning with few labels -------------------
_add("pca_vs_linear_ae", "PCA versus a linear autoencoder: same subspace, non-orthogonal basis",
     "workbench.experiments.ae_experiments:pca_vs_linear_ae",
     {"k": 8, "steps": 4000, "batch_size": 250, "lr": 1e-2}, {"k": 4, "steps": 1200})
_add("semi_supervised", "Semi-supervised: autoencoder features plus a few labels",
     "workbench.experiments.ae_experiments:semi_supervised",
     {"model": "ae_conv", "latent_dim": 16, "steps": 800, "batch_size": 64,
      "labels_per_class": [1, 3, 10, 30, 100], "draws": 5, "l2": 1e-2},
     {"steps": 40, "labels_per_class": [3, 10], "draws": 2})

# -- autoencoders side by side: reconstructions, sparse codes, the VAE's loss terms, interpolation --
_add("compare_reconstructions", "Stacked and convolutional autoencoders side by side",
     "workbench.experiments.ae_compare:compare_reconstructions",
     {"models": ["ae_mlp", "ae_conv"], "steps": 250, "batch_size": 64, "latent_dim": 16,
      "n_show": 10, "eval_every": 25, "classifier": "full"},
     {"steps": 6, "eval_every": 3, "n_show": 4, "classifier": "small"})
_add("sparse_codes", "Sparse autoencoder: few active code units",
     "workbench.experiments.ae_compare:sparse_codes",
     {"steps": 400, "batch_size": 64, "sparsity_weight": 1.0, "threshold": 0.1, "n_codes": 20,
      "eval_every": 50},
     {"steps": 6, "eval_every": 3, "n_codes": 4})
_add("vae_loss_terms", "Reconstruction only, KL only, both: three latent pictures",
     "workbench.experiments.ae_compare:vae_loss_terms",
     {"steps": 600, "batch_size": 64, "latent_dim": 2, "size": 240, "extent": "shared",
      "eval_every": 50},
     {"steps": 6, "eval_every": 3, "size": 96})
_add("interpolations", "Interpolation: AE against VAE against pixels",
     "workbench.experiments.ae_compare:interpolations",
     {"steps": 500, "batch_size": 64, "latent_dim": 16, "pairs": [[1, 7], [3, 8]], "n": 9,
      "eval_every": 50, "classifier": "full"},
     {"steps": 6, "eval_every": 3, "n": 5, "pairs": [[1, 7]], "classifier": "small"})

# -- the GAN objectives: vanishing gradient, a winning discriminator, JS against Wasserstein, -----
# -- fitting a Gaussian with different f-divergences ----------------------------------------------
_add("generator_gradients", "Minimax against non-saturating G loss: the vanishing gradient",
     "workbench.experiments.gan_objectives:generator_gradients",
     {"steps": 300, "pretrain_d_steps": 50, "early_steps": 20, "batch_size": 64, "hidden": 128,
      "latent_dim": 32, "g_optimizer": "sgd", "lr_g": 0.05, "lr_d": 2e-4, "samples": 36},
     {"steps": 30, "pretrain_d_steps": 30, "early_steps": 10, "hidden": 64, "samples": 4})
_add("strong_discriminator", "A discriminator that is too strong: JS saturates at log 2",
     "workbench.experiments.gan_objectives:strong_discriminator",
     {"steps": 200, "batch_size": 64, "hidden": 128, "latent_dim": 32, "loss": "minimax",
      "lr_g": 2e-4, "lr_d": 2e-4, "strong_d_steps": 5, "strong_lr_d": 1e-3, "eval_every": 5,
      "eval_batch": 256, "samples": 36},
     {"steps": 30, "strong_d_steps": 3, "hidden": 64, "eval_batch": 128, "samples": 4})
_add("js_vs_wasserstein", "JS against Wasserstein on two distributions that do not overlap",
     "workbench.experiments.divergences:js_vs_wasserstein",
     {"thetas": [-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0], "steps": 300, "batch_size": 256,
      "hidden": 64, "lr": 1e-3, "gp_weight": 10.0},
     {"thetas": [-1.0, 0.5], "steps": 150, "batch_size": 128, "lr": 2e-3})
_add("f_divergence_fit", "f-divergences: one Gaussian fitted to a mixture (KL, reverse KL, JS, χ²)",
     "workbench.experiments.divergences:f_divergence_fit",
     {"separation": 4.0, "mode_std": 0.5, "weight_left": 0.6, "grid_points": 4001,
      "grid_half_width": 20.0, "adam_steps": 100, "variational_steps": 1000},
     {"grid_points": 1601, "adam_steps": 40, "variational_steps": 100})
