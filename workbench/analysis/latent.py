"""Taking a latent space apart: encode a dataset, decode chosen codes, project codes to 2-D
(PCA, t-SNE), cluster them (k-means and purity), walk them (traversals, linear and spherical
interpolation) and do arithmetic with them (attribute vectors).

Qt-free: the GUI's latent panels, the tests and bench/latent.py all use this module. A
`LatentProbe` wraps a CPU copy of a model in eval mode; it never touches a model being trained.
Arrays in and out are numpy (float32), so the GUI never needs to hold tensors.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from workbench.core.tasks import TaskContext
from workbench.models.registry import create_model



# == a model, ready to explore ======================================================================
class LatentProbe:
    """Encode and decode with a model in inference mode, with numpy in and out.

    `dim` is the size of a code `decode` takes (a GAN's z plus InfoGAN codes); `can_encode` /
    `can_decode` come from the model's capabilities, so panels can say what a model lacks.
    """

    def __init__(self, model, name: str = ""):
        self.model = model.eval()
        self.name = name
        self.spec = model.data
        self.can_encode = model.can("encode")
        self.can_decode = model.can("decode")
        self.dim = int(model.decode_dim) if self.can_decode else (
            int(model.latent_dim) if self.can_encode else 0)
        self.conditional = bool(model.conditional)
        self.num_classes = int(model.num_classes)
        self.has_posterior = callable(getattr(model, "encode_dist", None))

    @classmethod
    def from_snapshot(cls, snap, cache: dict | None = None) -> "LatentProbe":
        """Build (or reuse from `cache`) the model of a weights snapshot and load the weights
        into it. `snap` is anything with `.model` (the registered name), `.config`, `.spec` and
        `.state` (parameter name -> tensor or array), such as the window's ui.state.Snapshot."""
        key = (snap.model, repr(snap.config), snap.spec)
        model = cache.get(key) if cache is not None else None
        if model is None:
            model = create_model(snap.model, data=snap.spec, config=snap.config)
            if cache is not None:
                cache.clear()
                cache[key] = model
        model.load_state_dict({k: torch.as_tensor(v) for k, v in snap.state.items()})
        return cls(model, snap.model)

    def _labels(self, y, n: int):
        if not self.conditional:
            return None
        if y is None:
            y = np.zeros(n, np.int64)
        y = np.broadcast_to(np.asarray(y, np.int64), (n,))
        return torch.tensor(y, device=self.model.device)  # a copy: y may be a read-only view

    def encode(self, x, y=None, batch_size: int = 1000) -> np.ndarray:
        """Codes of N inputs (a VAE's posterior means): (N, latent_dim) float32."""
        if not self.can_encode:
            raise TypeError(f"{self.name or 'this model'} has no encoder")
        x = torch.as_tensor(np.asarray(x, np.float32))
        out = []
        with torch.inference_mode():
            for a in range(0, len(x), batch_size):
                xb = x[a:a + batch_size].to(self.model.device)
                yb = None if y is None else self._labels(np.asarray(y)[a:a + batch_size], len(xb))
                if self.conditional and yb is None:
                    yb = self._labels(None, len(xb))
                out.append(self.model.encode(xb, yb).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self.dim), np.float32)

    def decode(self, z, y=None) -> np.ndarray:
        """Data for codes z: (d,) -> (1, …) or (n, d) -> (n, …); images in [0, 1]."""
        if not self.can_decode:
            raise TypeError(f"{self.name or 'this model'} has no decoder")
        z = np.asarray(z, np.float32)
        if z.ndim == 1:
            z = z[None]
        zt = torch.as_tensor(z, device=self.model.device)
        with torch.inference_mode():
            return self.model.decode(zt, self._labels(y, len(z))).float().cpu().numpy()

    def reconstruct(self, x, y=None) -> np.ndarray:
        return self.decode(self.encode(x, y), y)

    def kl_per_dim(self, x, y=None) -> np.ndarray | None:
        """Mean KL(q(z_j|x) ‖ N(0, 1)) per dimension over x (VAEs); None for other models.
        Dimensions with KL ≈ 0 are inactive: the decoder ignores them."""
        if not self.has_posterior:
            return None
        x = torch.as_tensor(np.asarray(x, np.float32), device=self.model.device)
        with torch.inference_mode():
            return self.model.kl_per_dim(x, self._labels(y, len(x)) if self.conditional
                                         else None).float().cpu().numpy()


