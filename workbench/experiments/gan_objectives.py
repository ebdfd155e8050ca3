"""What the GAN objectives do to the generator's gradient: two small experiments on gan_mlp and
the embedded MNIST digits.

- `generator_gradients` (lesson 13): on D's logit d, the minimax loss log(1 − σ(d)) has
  |∂/∂d| = D(G(z)) and the non-saturating −log σ(d) has 1 − D(G(z)); at the start of training D
  rejects the fakes (D(G(z)) ≈ 0), so the minimax gradient vanishes exactly where G most needs
  to move. Shown in closed form and by training both losses from one starting point.
- `strong_discriminator` (lesson 14): a discriminator that wins drives its BCE loss to 0, the
  JS estimate log 2 − d_loss/2 to log 2, and the minimax generator's gradient to 0.

Qt-free; fn(params, ctx) -> Result as in workbench.experiments.registry.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from workbench.analysis.sheets import image_grid
from workbench.core.config import param
from workbench.data import load_dataset
from workbench.engine.short_run import short_run
from workbench.engine.trainer import isolated_rng
from workbench.experiments.divergences import LOG2, device_of, js_from_bce
from workbench.experiments.registry import Curve, Image, Result, Table
from workbench.models.gan import GANConfig
from workbench.models.registry import create_model

# == the parameters (both studies train gan_mlp on the embedded digits) ============================
@dataclass(frozen=True)
class GeneratorGradientsParams:
    steps: int = param(300, min=1, max=100_000, quick=30,
                       help="G steps with each loss, from the same start.")
    pretrain_d_steps: int = param(50, min=0, max=100_000, quick=30, label="D steps first",
                                  help="Steps of D alone before G starts: D ahead, sure that "
                                       "G's samples are fake (the start of training).")
    early_steps: int = param(20, min=1, max=100_000, quick=10, label="early steps",
                             help="The first (and last) steps the table averages over.")
    batch_size: int = param(64, min=2, max=4096, label="batch size",
                            help="Real images per step.")
    hidden: int = param(128, min=8, max=2048, quick=64,
                        help="Width of the two hidden layers of G and of D.")
    latent_dim: int = param(32, min=1, max=512, label="code size", help="G's noise size.")
    g_optimizer: Literal["sgd", "adam"] = param(
        "sgd", label="G optimizer",
        help="sgd: G's step is its gradient, so a vanishing gradient is no step at all "
             "(Adam divides by the gradient's running size and hides it).")
    lr_g: float = param(0.05, min=1e-6, max=1.0, log=True, label="G learning rate",
                        help="G's learning rate.")
    lr_d: float = param(2e-4, min=1e-6, max=1.0, log=True, label="D learning rate",
                        help="D's learning rate (Adam).")
    samples: int = param(36, min=0, max=400, quick=4,
                         help="Samples shown after each run (0: none).")


@dataclass(frozen=True)
class StrongDiscriminatorParams:
    steps: int = param(200, min=1, max=100_000, quick=30,
                       help="G steps of each GAN, from the same weights.")
    batch_size: int = param(64, min=2, max=4096, label="batch size",
                            help="Real images per step.")
    hidden: int = param(128, min=8, max=2048, quick=64,
                        help="Width of the two hidden layers of G and of D.")
    latent_dim: int = param(32, min=1, max=512, label="code size", help="G's noise size.")
    loss: Literal["minimax", "non_saturating"] = param(
        "minimax", label="G loss", help="The generator's loss in both GANs.")
    lr_g: float = param(2e-4, min=1e-6, max=1.0, log=True, label="G learning rate",
                        help="G's learning rate.")
    lr_d: float = param(2e-4, min=1e-6, max=1.0, log=True, label="D learning rate",
                        help="D's learning rate in the balanced GAN.")
    strong_d_steps: int = param(5, min=1, max=100, quick=3, label="strong D steps",
                                help="D steps per G step in the strong GAN.")
    strong_lr_d: float = param(1e-3, min=1e-6, max=1.0, log=True,
                               label="strong D learning rate",
                               help="D's learning rate in the strong GAN.")
    eval_every: int = param(5, min=1, max=100_000, label="measure every",
                            help="Steps between two JS estimates.")
    eval_batch: int = param(256, min=2, max=100_000, quick=128, label="measure on",
                            help="Held-out digits (and as many fresh fakes) per JS estimate.")
    samples: int = param(36, min=0, max=400, quick=4,
                         help="Samples shown after each run (0: none).")


LOSS_LABELS = {"minimax": "minimax  log(1 − D(G(z)))",
               "non_saturating": "non-saturating  −log D(G(z))"}


def generator_logit_gradient(loss: str, d_fake) -> np.ndarray:
    """|∂ loss_G / ∂ logit| per sample as a function of D(G(z)) = σ(logit), in closed form:
    minimax −softplus(d) → σ(d) = D; non-saturating softplus(−d) → 1 − σ(d) = 1 − D."""
    p = np.asarray(d_fake, dtype=float)
    if loss == "minimax":
        return p
    if loss == "non_saturating":
        return 1.0 - p
    raise ValueError(f"no closed form for the {loss!r} generator loss here")


def _mnist_gan(p, ctx, loss: str):
    """A gan_mlp for the embedded digits sized by the study's params, and the data."""
    data = load_dataset("mnist5k")
    device = device_of(ctx)
    # The plain GAN of GANConfig's defaults, not gan_mlp's tuned recipe: no minibatch std-dev,
    # EMA or label smoothing (smoothing would also break d_loss = 2 log 2 − 2 JS at the optimum).
    config = GANConfig(arch="mlp", loss=loss, hidden=(p.hidden, p.hidden),
                       latent_dim=p.latent_dim, lr_g=p.lr_g, lr_d=p.lr_d)
    model = create_model("gan_mlp", data=data.spec, config=config).to(device)
    model.setup_optimizers()
    return model, data.x_train.to(device), data.x_val.to(device)


