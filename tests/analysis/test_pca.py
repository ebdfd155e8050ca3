"""PCA and the linear autoencoder: same subspace, different (non-orthogonal) basis."""

import torch

from workbench.analysis.pca import (compare_with_pca, fit_pca, max_abs_cosine,
                                    principal_angles)
from workbench.models.registry import create_model
from workbench.data.spec import DataSpec

torch.set_num_threads(1)


def _low_rank_data(n=2000, dim=24, rank=4, seed=0):
    """Points near a rank-4 subspace with distinct variances along its directions."""
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(dim, rank, generator=g))
    scales = torch.tensor([3.0, 2.5, 2.0, 1.5])
    codes = torch.randn(n, rank, generator=g) * scales
    return codes @ basis.T + 0.05 * torch.randn(n, dim, generator=g) + 1.0, basis


def test_fit_pca_recovers_the_subspace_with_an_orthonormal_basis():
    x, basis = _low_rank_data()
    pca = fit_pca(x, 4)
    assert principal_angles(pca.components, basis).max() < 1.0
    assert torch.allclose(pca.components.T @ pca.components, torch.eye(4, dtype=torch.float64),
                          atol=1e-10)
    assert (pca.explained_variance[:-1] >= pca.explained_variance[1:]).all()
    assert pca.explained_variance_ratio.sum() > 0.99


def test_principal_angles_of_known_planes():
    e = torch.eye(3)
    tilt = torch.stack([e[0], torch.tensor([0.0, 0.5 ** 0.5, 0.5 ** 0.5])], 1)
    angles = principal_angles(e[:, :2], tilt)
    assert torch.allclose(angles, torch.tensor([0.0, 45.0], dtype=torch.float64), atol=1e-6)
    assert max_abs_cosine(e[:, :2]) == 0.0


def test_trained_linear_autoencoder_spans_the_principal_subspace_in_a_skewed_basis():
    x, _ = _low_rank_data()
    torch.manual_seed(0)
    model = create_model("ae_linear", DataSpec(shape=(24,), kind="points"),
                         latent_dim=4, lr=3e-2)
    model.setup_optimizers()
    before = compare_with_pca(model, x)
    for _ in range(500):
        model.train_step(x, None)
    after = compare_with_pca(model, x)
    assert before.max_angle_deg > 45.0
    assert after.max_angle_deg < 5.0, after
    assert after.pca_max_cos < 1e-8  # PCA's basis is orthogonal...
    assert after.ae_max_cos > 0.05, after  # ...the autoencoder's is not
