"""The GAN dynamics lab's engine: a 2-D GAN stepped by hand (D, G or both), reconfigured live,
and drawn from snapshots (real and fake points, D's map, G's warped z grid, the gradient field
on the fakes, mode metrics).

Qt-free. Not thread-safe by design: the lab panel calls every method from one worker thread (it
owns the lab), so nothing here locks. Snapshots never move the global torch RNG (they use noise
fixed at reset), so how often the UI draws does not change the training run: `reset(seed)`
followed by the same calls reproduces the same weights.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch

from workbench.analysis.modes import N_SAMPLES, ModeReport, mode_report_for
from workbench.core import config as C
from workbench.core.device import resolve_device
from workbench.core.errors import ConfigError
from workbench.core.seeding import seed_everything
from workbench.data import load_dataset
from workbench.models.gan.nets import FakeReplay
from workbench.models.gan.nets import pack as pack_inputs
from workbench.models.registry import create_model, get_config, get_model_info

HISTORY_MAX = 100_000  # entries kept in `history` (the oldest are dropped beyond it)
REAL_SHOWN = 1000      # real points in a snapshot: enough to see the data, cheap to draw


@dataclass
class LabSnapshot:
    """Everything the lab panel draws, as float32 numpy arrays (CPU)."""

    step: int
    real: np.ndarray          # (m, 2) real samples (a fixed subset chosen at reset)
    fake: np.ndarray          # (n, 2) G(z) for fixed z, from the training G (what D judges)
    extent: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax of the view (fixed per data)
    d_map: np.ndarray         # (grid, grid): D at the cell centres; d_map[i, j] is at y_i, x_j
    d_map_kind: str           # "probability" (sigmoid of D's logit) or "critic" (raw output)
    manifold: np.ndarray      # (manifold, manifold, 2): G over a z grid, [i, j] ↔ (a_j, b_i)
    manifold_density: np.ndarray  # (manifold−1, manifold−1): relative density per cell, in (0, 1]
    arrow_pos: np.ndarray     # (arrows, 2): fakes (the first `arrows` rows of `fake`)
    arrow_vec: np.ndarray     # (arrows, 2): −∇ₓ of the generator's loss at each fake
    modes: ModeReport | None  # mode metrics of n samples as `sample` draws them (EMA G if any)
    metrics: dict[str, float] = field(default_factory=dict)  # the latest D and G step values


class GanLab:
    """One 2-D GAN under the user's hands.

    `step` counts generator updates (= full train steps; step_d alone does not advance it);
    `d_updates` counts discriminator updates. `history` holds one dict of floats per call of
    step_d / step_g and per train step of step_both, each with "step" and "player" (0 = D,
    1 = G, 2 = both); it keeps the newest HISTORY_MAX entries.
    """

    def __init__(self, dataset: str = "grid25", model: str = "toy_gan",
                 config: dict | None = None, seed: int = 0, batch_size: int | None = None,
                 device: str = "cpu"):
        self.device = resolve_device(device)
        self.dataset_name = dataset
        self.model_name = model
        self.overrides: dict = dict(config or {})
        self.seed = seed
        self._batch_size_arg = batch_size
        self.model = None
        self.reset(seed)

    # -- set-up ---------------------------------------------------------------------------------
    def reset(self, seed: int | None = None, dataset: str | None = None,
              model: str | None = None) -> None:
        """Fresh networks from `seed` (the current one when None); optionally another dataset
        or model. A new model starts from its own defaults (the live changes made with
        set_config belong to the old recipe and are dropped); a new dataset keeps them."""
        if model is not None and model != self.model_name:
            self.model_name, self.overrides = model, {}
        if dataset is not None and (dataset != self.dataset_name or not hasattr(self, "data")):
            self.dataset_name = dataset
            self.data = None
        if seed is not None:
            self.seed = int(seed)
        info = get_model_info(self.model_name)
        if getattr(self, "data", None) is None:
            data = load_dataset(self.dataset_name)
            if data.spec.kind != "points" or data.spec.shape != (2,):
                raise ConfigError(f"the GAN lab draws 2-D points; {self.dataset_name} holds "
                                  f"{data.spec.kind} of shape {tuple(data.spec.shape)}")
            self.data = data.to(self.device)
        config = get_config(self.model_name, **self.overrides)
        seed_everything(self.seed)
        self.model = create_model(self.model_name, data=self.data.spec, config=config)
        self.model.to(self.device).train()
        self.model.setup_optimizers()
        self.batch_size = int(self._batch_size_arg or info.batch_size or 128)
        # Batches, and the fixed noise and real subset that snapshots draw, have their own
        # generators: the global RNG (D's and G's noise) is touched by training alone.
        self._batch_gen = torch.Generator().manual_seed(self.seed * 7919 + 1)
        snap = torch.Generator().manual_seed(self.seed * 7919 + 2)
        n = self.data.n_train
        self._real_idx = torch.randperm(n, generator=snap)[:min(REAL_SHOWN, n)]
        # G's whole input (z, then any codes or mixture component), fixed for smooth drawing.
        self._z = self.model.draw_codes(N_SAMPLES, generator=snap)[0].cpu()
        self._make_z_plane(snap)
        self.extent = self._view_extent()
        self.step = 0
        self.d_updates = 0
        self.history: list[dict[str, float]] = []
        self._last_d: dict[str, float] = {}
        self._last_g: dict[str, float] = {}

    def _make_z_plane(self, gen: torch.Generator) -> None:
        """Two orthonormal directions spanning the z plane the manifold view shows: the first
        two axes when z is 2-D, otherwise two fixed random directions."""
        d = self.model.config.latent_dim
        if d <= 2:
            self._z_basis = torch.eye(2)[:, :d] if d == 2 else torch.tensor([[1.0], [0.0]])
        else:
            q, _ = torch.linalg.qr(torch.randn(d, 2, generator=gen))
            self._z_basis = q.T.contiguous()  # (2, d)

    def _view_extent(self) -> tuple[float, float, float, float]:
        """The data's bounding box (0.5 % to 99.5 % quantiles) plus a 25 % margin, squared up so
        that the map's cells are square."""
        x = self.data.x_train.float().cpu()
        lo = torch.quantile(x[:20_000], 0.005, dim=0)
        hi = torch.quantile(x[:20_000], 0.995, dim=0)
        centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2 * 1.25 + 1e-3
        cx, cy = float(centre[0]), float(centre[1])
        return (cx - half, cx + half, cy - half, cy + half)

    # -- stepping ---------------------------------------------------------------------------------
    def _batch(self):
        idx = torch.randint(self.data.n_train, (self.batch_size,), generator=self._batch_gen)
        idx = idx.to(self.device)
        x = self.data.x_train[idx]
        y = self.data.y_train[idx] if self.model.conditional else None
        return self.model.whole_packs(x, y)

    def _record(self, player: int, values: dict[str, float]) -> None:
        self.history.append({"step": float(self.step), "player": float(player), **values})
        if len(self.history) > HISTORY_MAX + HISTORY_MAX // 10:
            del self.history[:len(self.history) - HISTORY_MAX]  # amortised trimming

    def _prepare(self) -> None:
        if not self.model.training:  # snapshot() restores the mode: skip the module walk
            self.model.train()
        if hasattr(self.model, "apply_lr") and self.model.config.lr_decay_start:
            self.model.apply_lr()

    def step_d(self) -> dict[str, float]:
        """One discriminator update on a fresh batch (G's weights do not change)."""
        self._prepare()
        x, y = self._batch()
        d = self.model.d_step(x, y)
        out = _floats({k: d[k] for k in ("d_loss", "d_real", "d_fake", "grad_d", "penalty")})
        self.d_updates += 1
        self._last_d = out
        self._record(0, out)
        return dict(out)

    def step_g(self) -> dict[str, float]:
        """One generator update (D's weights do not change; with unrolling, D is looked ahead
        and restored as in a train step). Advances `step`, the EMA of G and the noise decay."""
        self._prepare()
        m = self.model
        x, y = self._batch()
        g = m.g_update(x, y)
        if m.g_ema is not None:
            m.update_ema()
        m.steps += 1
        self.step += 1
        out = _floats(g)
        self._last_g = out
        self._record(1, out)
        return dict(out)

    def step_both(self, n: int = 1) -> dict[str, float]:
        """n full train steps (d_steps D updates, then one G update, each); returns the last."""
        out: dict[str, float] = {}
        for _ in range(max(int(n), 0)):
            self._prepare()
            x, y = self._batch()
            out = self.model.train_step(x, y)
            self.step += 1
            self.d_updates += self.model.config.d_steps
            self._last_d = {k: out[k] for k in ("d_loss", "d_real", "d_fake", "grad_d", "penalty")
                            if k in out}
            self._last_g = {k: out[k] for k in ("g_loss", "grad_g", "info") if k in out}
            self._record(2, out)
        return dict(out)

    # -- live configuration -----------------------------------------------------------------------
    @property
    def config(self):
        return self.model.config

    def set_config(self, **changes) -> None:
        """Change any config field while keeping the weights where the shapes allow.

        Losses, stabilisers, learning rates and Adam's betas switch in place (the optimisers keep
        their moments; a new optimiser kind starts fresh ones). Turning on EMA starts the average
        at the current G; turning on replay starts an empty buffer. `pack`, `minibatch_std`,
        `d_norm` and the other D-only layers change D's input or layers: D is rebuilt from
        scratch (G kept). Layer sizes, latent_dim, the mixture prior and init rebuild both
        players (like reset with the current seed).
        """
        if not changes:
            return
        m = self.model
        old = m.config
        new = C.replace(old, **changes)  # validates: a bad value raises ConfigError, nothing moves
        self.overrides.update(changes)
        changed = {k for k in changes if getattr(old, k) != getattr(new, k)}
        # Fields that change a network's shape say so in their metadata (param(rebuild=...)).
        marks = C.field_metadata(new, "rebuild")
        rebuild = {marks.get(k) for k in changed}
        if "all" in rebuild:
            self.reset()
            return
        m.config = new
        if "d" in rebuild:
            self._rebuild_d()
        if "optimizer" in changed:
            m.setup_optimizers()
        else:
            for name, lr in (("G", new.lr_g), ("D", new.lr_d)):
                for group in m.optimizers[name].param_groups:
                    group["lr"] = lr
                    if "betas" in group:
                        group["betas"] = (new.beta1, new.beta2)
        if hasattr(m, "apply_lr"):
            m.apply_lr()
        if "ema_decay" in changed:
            m.g_ema = copy.deepcopy(m.G).requires_grad_(False) if new.ema_decay > 0 else None
        if "replay_size" in changed:
            m.replay = FakeReplay(new.replay_size, m.data.shape).to(self.device) \
                if new.replay_size else None

    def _rebuild_d(self) -> None:
        """A fresh D for the new config (taken from a freshly built model, so D is made
        exactly as the model family makes it), with a fresh optimiser."""
        m = self.model
        fresh = create_model(self.model_name, data=self.data.spec, config=m.config)
        m.D = fresh.D.to(self.device)
        m.optimizers["D"] = m.optimizer_for(m.D.parameters(), m.config.lr_d)

    # -- drawing ----------------------------------------------------------------------------------
    def snapshot(self, n: int = N_SAMPLES, grid: int = 64, arrows: int = 256,
                 manifold: int = 24) -> LabSnapshot:
        m = self.model
        was_training = m.training
        m.eval()  # the toy nets have no batch norm or dropout; this is for models that do
        try:
            z = self._noise(n)
            with torch.no_grad():
                fake = m.generate(z)
                sampled = fake if m.g_ema is None else m.generate(z, net=m.g_ema)
                d_map = self._d_map(grid)
                man, dens = self._manifold(manifold)
            pos, vec = self._arrows(z[:min(arrows, n)])
        finally:
            m.train(was_training)
        real = self.data.x_train[self._real_idx[:n]]
        return LabSnapshot(
            step=self.step, real=_np(real), fake=_np(fake), extent=self.extent,
            d_map=_np(d_map), d_map_kind="probability" if m.objective.sigmoid else "critic",
            manifold=_np(man), manifold_density=_np(dens), arrow_pos=_np(pos),
            arrow_vec=_np(vec), modes=mode_report_for(self.data, _np(sampled)),
            metrics={**self._last_d, **self._last_g})

    def _noise(self, n: int) -> torch.Tensor:
        if n > self._z.shape[0]:  # more than the fixed set: extend it deterministically
            g = torch.Generator().manual_seed(self.seed * 7919 + 3)
            extra = self.model.draw_codes(n - self._z.shape[0], generator=g)[0].cpu()
            self._z = torch.cat([self._z, extra])
        return self._z[:n].to(self.device)

    def _judge_points(self, x: torch.Tensor) -> torch.Tensor:
        """D's raw output for each point: a packed D sees the point repeated in every slot."""
        m = self.model
        pack = m.config.pack
        if pack > 1:
            x = x.repeat_interleave(pack, dim=0)
        if not m.D.batch_dependent:
            return m.discriminate(x)
        # Minibatch layers compare a sample with the rest of its batch. Judge each point as one
        # more member of a batch of the current fakes, as training shows D: not as one of a
        # batch of grid points (a different question, and O(N²): 4096² pairs per kernel).
        ref = m.generate(self._noise(self.batch_size))
        return m.D(pack_inputs(x.flatten(1), pack), reference=pack_inputs(ref.flatten(1), pack))

    def _d_map(self, grid: int) -> torch.Tensor:
        x0, x1, y0, y1 = self.extent
        xs = torch.linspace(x0, x1, grid + 1)[:-1] + (x1 - x0) / grid / 2  # cell centres
        ys = torch.linspace(y0, y1, grid + 1)[:-1] + (y1 - y0) / grid / 2
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1).to(self.device)
        out = self._judge_points(pts).view(grid, grid)
        return torch.sigmoid(out) if self.model.objective.sigmoid else out

    def _manifold(self, k: int):
        """G over a k×k grid of the z plane spanning [−3, 3]² and each cell's relative density
        p(z-cell) / area(G(cell)), normalised to a maximum of 1 (the pushed-forward density
        of the prior, up to a constant). G's other inputs (codes, a mixture component) are
        held at those of the first fixed sample: with a mixture prior this is one
        component's sheet."""
        m = self.model
        a = torch.linspace(-3.0, 3.0, k)
        bb, aa = torch.meshgrid(a, a, indexing="ij")  # row i ↔ b_i, column j ↔ a_j
        coords = torch.stack([aa.reshape(-1), bb.reshape(-1)], 1)  # (k*k, 2)
        z = coords @ self._z_basis
        codes = self._z[:1, z.shape[1]:].expand(z.shape[0], -1)
        z = torch.cat([z, codes], 1).to(self.device)
        pts = m.generate(z).view(k, k, 2).float().cpu()
        p00, p01, p11, p10 = pts[:-1, :-1], pts[:-1, 1:], pts[1:, 1:], pts[1:, :-1]
        # Shoelace formula of the warped quadrilateral (corners in order).
        cross = lambda u, v: u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]  # noqa: E731
        area = 0.5 * (cross(p00, p01) + cross(p01, p11) + cross(p11, p10) + cross(p10, p00)).abs()
        centres = (coords.view(k, k, 2)[:-1, :-1] + coords.view(k, k, 2)[1:, 1:]) / 2
        prior = torch.exp(-0.5 * centres.pow(2).sum(-1))  # N(0, I) in the plane, up to a constant
        dens = prior / area.clamp_min(1e-12)
        dens = dens / dens.max().clamp_min(1e-30)
        return pts, dens

    def _arrows(self, z: torch.Tensor):
        """Fakes G(z) and −∇ₓ of the generator loss each contributes (its own term, not the
        batch mean, so an arrow does not shrink with the number of arrows): where D's gradient
        pushes that sample. A packed D judges the fakes `pack` at a time."""
        m = self.model
        with torch.no_grad():
            x = m.generate(z)
        pack = m.config.pack
        k = x.shape[0] // pack * pack
        x = x[:max(k, 1)].detach().requires_grad_(True)
        with torch.enable_grad():
            loss = m.objective.g_loss(m.discriminate(x))
            groups = loss.new_tensor(float(max(x.shape[0] // pack, 1)))
            (grad,) = torch.autograd.grad(loss * groups, x)  # the mean → the per-group sum
        return x.detach(), -grad


def _floats(values: dict) -> dict[str, float]:
    return {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in values.items()}


def _np(t) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t.astype(np.float32, copy=False)
    return t.detach().float().cpu().numpy()