def _sample(x: torch.Tensor, n: int) -> torch.Tensor:
    """n rows of x drawn with replacement (a measurement's batch, not a training batch)."""
    return x[torch.randint(len(x), (n,), device=x.device)]


def _fork(model, **config_changes):
    """An independent copy of a GAN (weights and D's optimiser state) with a changed config."""
    twin = copy.deepcopy(model)
    twin.config = dataclasses.replace(twin.config, **config_changes)
    twin.setup_optimizers()  # fresh optimisers on the copy's own parameters, with the new rates
    twin.optimizers["D"].load_state_dict(model.optimizers["D"].state_dict())
    for group in twin.optimizers["D"].param_groups:
        group["lr"] = twin.config.lr_d
    return twin


def _samples_image(model, n: int):
    with torch.no_grad():
        x = model.sample(n).cpu().numpy()
    return image_grid(x)[..., 0].astype(np.float32) / 255.0


def _window_mean(values, lo: int, hi: int) -> float:
    v = np.asarray(values[lo:hi], dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else math.nan


def generator_gradients(p: GeneratorGradientsParams, ctx):
    """Lesson 13: minimax against non-saturating G loss from the same start, D ahead."""
    steps, pre, batch, n_img, lr_g = p.steps, p.pretrain_d_steps, p.batch_size, p.samples, p.lr_g
    early, g_opt = min(p.early_steps, steps), p.g_optimizer
    losses = ("minimax", "non_saturating")
    runs: dict[str, dict[str, list[float]]] = {}
    images = []
    total = pre + steps * len(losses)
    with isolated_rng(device_of(ctx), ctx.seed):
        base, x, _ = _mnist_gan(p, ctx, "minimax")
        # D alone first: the state at the start of training, D sure that G's samples are fake.
        for _ in short_run(base.d_step, pre, ctx, x=x, batch_size=batch, seed=ctx.seed,
                           name="D", text=lambda s: "training D alone",
                           span=(0.0, pre / total), finite=False):
            pass
        for k, loss in enumerate(losses):
            model = _fork(base, loss=loss)
            if g_opt == "sgd":
                # Plain SGD: G's step is its gradient, so a vanishing gradient is no step at
                # all. (Adam divides by the gradient's running size and hides it.)
                model.optimizers["G"] = torch.optim.SGD(model.G.parameters(), lr=lr_g)
            rec = runs[loss] = {"d_fake": [], "grad_g": [], "g_loss": []}
            label = f"{loss.replace('_', '-')} G loss"
            for _, m in short_run(model, steps, ctx, x=x, batch_size=batch, seed=ctx.seed,
                                  name=label, span=((pre + k * steps) / total,
                                                    (pre + (k + 1) * steps) / total),
                                  finite=False):
                for key, values in rec.items():
                    values.append(m[key])
                if not (math.isfinite(m["grad_g"]) and math.isfinite(m["d_fake"])):
                    break  # diverged: keep what was recorded
            if n_img:
                images.append(Image(f"samples after {len(rec['grad_g'])} steps, {loss} loss",
                                    _samples_image(model, n_img)))
    ctx.progress(1.0, text="done")

    d = np.concatenate([np.logspace(-4, -1, 60), np.linspace(0.1, 0.9, 41)[1:-1],
                        1 - np.logspace(-1, -4, 60)])  # D(G(z)) for the closed-form curves
    closed = {"minimax": "minimax: D(G(z))", "non_saturating": "non-saturating: 1 − D(G(z))"}
    curves = [Curve(closed[loss], d, generator_logit_gradient(loss, d),
                    "closed form: gradient on D's logit", "D(G(z))", "|∂ loss_G / ∂ logit|",
                    log_y=True) for loss in losses]
    for loss in losses:
        rec = runs[loss]
        s = np.arange(len(rec["grad_g"]), dtype=float)
        curves.append(Curve(LOSS_LABELS[loss], s, np.asarray(rec["grad_g"]),
                            "G's gradient norm per step", "step", "‖∇G‖", log_y=True))
        curves.append(Curve(LOSS_LABELS[loss], s, np.asarray(rec["d_fake"]),
                            "D(G(z)) per step", "step", "mean D(G(z))", log_y=True))
    rows, values = [], {}
    for loss in losses:
        rec = runs[loss]
        n = len(rec["grad_g"])
        row = [LOSS_LABELS[loss], _window_mean(rec["d_fake"], 0, early),
               _window_mean(rec["grad_g"], 0, early),
               _window_mean(rec["d_fake"], n - early, n), _window_mean(rec["grad_g"], n - early, n)]
        rows.append(row)
        values[f"{loss}_grad_early"] = row[2]
        values[f"{loss}_d_fake_early"] = row[1]
        values[f"{loss}_grad_final"] = row[4]
        values[f"{loss}_d_fake_final"] = row[3]
    table = Table(["G loss", f"D(G(z)), first {early} steps", f"‖∇G‖, first {early} steps",
                   f"D(G(z)), last {early} of {steps}", f"‖∇G‖, last {early} of {steps}"], rows,
                  f"gan_mlp on mnist5k; D trained alone for {pre} steps first; G by "
                  f"{g_opt.upper() if g_opt == 'sgd' else 'Adam'} (lr {lr_g:g})")
    ratio = values["non_saturating_grad_early"] / max(values["minimax_grad_early"], 1e-30)
    values["early_grad_ratio"] = ratio
    summary = (
        f"With D ahead (D(G(z)) ≈ {values['minimax_d_fake_early']:.3g}), the minimax loss "
        f"gives G a gradient {ratio:.0f}× smaller than the non-saturating one over the first "
        f"{early} steps (‖∇G‖ {values['minimax_grad_early']:.3g} against "
        f"{values['non_saturating_grad_early']:.3g}): on the logit its gradient is D(G(z)) "
        "itself, against 1 − D(G(z)). After "
        f"{steps} steps D(G(z)) is {values['minimax_d_fake_final']:.3g} with minimax and "
        f"{values['non_saturating_d_fake_final']:.3g} with the non-saturating loss.")
    return Result("Minimax against non-saturating generator loss", summary, [table], curves,
                  images, values)


def strong_discriminator(p: StrongDiscriminatorParams, ctx):
    """Lesson 14: a balanced GAN next to one whose D is much stronger (more steps, higher rate):
    the JS estimate per step and the minimax generator's gradient norm."""
    steps, every, n_img, loss = p.steps, p.eval_every, p.samples, p.loss
    setups = (("balanced", {"d_steps": 1, "lr_d": p.lr_d}),
              ("strong D", {"d_steps": p.strong_d_steps, "lr_d": p.strong_lr_d}))
    runs, images = {}, []
    with isolated_rng(device_of(ctx), ctx.seed):
        base, x, x_val = _mnist_gan(p, ctx, loss)
        for j, (name, change) in enumerate(setups):
            model = _fork(base, **change)
            rec = runs[name] = {"step": [], "js": [], "grad_g": [], "g_step": [], "d_fake": []}
            for done, m in short_run(model, steps, ctx, x=x, batch_size=p.batch_size,
                                     seed=ctx.seed, name=name, report_every=5,
                                     span=(j / len(setups), (j + 1) / len(setups)),
                                     finite=False):
                s = done - 1  # the G step just taken, counted from 0
                rec["g_step"].append(s)
                rec["grad_g"].append(m["grad_g"])
                rec["d_fake"].append(m["d_fake"])
                if s % every == 0 or s == steps - 1:
                    # On held-out digits and fresh fakes: D's BCE without its training noise.
                    ev = model.eval_step(_sample(x_val, p.eval_batch))
                    rec["step"].append(s)
                    rec["js"].append(js_from_bce(ev["d_loss"]))
            if n_img:
                images.append(Image(f"{name}: samples after {steps} steps",
                                    _samples_image(model, n_img)))
    ctx.progress(1.0, text="done")

    curves = []
    for name, _ in setups:
        rec = runs[name]
        curves.append(Curve(f"{name}: JS estimate", np.asarray(rec["step"], float),
                            np.asarray(rec["js"]), "JS estimate log 2 − d_loss/2", "G step",
                            "nats"))
    curves.append(Curve("log 2", np.array([0.0, steps - 1.0]), np.array([LOG2, LOG2]),
                        "JS estimate log 2 − d_loss/2"))
    for name, _ in setups:
        rec = runs[name]
        curves.append(Curve(f"{name}: ‖∇G‖", np.asarray(rec["g_step"], float),
                            np.asarray(rec["grad_g"]), f"G's gradient norm ({loss} loss)",
                            "G step", "‖∇G‖", log_y=True))
    tail = max(1, steps // 10)  # the first and last tenth of the run
    rows, values = [], {}
    for name, change in setups:
        rec = runs[name]
        key = "strong" if name != "balanced" else "balanced"
        js_final = _window_mean(rec["js"], len(rec["js"]) - 2, len(rec["js"]))
        g_final = _window_mean(rec["grad_g"], steps - tail, steps)
        d_final = _window_mean(rec["d_fake"], steps - tail, steps)
        rows.append([name, change["d_steps"], change["lr_d"], js_final, LOG2 - js_final,
                     d_final, _window_mean(rec["grad_g"], 0, tail), g_final])
        values[f"{key}_js_final"] = js_final
        values[f"{key}_grad_g_final"] = g_final
        values[f"{key}_d_fake_final"] = d_final
    table = Table(["GAN", "D steps per G step", "D learning rate", "JS estimate (end)",
                   "log 2 − JS estimate", "D(G(z)) (end)", f"‖∇G‖ first {tail} steps",
                   f"‖∇G‖ last {tail} steps"], rows,
                  f"gan_mlp on mnist5k, {loss} G loss, {steps} G steps from the same weights")
    summary = (
        f"The strong discriminator wins: its JS estimate ends at {values['strong_js_final']:.4f} "
        f"(log 2 = {LOG2:.4f}) against {values['balanced_js_final']:.3f} for the balanced GAN, "
        f"and the {loss} generator's gradient norm falls to "
        f"{values['strong_grad_g_final']:.2g} against {values['balanced_grad_g_final']:.2g}. "
        "Once D separates the fakes perfectly the JS divergence is stuck at log 2 whatever G "
        "does, and G learns nothing from it.")
    return Result("A discriminator that is too strong", summary, [table], curves, images, values)
