"""PCA, and how a linear autoencoder's decoder compares with it (Baldi & Hornik 1989).

A linear autoencoder trained with squared error spans the same subspace as the top-k principal
components, but its basis (the decoder's columns) is any basis of that subspace: neither
orthogonal nor ordered by variance. `compare_with_pca` measures both facts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PCA:
    mean: torch.Tensor  # (D,)
    components: torch.Tensor  # (D, k): orthonormal columns, by decreasing variance
    explained_variance: torch.Tensor  # (k,)
    explained_variance_ratio: torch.Tensor  # (k,)


def fit_pca(x: torch.Tensor, k: int | None = None) -> PCA:
    """PCA of N examples (any shape per example) by SVD of the centred N×D data matrix."""
    x = x.detach().flatten(1).double()
    mean = x.mean(0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    var = s.pow(2) / max(x.shape[0] - 1, 1)
    k = vh.shape[0] if k is None else k
    return PCA(mean, vh[:k].T, var[:k], var[:k] / var.sum())


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles in degrees (ascending) between the column spaces of a (D×p), b (D×q)."""
    qa, _ = torch.linalg.qr(a.double())
    qb, _ = torch.linalg.qr(b.double())
    cos = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cos))  # cosines come descending: angles ascending


def max_abs_cosine(basis: torch.Tensor) -> float:
    """Largest |cos| between two distinct columns: 0 for an orthogonal basis."""
    unit = basis.double() / basis.double().norm(dim=0).clamp_min(1e-12)
    gram = unit.T @ unit
    return float((gram - torch.diag(torch.diag(gram))).abs().max()) if gram.shape[0] > 1 else 0.0


@torch.no_grad()
def linear_decoder_basis(model) -> torch.Tensor:
    """The D×k matrix W of a linear decoder x̂ = W z + b, read off as decoder(e_j) − decoder(0)."""
    k = model.latent_dim
    eye = torch.cat([torch.zeros(1, k), torch.eye(k)]).to(model.device)
    out = model.run_decoder(eye).flatten(1).cpu()
    return (out[1:] - out[:1]).T


@dataclass(frozen=True)
class PCAComparison:
    angles_deg: tuple[float, ...]  # principal angles, ascending
    max_angle_deg: float
    ae_max_cos: float  # between distinct decoder columns: > 0, the AE basis is not orthogonal
    pca_max_cos: float  # ≈ 0: principal directions are orthogonal
    pca_explained: float  # fraction of the variance in the top-k principal subspace


def compare_with_pca(model, x: torch.Tensor) -> PCAComparison:
    """Compare a trained linear autoencoder's decoder subspace with the top-k PCA of `x`."""
    w = linear_decoder_basis(model)
    pca = fit_pca(x, w.shape[1])
    angles = principal_angles(w, pca.components)
    return PCAComparison(
        angles_deg=tuple(angles.tolist()), max_angle_deg=float(angles.max()),
        ae_max_cos=max_abs_cosine(w), pca_max_cos=max_abs_cosine(pca.components),
        pca_explained=float(pca.explained_variance_ratio.sum()))


__all__ = ["PCA", "PCAComparison", "compare_with_pca", "fit_pca", "linear_decoder_basis",
           "max_abs_cosine", "principal_angles"]
