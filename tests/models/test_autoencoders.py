"""The autoencoder family: latent size 2 everywhere, denoising and sparsity doing their job."""

import pytest
import torch

from workbench.core.errors import ConfigError
from workbench.models.registry import create_model, get_model_info, list_models
from workbench.data import load_dataset

AES = [n for n in list_models() if get_model_info(n).family == "autoencoder"]


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("mnist5k")
    return d.x_train[:1024], d.x_val[:256]


def _train(model, x, steps, batch=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    model.setup_optimizers()
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=g)
        values = model.train_step(x[idx], None)
    model.eval()
    return values


def test_the_autoencoder_variants_are_registered():
    assert {"ae_linear", "ae_mlp", "ae_conv", "ae_denoising", "ae_sparse"} <= set(AES)


@pytest.mark.parametrize("name", AES)
def test_every_autoencoder_takes_a_2d_latent(name):
    torch.manual_seed(0)
    model = create_model(name, latent_dim=2)
    model.setup_optimizers()
    x = torch.rand(4, 1, 28, 28)
    assert model.train_step(x, None)["loss"] > 0
    with torch.no_grad():
        assert model.encode(x).shape == (4, 2)


def test_linear_autoencoder_has_no_nonlinearity():
    torch.manual_seed(0)
    model = create_model("ae_linear", latent_dim=3)
    z = torch.randn(5, 3)
    with torch.no_grad():
        out = model.run_decoder(2 * z) - model.run_decoder(z)  # linear: W(2z) + b − (Wz + b) = Wz
        ref = model.run_decoder(z) - model.run_decoder(torch.zeros(5, 3))
    assert torch.allclose(out, ref, atol=1e-5)


def test_mask_corruption_level_must_stay_below_one():
    with pytest.raises(ConfigError, match="below 1"):
        create_model("ae_denoising", corruption="mask", noise_level=1.0)


@pytest.mark.parametrize("corruption,level", [("gaussian", 0.5), ("mask", 0.5)])
def test_denoising_autoencoder_output_is_closer_to_the_clean_digits(digits, corruption, level):
    train, val = digits
    torch.manual_seed(0)
    model = create_model("ae_denoising", corruption=corruption, noise_level=level,
                         hidden=(256,), latent_dim=32)
    _train(model, train, steps=300)
    with torch.no_grad():
        noisy = model.corrupt(val, generator=torch.Generator().manual_seed(1))
        denoised = model.decode(model.encode(noisy))
    assert (noisy - val).abs().sum() > 0
    err_noisy = (noisy - val).pow(2).mean()
    err_denoised = (denoised - val).pow(2).mean()
    assert err_denoised < 0.85 * err_noisy, (float(err_denoised), float(err_noisy))


@pytest.mark.parametrize("sparsity", ["kl", "l1"])
def test_sparsity_penalty_lowers_the_mean_activation(digits, sparsity):
    train, val = digits
    activations = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        model = create_model("ae_sparse", sparsity=sparsity, sparsity_weight=weight,
                             hidden=(128,), latent_dim=32)
        values = _train(model, train, steps=100)
        assert {"loss", "recon", "sparsity", "activation"} <= set(values)
        activations[weight] = model.eval_step(val, None)["activation"]
    assert activations[1.0] < 0.7 * activations[0.0], activations

