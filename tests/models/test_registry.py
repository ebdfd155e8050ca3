"""The model registry: names, patterns, suggestions, configs with overrides, building for a spec."""

from __future__ import annotations

import pytest
import torch

from workbench.core import config as C
from workbench.models import registry as R
from workbench.core.errors import ConfigError
from workbench.models.registry import create_model, get_config, get_model_info, list_models
from workbench.data.spec import DataSpec

POINTS = DataSpec(shape=(2,), kind="points")


def test_list_models_is_sorted_and_complete():
    names = list_models()
    assert names == sorted(names)
    assert {"ae_mlp", "vae_mlp", "vae_conv"} <= set(names)
    assert len(names) == len(set(names))


def test_list_models_pattern():
    assert list_models("vae*") == ["vae_conv", "vae_mlp"]
    assert list_models("*_mlp") == sorted(n for n in list_models() if n.endswith("_mlp"))
    assert "ae_mlp" in list_models("*_mlp")
    assert list_models("no_such_thing*") == []


def test_model_info():
    info = get_model_info("vae_mlp")
    assert (info.name, info.family) == ("vae_mlp", "vae")
    assert get_model_info("ae_mlp").family == "autoencoder"
    assert "VAE" in info.description and "\n" not in info.description
    assert type(info.default_config()) is info.config_cls


@pytest.mark.parametrize("typo, suggestion", [("vae_mpl", "vae_mlp"), ("vae", "vae_conv"),
                                              ("ae_mpl", "ae_mlp")])
def test_unknown_name_suggests(typo, suggestion):
    with pytest.raises(ConfigError) as ei:
        get_model_info(typo)
    msg = str(ei.value)
    assert f"unknown model {typo!r}" in msg
    assert "did you mean" in msg and suggestion in msg
    assert "genworkbench models" in msg


def test_unknown_name_without_close_match():
    with pytest.raises(ConfigError) as ei:
        create_model("zzzzzz")
    assert "unknown model 'zzzzzz'" in str(ei.value)
    assert "did you mean" not in str(ei.value)


def test_get_config_defaults_and_overrides():
    default = get_config("vae_mlp")
    assert (default.latent_dim, default.hidden, default.likelihood) == (20, (400,), "bce")
    cfg = get_config("vae_mlp", latent_dim=2, beta="4", hidden="64,32")
    assert (cfg.latent_dim, cfg.beta, cfg.hidden) == (2, 4.0, (64, 32))
    assert get_config("vae_mlp").latent_dim == 20  # defaults are not mutated
    with pytest.raises(ConfigError, match="latent_dim"):
        get_config("vae_mlp", latent_dim=0)
    with pytest.raises(ConfigError, match="unknown setting 'beta'"):
        get_config("ae_mlp", beta=2.0)  # an AE has no β


def test_create_model_applies_config_and_overrides():
    m = create_model("vae_mlp", latent_dim=3)
    assert m.latent_dim == 3 and m.config.latent_dim == 3
    cfg = get_config("vae_mlp", latent_dim=5)
    assert create_model("vae_mlp", config=cfg).latent_dim == 5
    assert create_model("vae_mlp", config=cfg, latent_dim=6).latent_dim == 6
    assert create_model("ae_mlp").data == DataSpec.mnist()  # MNIST when no spec is given


def test_create_model_rejects_an_invalid_config_object():
    bad = get_config("vae_mlp").__class__(latent_dim=0)
    with pytest.raises(ConfigError, match="latent_dim"):
        create_model("vae_mlp", config=bad)


def test_ae_mlp_on_2d_points_with_mse():
    torch.manual_seed(0)
    m = create_model("ae_mlp", data=POINTS, likelihood="mse", latent_dim=1, hidden=(16,))
    m.setup_optimizers()
    x = torch.randn(32, 2) * 3.0
    values = m.train_step(x, None)
    assert set(values) == {"loss"} and values["loss"] > 0
    m.eval()
    with torch.no_grad():
        r = m.reconstruct(x)
        z = m.encode(x)
    assert r.shape == (32, 2) and z.shape == (32, 1)
    # Points are raw coordinates: the decoder's output comes back unsquashed (no sigmoid).
    with torch.no_grad():
        assert torch.equal(r, m.decoder(z).view(32, 2))


def test_bce_on_points_is_a_config_error():
    with pytest.raises(ConfigError, match="likelihood=mse"):
        create_model("ae_mlp", data=POINTS, likelihood="bce")


def test_conv_on_points_is_a_config_error():
    with pytest.raises(ConfigError, match="arch=conv"):
        create_model("vae_conv", data=POINTS, likelihood="mse")


def test_conv_model_on_other_image_sizes():
    m = create_model("vae_conv", data=DataSpec(shape=(3, 20, 20), num_classes=0))
    m.eval()
    with torch.no_grad():
        x = torch.rand(2, 3, 20, 20)
        assert m.reconstruct(x).shape == x.shape
        assert m.sample(3, generator=torch.Generator().manual_seed(0)).shape == (3, 3, 20, 20)


def test_registering_a_name_twice_fails():
    from workbench.models.autoencoder import AEConfig, AutoEncoder

    def _test_only_dup_model() -> AEConfig:
        """Throwaway."""
        return AEConfig()

    R.register_model(AutoEncoder)(_test_only_dup_model)
    try:
        assert "_test_only_dup_model" in list_models()
        assert get_model_info("_test_only_dup_model").description == "Throwaway."
        with pytest.raises(ValueError, match="registered twice"):
            R.register_model(AutoEncoder)(_test_only_dup_model)
    finally:
        R._REGISTRY.pop("_test_only_dup_model", None)
    assert "_test_only_dup_model" not in list_models()


def test_every_default_config_is_valid():
    for name in list_models():
        C.validate(get_config(name))


def test_every_description_is_a_whole_first_paragraph():
    """The model list and `genworkbench models` show the docstring's first paragraph, wrapped
    lines and all: no description stops mid-sentence."""
    from workbench.models.registry import get_model_info, list_models

    for name in list_models():
        d = get_model_info(name).description
        assert d.endswith((".", ".)")) and "\n" not in d and "  " not in d, (name, d)
