"""The VAE family: the KL term, the importance-weighted bound, loss_terms and the CVAE's labels."""

import pytest
import torch

from workbench.models.registry import create_model, get_config
from workbench.data import load_dataset
from workbench.models.vae import kl_to_standard_normal


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("mnist5k")
    return d.x_train[:1024], d.y_train[:1024], d.x_val[:200], d.y_val[:200]


def _train(model, x, y, steps, batch=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    model.setup_optimizers()
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=g)
        values = model.train_step(x[idx], None if y is None else y[idx])
    model.eval()
    return values


def test_kl_matches_torch_distributions_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3, 4), torch.ones(3, 4))
    closed = kl_to_standard_normal(mu, logvar)
    assert torch.allclose(closed, torch.distributions.kl_divergence(q, p), atol=1e-5)
    torch.manual_seed(0)
    z = q.sample((100_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).mean(0)
    assert torch.allclose(closed, mc, atol=0.05, rtol=0.02)


def test_variants_and_defaults():
    assert get_config("beta_vae").beta > 1
    assert get_config("vae_mlp").loss_terms == "both"
    assert create_model("cvae").conditional and not create_model("vae_mlp").conditional


def test_kl_per_dim_sums_to_the_logged_kl():
    torch.manual_seed(0)
    model = create_model("vae_mlp", hidden=(64,), latent_dim=5).eval()
    x = torch.rand(16, 1, 28, 28)
    per_dim = model.kl_per_dim(x)
    assert per_dim.shape == (5,) and (per_dim >= 0).all()
    assert per_dim.sum().item() == pytest.approx(model.eval_step(x)["kl"], rel=1e-5)


def test_iwae_bounds_log_px_above_the_elbo(digits):
    x, _, xv, _ = digits
    torch.manual_seed(0)
    model = create_model("vae_mlp", hidden=(128,), latent_dim=8, iw_samples=50)
    _train(model, x, None, steps=100)
    torch.manual_seed(1)
    values = model.eval_step(xv, None, full=True)
    assert values["elbo"] == pytest.approx(-(values["recon"] + values["kl"]))
    assert values["iwae"] > values["elbo"], values
    assert values["iwae"] < 0  # a Bernoulli log-likelihood
    # k = 1 is the ELBO itself (same expectation): the bound tightens with k
    one = create_model("vae_mlp", hidden=(128,), latent_dim=8, iw_samples=1)
    one.load_state_dict(model.state_dict())
    one.eval()
    torch.manual_seed(1)
    assert one.eval_step(xv, None, full=True)["iwae"] < values["iwae"]


def test_kl_only_collapses_codes_onto_the_prior(digits):
    x, *_ = digits
    torch.manual_seed(0)
    both = create_model("vae_mlp", hidden=(64,), latent_dim=4, lr=3e-3)
    start = _train(both, x, None, steps=60)["kl"]  # codes move away from the prior
    model = create_model("vae_mlp", hidden=(64,), latent_dim=4, loss_terms="kl", lr=3e-3)
    model.load_state_dict(both.state_dict())
    values = _train(model, x, None, steps=150)
    assert values["loss"] == pytest.approx(values["kl"])
    assert start > 1.0 and values["kl"] < 0.02, (start, values)


def test_recon_only_leaves_the_kl_out_of_the_loss(digits):
    x, *_ = digits
    torch.manual_seed(0)
    model = create_model("vae_mlp", hidden=(64,), latent_dim=4, loss_terms="recon")
    model.setup_optimizers()
    values = model.train_step(x[:32], None)
    assert values["loss"] == values["recon"] and values["kl"] > 0
    # the gradient is that of the reconstruction term alone: the KL's weight β has no effect
    grads = []
    for beta in (1.0, 100.0):
        torch.manual_seed(0)
        m = create_model("vae_mlp", hidden=(64,), latent_dim=4, loss_terms="recon", beta=beta)
        torch.manual_seed(1)
        m._loss(*m._terms(x[:32], None)).backward()
        grads.append(torch.cat([p.grad.flatten() for p in m.parameters()]))
    assert torch.equal(grads[0], grads[1])


def test_cvae_needs_labels_and_draws_the_requested_label():
    torch.manual_seed(0)
    model = create_model("cvae", hidden=(64,), latent_dim=4)
    x = torch.rand(20, 1, 28, 28)
    y = torch.arange(20) % 10
    _train(model, x, y, steps=5, batch=20)
    with pytest.raises(ValueError, match="labels"):
        model.encode(x)
    with torch.no_grad():
        z = torch.randn(3, 4)
        assert not torch.allclose(model.decode(z, torch.full((3,), 2)),
                                  model.decode(z, torch.full((3,), 7)))
        for k in (2, 7):
            labels = torch.full((6,), k)
            a, b = (model.sample(6, labels=labels, generator=torch.Generator().manual_seed(4))
                    for _ in range(2))
            assert torch.equal(a, b)
            z = model.prior_noise(6, 4, torch.Generator().manual_seed(4))
            assert torch.equal(a, model.decode(z, labels))


def test_trained_cvae_samples_are_classified_as_the_requested_digit(digits):
    x, y, xv, yv = digits
    flat = x.flatten(1)
    torch.manual_seed(0)
    clf = torch.nn.Linear(784, 10)
    opt = torch.optim.Adam(clf.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(clf(flat), y).backward()
        opt.step()
    assert (clf(xv.flatten(1)).argmax(1) == yv).float().mean() > 0.8
    model = create_model("cvae", hidden=(256,), latent_dim=4)
    _train(model, x, y, steps=300)
    labels = torch.arange(200) % 10
    with torch.no_grad():
        s = model.sample(200, labels=labels, generator=torch.Generator().manual_seed(0))
        acc = (clf(s.flatten(1)).argmax(1) == labels).float().mean()
    assert acc > 0.6, float(acc)


def test_iwae_only_when_asked(digits):
    """Per-epoch validation stays cheap: the k-sample estimate comes with full=True only."""
    model = create_model("vae_mlp")
    xv = digits[2][:16]
    assert "iwae" not in model.eval_step(xv, None)
    assert "iwae" in model.eval_step(xv, None, full=True)
