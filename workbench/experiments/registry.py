"""Small, self-contained experiments that end in a table, a few curves and a few images: the
pictures of the lessons that are not "train one model and watch it" (PCA against a linear
autoencoder, semi-supervised learning with few labels, JS against Wasserstein, fitting a Gaussian
with different f-divergences, the generator's vanishing gradient, a discriminator that wins).

Qt-free. Each experiment is a function `fn(params, ctx: Context) -> Result` in its own module,
beside the frozen dataclass of `param()` fields it takes as `params` (core/config.py: limits,
help, and `quick=` for the value a rehearsal or a test uses). Both are named in EXPERIMENTS below
as "module:attribute", so that listing experiments imports nothing heavy. `resolve_params` builds
the dataclass the way `--set` builds a model config, so the GUI's form, the lessons and the
tests validate parameters alike; the GUI's experiment view, the lessons and the tests call
`run_experiment`. The function reports progress through `ctx.progress(fraction, text=...)` and
calls `ctx.check()` often, which raises Cancelled once the caller asks it to stop.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from workbench.core import config as C
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
    """What an experiment gets besides its parameters: the asker's TaskContext (its progress,
    partial results and stop pass straight through) plus the device and seed to run on."""

    def __init__(self, asker: TaskContext | None = None, device: str = "cpu", seed: int = 0):
        asker = asker or TaskContext()
        super().__init__(asker.progress, asker.emit, should_stop=lambda: asker.cancelled)
        self.device, self.seed = device, seed


@dataclass(frozen=True)
class ExperimentInfo:
    name: str
    title: str
    target: str                       # "workbench.experiments.module:function"
    params: str                       # "workbench.experiments.module:Params", what it takes

    def function(self) -> Callable:
        return _attribute(self.target)

    def params_class(self) -> type:
        return _attribute(self.params)


def _attribute(where: str):
    module, name = where.split(":")
    return getattr(importlib.import_module(module), name)


# name -> ExperimentInfo. Add an experiment: write its params dataclass and function, list it here.
EXPERIMENTS: dict[str, ExperimentInfo] = {}


def _add(name: str, title: str, module: str, function: str, params: str) -> None:
    EXPERIMENTS[name] = ExperimentInfo(name, title, f"{module}:{function}", f"{module}:{params}")


def list_experiments() -> list[ExperimentInfo]:
    return list(EXPERIMENTS.values())


def get_experiment(name: str) -> ExperimentInfo:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ConfigError(f"unknown experiment {name!r}; known: "
                          f"{', '.join(sorted(EXPERIMENTS)) or '(none)'}") from None


def resolve_params(name: str, params: dict | None = None, quick: bool = False):
    """The experiment's params dataclass: its defaults, then its fields' `quick` values if
    asked, then `params` (values or `--set`-style strings, checked against each field's limits
    and the dataclass's `check()`). A refused value is one ConfigError naming the experiment and
    the parameter."""
    cls = get_experiment(name).params_class()
    known = [f.name for f in dataclasses.fields(cls)]
    for key in params or {}:
        if key not in known:
            raise ConfigError(f"experiment {name!r} has no parameter {key!r}; it has "
                              f"{', '.join(sorted(known))}")
    changes = {**(C.field_metadata(cls, "quick") if quick else {}), **(params or {})}
    try:
        return C.replace(cls(), **changes)
    except ConfigError as e:
        raise ConfigError(f"experiment {name!r}: {e}") from None


def run_experiment(name: str, params: dict | None = None, *, quick: bool = False,
                   ctx: TaskContext | None = None, device: str = "cpu", seed: int = 0) -> Result:
    """Run one study; `ctx` (the asker's) hears its progress and partial results and may stop
    it (Cancelled)."""
    info = get_experiment(name)
    resolved = resolve_params(name, params, quick)
    return info.function()(resolved, Context(ctx, device, seed))


# == the experiments ===============================================================================
AE = "workbench.experiments.ae_experiments"
AEC = "workbench.experiments.ae_compare"
GAN = "workbench.experiments.gan_objectives"
DIV = "workbench.experiments.divergences"

# -- PCA against a linear autoencoder; semi-supervised learning with few labels -------------------
_add("pca_vs_linear_ae", "PCA versus a linear autoencoder: same subspace, non-orthogonal basis",
     AE, "pca_vs_linear_ae", "PcaVsLinearAEParams")
_add("semi_supervised", "Semi-supervised: autoencoder features plus a few labels",
     AE, "semi_supervised", "SemiSupervisedParams")

# -- autoencoders side by side: reconstructions, sparse codes, the VAE's loss terms, interpolation --
_add("compare_reconstructions", "Stacked and convolutional autoencoders side by side",
     AEC, "compare_reconstructions", "CompareReconstructionsParams")
_add("sparse_codes", "Sparse autoencoder: few active code units",
     AEC, "sparse_codes", "SparseCodesParams")
_add("vae_loss_terms", "Reconstruction only, KL only, both: three latent pictures",
     AEC, "vae_loss_terms", "VaeLossTermsParams")
_add("interpolations", "Interpolation: AE against VAE against pixels",
     AEC, "interpolations", "InterpolationsParams")

# -- the GAN objectives: vanishing gradient, a winning discriminator, JS against Wasserstein, -----
# -- fitting a Gaussian with different f-divergences ----------------------------------------------
_add("generator_gradients", "Minimax against non-saturating G loss: the vanishing gradient",
     GAN, "generator_gradients", "GeneratorGradientsParams")
_add("strong_discriminator", "A discriminator that is too strong: JS saturates at log 2",
     GAN, "strong_discriminator", "StrongDiscriminatorParams")
_add("js_vs_wasserstein", "JS against Wasserstein on two distributions that do not overlap",
     DIV, "js_vs_wasserstein", "JsVsWassersteinParams")
_add("f_divergence_fit", "f-divergences: one Gaussian fitted to a mixture (KL, reverse KL, JS, χ²)",
     DIV, "f_divergence_fit", "FDivergenceFitParams")