# == projections =====================================================================================
def pca_project(codes, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Codes projected on their top-k principal axes, and each axis's share of the variance."""
    from workbench.analysis.pca import fit_pca

    c = np.asarray(codes, np.float64)
    if c.shape[1] <= k:
        out = np.zeros((len(c), k), np.float32)
        out[:, :c.shape[1]] = c
        return out, np.ones(k) / k
    p = fit_pca(torch.as_tensor(c), k)
    xy = (torch.as_tensor(c) - p.mean) @ p.components
    return xy.float().numpy(), p.explained_variance_ratio.numpy()


def project_2d(codes) -> tuple[np.ndarray, str]:
    """What the scatter draws by default: 2-D codes as they are, more through PCA."""
    codes = np.asarray(codes, np.float32)
    if codes.shape[1] == 2:
        return codes.copy(), "codes z₁, z₂"
    if codes.shape[1] == 1:
        return np.column_stack([codes[:, 0], np.zeros(len(codes), np.float32)]), "code z₁"
    xy, ratio = pca_project(codes, 2)
    return xy, f"PCA of {codes.shape[1]}-D codes ({100 * ratio.sum():.0f}% of the variance)"


def _binary_search_affinities(d2: torch.Tensor, perplexity: float, tol: float = 1e-4,
                              iters: int = 50) -> torch.Tensor:
    """Row-wise Gaussian affinities P(j|i) whose entropy matches log(perplexity)."""
    n = d2.shape[0]
    target = math.log(perplexity)
    beta = torch.ones(n, dtype=d2.dtype)
    lo = torch.full((n,), 0.0, dtype=d2.dtype)
    hi = torch.full((n,), float("inf"), dtype=d2.dtype)
    eye = torch.eye(n, dtype=torch.bool)
    d2 = d2.masked_fill(eye, float("inf"))
    d2 = d2 - d2.min(1, keepdim=True).values  # shift per row: same P, no underflow
    for _ in range(iters):
        p = torch.exp(-d2 * beta[:, None])
        s = p.sum(1).clamp_min(1e-12)
        h = torch.log(s) + beta * (d2.nan_to_num(posinf=0.0) * p).sum(1) / s
        diff = h - target
        if diff.abs().max() < tol:
            break
        up = diff > 0  # entropy too high: sharpen (raise beta)
        lo = torch.where(up, beta, lo)
        hi = torch.where(up, hi, beta)
        beta = torch.where(torch.isinf(hi), beta * 2, (lo + hi) / 2)
    p = torch.exp(-d2 * beta[:, None])
    return p / p.sum(1, keepdim=True).clamp_min(1e-12)


def tsne(codes, perplexity: float = 30.0, iterations: int = 500, seed: int = 0,
         learning_rate: float | None = None, ctx: TaskContext | None = None) -> np.ndarray:
    """Exact t-SNE (van der Maaten & Hinton 2008) of N codes to 2-D, in float32 torch.

    O(N²) memory and time per iteration: about a second for 500 points and a minute or two for
    5000 on two cores. Early exaggeration ×12 for the first 100 iterations, momentum 0.5 → 0.8,
    per-parameter gains. `ctx` hears of progress (iterations done of all) every 10 iterations
    and is checked for a stop at each one (raising Cancelled).
    """
    ctx = ctx or TaskContext()
    x = torch.as_tensor(np.asarray(codes, np.float32))
    n = len(x)
    if n < 4:
        raise ValueError("t-SNE needs at least 4 points")
    perplexity = float(min(perplexity, (n - 1) / 3))
    x = x - x.mean(0)
    d2 = torch.cdist(x, x).pow(2)
    p = _binary_search_affinities(d2, perplexity)
    del d2
    p = (p + p.T) / (2 * n)
    p = p.clamp_min(1e-12)
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(n, 2, generator=g) * 1e-4
    velocity = torch.zeros_like(y)
    gains = torch.ones_like(y)
    lr = learning_rate or max(n / 12.0 / 4.0, 50.0)  # the "automatic" rate of Belkina et al.
    eye = torch.eye(n, dtype=torch.bool)
    for it in range(iterations):
        ctx.check()
        exaggeration = 12.0 if it < 100 else 1.0
        momentum = 0.5 if it < 250 else 0.8
        num = 1.0 / (1.0 + torch.cdist(y, y).pow(2))
        num.masked_fill_(eye, 0.0)
        q = (num / num.sum()).clamp_min(1e-12)
        w = (exaggeration * p - q) * num  # ∂C/∂y_i = 4 Σ_j w_ij (y_i − y_j)
        grad = 4.0 * (w.sum(1, keepdim=True) * y - w @ y)
        same = (grad > 0) == (velocity > 0)
        gains = torch.where(same, gains * 0.8, gains + 0.2).clamp_min(0.01)
        velocity = momentum * velocity - lr * gains * grad
        y = y + velocity
        y = y - y.mean(0)
        if it % 10 == 0 or it == iterations - 1:
            ctx.progress(it + 1, iterations)
    return y.numpy()


# == clusters ========================================================================================
def kmeans(codes, k: int, seed: int = 0, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding: (assignment (N,), centres (k, d))."""
    x = np.asarray(codes, np.float64)
    n = len(x)
    k = int(max(1, min(k, n)))
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(n)]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        probs = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
        centres.append(x[rng.choice(n, p=probs)])
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(1))
    c = np.array(centres)
    assign = np.zeros(n, np.int64)
    for it in range(iterations):
        dist = ((x[:, None, :] - c[None]) ** 2).sum(2)
        new = dist.argmin(1)
        if it and np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            members = x[assign == j]
            if len(members):
                c[j] = members.mean(0)
    return assign, c.astype(np.float32)


def cluster_purity(assign, labels) -> float:
    """Share of points whose cluster's majority label is their own label (1 = pure clusters)."""
    assign = np.asarray(assign)
    labels = np.asarray(labels)
    if len(assign) == 0:
        return float("nan")
    hits = 0
    for j in np.unique(assign):
        hits += np.bincount(labels[assign == j]).max()
    return hits / len(assign)


# == selections ======================================================================================
def points_in_polygon(points, polygon) -> np.ndarray:
    """Boolean mask of the points inside a closed polygon (even–odd rule, vectorised)."""
    pts = np.asarray(points, np.float64)
    poly = np.asarray(polygon, np.float64)
    inside = np.zeros(len(pts), bool)
    if len(poly) < 3:
        return inside
    x, y = pts[:, 0], pts[:, 1]
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1):
        crosses = (ay > y) != (by > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xi = ax + (y - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (x < xi)
    return inside


# == walks and arithmetic ============================================================================
def interpolate(z0, z1, steps: int, method: str = "linear") -> np.ndarray:
    """`steps` codes from z0 to z1 (both ends included): straight line, or slerp, which keeps
    the norm of Gaussian codes typical (a straight line passes through low-norm codes that
    a high-dimensional prior almost never draws)."""
    z0 = np.asarray(z0, np.float64)
    z1 = np.asarray(z1, np.float64)
    t = np.linspace(0.0, 1.0, max(int(steps), 2))[:, None]
    if method == "linear":
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    if method != "slerp":
        raise ValueError(f"unknown interpolation {method!r}: linear or slerp")
    n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
    if n0 < 1e-12 or n1 < 1e-12:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    omega = math.acos(float(np.clip(z0 @ z1 / (n0 * n1), -1.0, 1.0)))
    if omega < 1e-6:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    s = math.sin(omega)
    return (np.sin((1 - t) * omega) / s * z0 + np.sin(t * omega) / s * z1).astype(np.float32)


def traversal_codes(base, dims, values) -> np.ndarray:
    """Codes for a traversal grid: one row per dimension in `dims`, one column per value; each
    code is `base` with that one dimension set to the value. Shape (len(dims)·len(values), d)."""
    base = np.asarray(base, np.float32)
    values = np.asarray(values, np.float32)
    out = np.repeat(base[None], len(dims) * len(values), axis=0)
    for r, d in enumerate(dims):
        out[r * len(values):(r + 1) * len(values), d] = values
    return out


def active_dims_first(kl: np.ndarray | None, dim: int) -> list[int]:
    """Dimensions ordered by their KL (most informative first); in order without a KL."""
    if kl is None:
        return list(range(dim))
    return [int(i) for i in np.argsort(-np.asarray(kl), kind="stable")]


def attribute_vector(codes, mask_a, mask_b) -> np.ndarray:
    """mean(code | A) − mean(code | B): adding it moves a code from "B-like" towards "A-like"
    (class A − class B, or "thick − thin" from two user selections)."""
    codes = np.asarray(codes, np.float32)
    a, b = np.asarray(mask_a), np.asarray(mask_b)
    if a.dtype == bool:
        a = np.flatnonzero(a)
    if b.dtype == bool:
        b = np.flatnonzero(b)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("both sets need at least one code")
    return codes[a].mean(0) - codes[b].mean(0)
