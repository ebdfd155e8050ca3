"""The autoencoder experiments of the lessons (registered in experiments/registry.py):

- `pca_vs_linear_ae` (lesson 1): a linear autoencoder trained with squared error on mnist5k spans
  the top-k principal subspace (Baldi & Hornik 1989), but its decoder's columns are a skewed,
  unordered basis of it. Principal angles, how far each basis is from orthogonal, reconstruction
  error against PCA's, and both bases as pictures.
- `semi_supervised` (lesson 29): an autoencoder trained on every training image without labels;
  then, for a few labels per class, the same classifier on raw pixels and on the autoencoder's
  codes, averaged over random draws of the labelled set and tested on the validation split.

Qt-free; each function takes (its params dataclass, ctx) and returns an experiments.Result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from workbench.analysis.pca import fit_pca, linear_decoder_basis, principal_angles
from workbench.analysis.sheets import image_grid
from workbench.core.config import param
from workbench.core.errors import ConfigError, WorkbenchError
from workbench.data import load_dataset
from workbench.engine.short_run import short_run
from workbench.engine.trainer import isolated_rng
from workbench.experiments.registry import Context, Curve, Image, Result, Table
from workbench.models.registry import create_model, get_model_info


@dataclass(frozen=True)
class PcaVsLinearAEParams:
    k: int = param(8, min=1, max=64, quick=4, label="code size k",
                   help="Code units of the linear autoencoder, and the number of principal "
                        "components it is compared with.")
    steps: int = param(4000, min=1, max=1_000_000, quick=1200,
                       help="Adam steps: a constant rate, then a cosine decay over the last "
                            "40 % (the slowest direction settles only as the rate falls).")
    batch_size: int = param(250, min=1, max=100_000, label="batch size",
                            help="Training images per step (at most the training split).")
    lr: float = param(1e-2, min=1e-6, max=1.0, log=True, label="learning rate",
                      help="Adam's learning rate before the decay.")


@dataclass(frozen=True)
class SemiSupervisedParams:
    model: str = param("ae_conv", help="The autoencoder whose codes are the features: an "
                                       "unconditional one that encodes (ae_conv, ae_mlp, vae_mlp…).")
    latent_dim: int = param(16, min=1, max=1024, label="code size",
                            help="Code units of the autoencoder: the classifier's features.")
    steps: int = param(800, min=1, max=1_000_000, quick=40,
                       help="Training steps of the autoencoder (on every training image, no "
                            "label).")
    batch_size: int = param(64, min=1, max=100_000, label="batch size",
                            help="Training images per step.")
    labels_per_class: tuple[int, ...] = param(
        (1, 3, 10, 30, 100), min=1, max=100_000, quick=(3, 10), label="labels per class",
        help="Labelled images per class the classifiers get: one row of the table each.")
    draws: int = param(5, min=1, max=100, quick=2,
                       help="Random draws of the labelled images per count: the table shows "
                            "their mean and spread.")
    l2: float = param(1e-2, min=0.0, max=1e6, log=True, label="L2 penalty",
                      help="Weight of the logistic regression's penalty l2/2·‖W‖².")

    def check(self):
        if not self.labels_per_class:
            raise ConfigError("labels_per_class needs at least one count, each at least 1")


# == shared helpers ================================================================================
def _seeded_model(name: str, spec, seed: int, device: str = "cpu", **overrides):
    """A registered model on `device` with its initial weights drawn from `seed`, leaving the
    global torch RNG as it was (the experiment may run in a GUI worker beside other torch work)."""
    with isolated_rng(torch.device("cpu"), seed):  # built on the CPU, then moved
        model = create_model(name, spec, **overrides)
    model.to(device)
    model.setup_optimizers()
    return model


def _tiles(vectors: np.ndarray, shape=(28, 28)) -> np.ndarray:
    """A row of signed D-vectors as tiles (each scaled by its own largest |value|: mid grey = 0),
    padded in white: (H, W) floats in [0, 1]."""
    v = np.asarray(vectors, np.float64)
    scale = np.abs(v).max(1, keepdims=True)
    v = 0.5 + 0.5 * v / np.where(scale > 0, scale, 1.0)
    grid = image_grid(v.reshape(len(v), 1, *shape).astype(np.float32), nrow=len(v))
    return grid[:, :, 0].astype(np.float64) / 255.0


def _gram_abs(basis: torch.Tensor) -> np.ndarray:
    """|cos| between every two columns of a D×k basis: the k×k Gram matrix of unit columns."""
    b = basis.double()
    unit = b / b.norm(dim=0).clamp_min(1e-12)
    return (unit.T @ unit).abs().clamp(0.0, 1.0).numpy()


# == lesson 1: PCA against a linear autoencoder ====================================================
# Adam at a constant rate, then a cosine decay over the last 40 %: minibatch noise keeps the
# slowest direction (the 8th component: its variance is only 7 % above the 9th's) wobbling by a
# degree or two until the rate falls. Measured on mnist5k, k=8: at 4000 steps the largest
# principal angle is below 0.1°; a cosine decay from the start stalls it near 2.5°.
HOLD_FRACTION = 0.6
ANGLE_EVERY = 50  # steps between two points of the "angle during training" curve


def _lr_at(step: int, steps: int, lr: float) -> float:
    f = (step - HOLD_FRACTION * steps) / max((1 - HOLD_FRACTION) * steps, 1)
    return lr if f <= 0 else lr * 0.5 * (1 + math.cos(math.pi * min(f, 1.0)))


def pca_vs_linear_ae(p: PcaVsLinearAEParams, ctx: Context) -> Result:
    k, steps, lr = p.k, p.steps, p.lr
    ctx.progress(0.0, text="Loading mnist5k and fitting PCA…")
    data = load_dataset("mnist5k")
    x = data.x_train.flatten(1)
    xv = data.x_val.flatten(1)
    pca = fit_pca(x, k)
    ctx.check()

    model = _seeded_model("ae_linear", data.spec, ctx.seed, ctx.device, latent_dim=k, lr=lr)
    opt = model.optimizers["model"]

    def largest_angle() -> float:
        return float(principal_angles(linear_decoder_basis(model), pca.components).max())

    def set_rate(step: int) -> None:  # the rate of step `step` (0-based), set before it runs
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, steps, lr)

    trace_steps, trace_angle = [0], [largest_angle()]
    set_rate(0)
    for done, _ in short_run(
            model, steps, ctx, x=data.x_train.to(model.device), batch_size=p.batch_size,
            seed=ctx.seed, name="the linear autoencoder", span=(0.02, 0.97),
            report_every=ANGLE_EVERY,
            text=lambda s: f"Training the linear autoencoder: step {s}/{steps}, largest angle "
                           f"to PCA {trace_angle[-1]:.2f}°"):
        if done % ANGLE_EVERY == 0 or done == steps:
            trace_steps.append(done)
            trace_angle.append(largest_angle())
        set_rate(done)
    model.eval()
    ctx.progress(0.98, text="Comparing the two bases…")

    w = linear_decoder_basis(model).double()  # D×k decoder columns
    v = pca.components  # D×k, orthonormal, by decreasing variance
    angles = principal_angles(w, v).numpy()
    gram_ae, gram_pca = _gram_abs(w), _gram_abs(v)
    off = ~np.eye(k, dtype=bool)
    ae_cos = float(gram_ae[off].max()) if k > 1 else 0.0
    pca_cos = float(gram_pca[off].max()) if k > 1 else 0.0

    @torch.no_grad()
    def ae_mse(xs):
        # the raw linear output, not model.reconstruct (which clips to [0, 1] for display):
        # PCA's reconstruction is not clipped either
        xs_dev = xs.view(-1, *data.spec.shape).to(model.device)
        out = model.run_decoder(model.encode(xs_dev)).flatten(1).cpu()
        return float((out.double() - xs.double()).pow(2).mean())

    def pca_mse(xs):
        c = xs.double() - pca.mean
        return float((c - c @ v @ v.T).pow(2).mean())

    total_var = float((x.double() - pca.mean).pow(2).mean())  # per pixel, the "keep nothing" mse
    mse = {"pca": (pca_mse(x), pca_mse(xv)), "ae": (ae_mse(x), ae_mse(xv))}
    explained = {key: 1.0 - m[0] / total_var for key, m in mse.items()}

    ratio = pca.explained_variance_ratio.numpy()
    # variance of the training data along each (unit) decoder column, in code-unit order: PCA's
    # components come sorted by it, nothing in the autoencoder's loss sorts its columns
    unit_w = w / w.norm(dim=0).clamp_min(1e-12)
    along = ((x.double() - pca.mean) @ unit_w).var(0).numpy()
    ordered = bool(np.all(np.diff(along) <= 0))
    angle_table = Table(
        ["#", "principal angle (°)", "PCA component's variance", "share of the variance",
         "variance along decoder column #"],
        [[i + 1, float(angles[i]), float(pca.explained_variance[i]), float(ratio[i]),
          float(along[i])] for i in range(k)],
        "Principal angles between the decoder's span and the top-k PCA subspace")
    recon_table = Table(
        ["basis", "squared error / pixel (train)", "squared error / pixel (validation)",
         "variance explained (train)", "largest |cos| between basis vectors"],
        [[f"PCA, top {k}", mse["pca"][0], mse["pca"][1], explained["pca"], pca_cos],
         [f"linear AE, {k} code units", mse["ae"][0], mse["ae"][1], explained["ae"], ae_cos]],
        "Reconstruction and orthogonality")
    idx = np.arange(1, k + 1, dtype=np.float64)
    curves = [
        Curve("principal angle", idx, angles.astype(np.float64), "Principal angles",
              "angle number (ascending)", "angle (degrees)"),
        Curve("largest principal angle", np.asarray(trace_steps, np.float64),
              np.asarray(trace_angle), "Largest principal angle during training",
              "training step", "angle (degrees)"),
    ]
    images = [
        Image(f"Top {k} PCA components (mid grey = 0)", _tiles(v.T.numpy())),
        Image(f"The linear AE's {k} decoder columns (mid grey = 0)", _tiles(w.T.numpy())),
        Image("|cos| between PCA components (white = 1)", gram_pca),
        Image("|cos| between decoder columns (white = 1)", gram_ae),
    ]
    max_angle = float(angles.max())
    if max_angle < 5.0:
        first = (f"After {steps} steps the linear autoencoder's {k} decoder columns span almost "
                 f"the same subspace as the top {k} principal components (largest principal "
                 f"angle {max_angle:.2f}°)")
    else:
        first = (f"After {steps} steps the linear autoencoder has not yet found the top-{k} "
                 f"principal subspace (largest principal angle {max_angle:.1f}°; more steps "
                 "would close it)")
    as_well = mse["ae"][0] < 1.02 * mse["pca"][0]
    summary = (
        f"{first}. It reconstructs {'about as well as' if as_well else 'worse than'} "
        f"PCA (squared error per pixel {mse['ae'][0]:.5f} against {mse['pca'][0]:.5f}; "
        f"{explained['ae']:.1%} against {explained['pca']:.1%} of the variance). "
        f"Its basis is not PCA's: the columns are "
        + (f"not orthogonal (largest |cos| {ae_cos:.2f}, PCA's {pca_cos:.1e})" if ae_cos >= 0.02
           else f"nearly orthogonal in this run (largest |cos| {ae_cos:.3f}), though nothing "
                "asks them to be")
        + (" and not ordered by variance" if not ordered
           else " and happen to come in order of variance")
        + ": any invertible mix of the components reconstructs equally well.")
    ctx.progress(1.0, text="Done")
    return Result(
        title=f"PCA versus a linear autoencoder (k = {k})", summary=summary,
        tables=[recon_table, angle_table], curves=curves, images=images,
        values={"max_angle_deg": max_angle, "mean_angle_deg": float(angles.mean()),
                "ae_mse": mse["ae"][0], "pca_mse": mse["pca"][0],
                "ae_mse_val": mse["ae"][1], "pca_mse_val": mse["pca"][1],
                "ae_explained": explained["ae"], "pca_explained": explained["pca"],
                "ae_max_cos": ae_cos, "pca_max_cos": pca_cos})


# == lesson 29: semi-supervised learning with few labels ===========================================
@torch.no_grad()
def _encode_all(model, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    return torch.cat([model.encode(c.to(model.device)).float().cpu() for c in x.split(batch)])


def fit_logistic(features: torch.Tensor, labels: torch.Tensor, num_classes: int,
                 l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression, mean cross-entropy + l2/2·‖W‖² (bias not penalised),
    fitted to convergence by L-BFGS: (W (D×C), b (C,)). Deterministic, no learning rate."""
    f = features.double()
    w = torch.zeros(f.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, tolerance_grad=1e-6,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (torch.nn.functional.cross_entropy(f @ w + b, labels)
                + 0.5 * l2 * w.pow(2).sum())
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return w.detach(), b.detach()


def _accuracy(w, b, features, labels) -> float:
    return float(((features.double() @ w + b).argmax(1) == labels).double().mean())


def semi_supervised(p: SemiSupervisedParams, ctx: Context) -> Result:
    name, latent, steps, draws = p.model, p.latent_dim, p.steps, p.draws
    try:
        cls = get_model_info(name).model_cls
    except WorkbenchError:
        raise ConfigError(f"model {name!r} is not registered; use an autoencoder such as "
                          "ae_conv or ae_mlp") from None
    if not callable(getattr(cls, "encode", None)) or cls.conditional:
        raise ConfigError(f"{name} cannot encode an image without its label: the features must "
                          "come from an unconditional autoencoder (ae_conv, ae_mlp, vae_mlp…)")
    counts = sorted(set(p.labels_per_class))

    ctx.progress(0.0, text="Loading mnist5k…")
    data = load_dataset("mnist5k")
    x, y, xv, yv = data.x_train, data.y_train, data.x_val, data.y_val
    ncls = data.spec.num_classes
    per_class = [np.flatnonzero(y.numpy() == c) for c in range(ncls)]
    if counts[-1] > min(len(i) for i in per_class):
        raise ConfigError(f"labels_per_class {counts[-1]} is more than the training split has "
                          f"for some class ({min(len(i) for i in per_class)})")

    # 1) the autoencoder sees every training image and no label
    model = _seeded_model(name, data.spec, ctx.seed, device=ctx.device, latent_dim=latent)
    loss = float("nan")
    for _, m in short_run(model, steps, ctx, x=x.to(model.device), batch_size=p.batch_size,
                          seed=ctx.seed, name=f"the autoencoder {name}", span=(0.0, 0.6),
                          text=lambda s: f"Training {name} without labels: step {s}/{steps}, "
                                         f"loss {loss:.2f}"):
        loss = m["loss"]
    model.eval()
    ctx.check()
    ctx.progress(0.6, text="Encoding the images…")
    z, zv = _encode_all(model, x), _encode_all(model, xv)
    # Code units have arbitrary scales; standardise them with statistics of all (unlabelled)
    # training codes, so one L2 penalty treats them alike. Pixels already share the scale [0, 1].
    mu, sd = z.mean(0), z.std(0).clamp_min(1e-6)
    feats = {"pixels": (x.flatten(1), xv.flatten(1)), "ae": ((z - mu) / sd, (zv - mu) / sd)}

    # 2) the same classifier on the same few labelled images, pixels against codes
    acc = {key: np.zeros((len(counts), draws)) for key in feats}
    jobs, done = len(counts) * draws, 0
    for i, n in enumerate(counts):
        for d in range(draws):
            rng = np.random.default_rng([ctx.seed, n, d])
            idx = torch.from_numpy(np.concatenate([rng.choice(p, n, replace=False)
                                                   for p in per_class]))
            for key, (f, fv) in feats.items():
                ctx.check()
                w, b = fit_logistic(f[idx], y[idx], ncls, p.l2)
                acc[key][i, d] = _accuracy(w, b, fv, yv)
            done += 1
            ctx.progress(0.6 + 0.4 * done / jobs, text=f"Classifiers: {n} label(s) per class, "
                                                  f"draw {d + 1}/{draws}")

    mean = {k: a.mean(1) for k, a in acc.items()}
    spread = {k: a.std(1) for k, a in acc.items()}
    diff = acc["ae"] - acc["pixels"]  # paired: the same labelled images for both
    rows = [[n, n * ncls, float(mean["pixels"][i]), float(spread["pixels"][i]),
             float(mean["ae"][i]), float(spread["ae"][i]), float(diff[i].mean()),
             int((diff[i] > 0).sum())] for i, n in enumerate(counts)]
    table = Table(["labels per class", "labelled images", "pixels: accuracy", "pixels: ±",
                   f"{name} codes: accuracy", f"{name} codes: ±", "difference (codes − pixels)",
                   f"draws won by codes (of {draws})"], rows,
                  f"Validation accuracy of logistic regression ({len(yv)} images; mean and "
                  f"standard deviation over {draws} draws of the labelled set)")
    cx = np.asarray(counts, np.float64)
    plot = "Validation accuracy against labels per class"
    curves = [Curve("raw pixels", cx, mean["pixels"], plot, "labels per class",
                    "validation accuracy", log_x=True),
              Curve(f"{name} codes (standardised)", cx, mean["ae"], plot,
                    "labels per class", "validation accuracy", log_x=True)]
    per_class_examples = np.stack([x[p[0]].numpy() for p in per_class])
    with torch.no_grad():
        recon = model.reconstruct(xv[:10].to(model.device)).float().cpu().numpy()

    def picture(arr, nrow):
        return image_grid(arr, nrow=nrow)[:, :, 0].astype(np.float64) / 255.0

    images = [Image("One training image per class (what a single label per class looks like)",
                    picture(per_class_examples, ncls)),
              Image(f"Validation digits (top) and {name}'s reconstructions from "
                    f"{latent}-number codes (bottom)",
                    picture(np.concatenate([xv[:10].numpy(), recon]), 10))]

    wins = [n for i, n in enumerate(counts) if diff[i].mean() > 0]
    losses = [n for n in counts if n not in wins]
    unclear = [n for i, n in enumerate(counts)
           if abs(diff[i].mean()) <= max(spread["ae"][i], spread["pixels"][i])]
    gap = ", ".join(f"{100 * d:+.1f} points at {n}" for n, d in zip(counts, diff.mean(1)))
    if not losses:
        verdict = (f"The classifier on {name}'s codes beats the same classifier on raw pixels "
                   f"at every label count tried (accuracy difference per labels per class: {gap}).")
    elif not wins:
        verdict = (f"In this run the codes of {name} do not beat raw pixels at any label count "
                   f"({gap}): the autoencoder's features did not help here.")
    else:
        verdict = (f"The codes of {name} win with {', '.join(map(str, wins))} label(s) per class "
                   f"and not with {', '.join(map(str, losses))} (difference: {gap}).")
    note = (f" At {', '.join(map(str, unclear))} per class the difference is within one standard "
            "deviation of the draws, so it is not conclusive." if unclear else "")
    summary = (f"{name} was trained on all {len(x)} training images without labels ({steps} "
               f"steps); then logistic regression was fitted to a few labelled images, on "
               f"pixels and on the {latent}-number codes. {verdict}{note}")
    values = {"ae_loss": float(loss)}
    for i, n in enumerate(counts):
        values[f"acc_pixels_{n}"] = float(mean["pixels"][i])
        values[f"acc_ae_{n}"] = float(mean["ae"][i])
    ctx.progress(1.0, text="Done")
    return Result(title=f"Semi-supervised: {name} features with few labels", summary=summary,
                  tables=[table], curves=curves, images=images, values=values)
