"""Tests generated from the registry: every registered model gets them for free.

Each model must build for its kind of data (MNIST's shape; 2-D points for the toy GANs), take a
finite training step, evaluate, sample / reconstruct / encode with the right shapes (where it has
the capability), and survive a checkpoint round trip.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from workbench.core import config as C
from workbench.core.errors import ConfigError
from workbench.models.registry import create_model, get_config, get_model_info, list_models
from workbench.data.spec import DataSpec
from workbench.engine.checkpoint import load_state, load_weights, save_checkpoint

MODELS = list_models()
MNIST = DataSpec.mnist()
POINTS = DataSpec(shape=(2,), kind="points")


def _spec(name) -> DataSpec:
    """A DataSpec the model accepts: MNIST for image models, 2-D points for the toy GANs."""
    return MNIST if "image" in get_model_info(name).data_kinds else POINTS


def test_registry_is_not_empty():
    assert {"ae_mlp", "vae_mlp", "vae_conv"} <= set(MODELS)


def _batch(model, n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *model.data.shape, generator=g)
    y = None
    if model.conditional:
        y = torch.arange(n) % model.num_classes
    return x, y


def _labels(model, n):
    return (torch.arange(n) % model.num_classes) if model.conditional else None


def _build(name, seed=0):
    torch.manual_seed(seed)
    return create_model(name, _spec(name))


def _assert_finite_floats(values: dict):
    assert isinstance(values, dict) and values, values
    for k, v in values.items():
        assert isinstance(k, str)
        assert type(v) is float, (k, type(v))
        assert math.isfinite(v), (k, v)


@pytest.mark.parametrize("name", MODELS)
def test_default_config_validates_and_documents_every_field(name):
    cfg = get_config(name)
    C.validate(cfg)  # defaults lie within their own limits
    specs = C.fields_of(cfg)
    assert specs
    for spec in specs:
        assert spec.help.strip(), f"{name}.{spec.name} has no help text"
        if spec.kind == "choice":
            assert spec.default in spec.choices
    info = get_model_info(name)
    assert info.description and info.description != name
    assert type(cfg) is info.config_cls


@pytest.mark.parametrize("name", MODELS)
def test_builds_and_takes_a_finite_training_step(name):
    model = _build(name)
    assert model.family == get_model_info(name).family
    model.setup_optimizers()
    assert model.optimizers, "setup_optimizers() created no optimizer"
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = _batch(model)
    model.train()
    values = model.train_step(x, y)
    _assert_finite_floats(values)
    assert "loss" in values
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "train_step did not update any weight"


@pytest.mark.parametrize("name", MODELS)
def test_eval_step_is_finite_and_does_not_update(name):
    model = _build(name)
    model.setup_optimizers()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = _batch(model)
    model.eval()
    values = model.eval_step(x, y)
    _assert_finite_floats(values)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"eval_step changed {k}"


@pytest.mark.parametrize("name", MODELS)
def test_capabilities_are_consistent(name):
    model = _build(name)
    info = get_model_info(name)
    assert set(model.capabilities) == set(info.model_cls.class_capabilities())
    for cap in ("encode", "decode", "sample", "reconstruct"):
        assert model.can(cap) == callable(getattr(model, cap, None))
    if model.can("encode") or model.can("decode"):
        assert isinstance(model.latent_dim, int) and model.latent_dim >= 1
    if model.conditional:
        assert model.num_classes == MNIST.num_classes
    else:
        assert model.num_classes == 0


@pytest.mark.parametrize("name", MODELS)
def test_sample_shape_range_and_seeding(name):
    model = _build(name)
    if not model.can("sample"):
        pytest.skip(f"{name} cannot sample")
    model.eval()
    labels = _labels(model, 5)
    with torch.no_grad():
        a = model.sample(5, labels=labels, generator=torch.Generator().manual_seed(7))
        b = model.sample(5, labels=labels, generator=torch.Generator().manual_seed(7))
        c = model.sample(5, labels=labels, generator=torch.Generator().manual_seed(8))
    assert tuple(a.shape) == (5, *model.data.shape)
    assert a.dtype == torch.float32
    assert torch.isfinite(a).all()
    if model.data.kind == "image":
        assert a.min() >= 0.0 and a.max() <= 1.0
    assert torch.equal(a, b), "the same seeded generator must give the same samples"
    assert not torch.equal(a, c), "a different seed must give different samples"


@pytest.mark.parametrize("name", MODELS)
def test_reconstruct_keeps_the_input_shape(name):
    model = _build(name)
    if not model.can("reconstruct"):
        pytest.skip(f"{name} cannot reconstruct")
    model.eval()
    x, y = _batch(model, n=6)
    with torch.no_grad():
        r = model.reconstruct(x, y)
    assert r.shape == x.shape
    assert torch.isfinite(r).all()
    assert r.min() >= 0.0 and r.max() <= 1.0  # images live in [0, 1]


@pytest.mark.parametrize("name", MODELS)
def test_encode_and_decode_shapes(name):
    model = _build(name)
    if not model.can("encode"):
        pytest.skip(f"{name} cannot encode")
    model.eval()
    x, y = _batch(model, n=6)
    with torch.no_grad():
        z = model.encode(x, y)
        assert tuple(z.shape) == (6, model.latent_dim)
        if model.can("decode"):
            d = model.decode(z, y)
            assert d.shape == x.shape


@pytest.mark.parametrize("name", MODELS)
def test_decode_takes_a_code_of_decode_dim(name):
    """Latent sliders, traversals and interpolation decode chosen codes (GANs included)."""
    model = _build(name)
    if not model.can("decode"):
        pytest.skip(f"{name} cannot decode")
    model.eval()
    z = torch.randn(4, model.decode_dim)
    with torch.no_grad():
        a = model.decode(z, _labels(model, 4))
        b = model.decode(z, _labels(model, 4))
    assert tuple(a.shape) == (4, *model.data.shape)
    assert torch.equal(a, b), "decoding is deterministic"


def _outputs(model, x, y):
    """Everything the model can produce for fixed inputs, in eval mode."""
    model.eval()
    out = {}
    with torch.no_grad():
        torch.manual_seed(0)  # a VAE's eval_step draws z from q(z|x)
        out["eval"] = torch.tensor(list(model.eval_step(x, y).values()))
        if model.can("reconstruct"):
            out["reconstruct"] = model.reconstruct(x, y)
        if model.can("encode"):
            out["encode"] = model.encode(x, y)
        if model.can("sample"):
            out["sample"] = model.sample(4, labels=_labels(model, 4),
                                         generator=torch.Generator().manual_seed(3))
    return out


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip(name, tmp_path):
    trained = _build(name, seed=0)
    trained.setup_optimizers()
    trained.train()
    x, y = _batch(trained, seed=1)
    trained.train_step(x, y)  # weights (and batch-norm buffers) move away from their init
    state = {"step": 1, "optimizers": {k: o.state_dict() for k, o in trained.optimizers.items()}}
    ck = save_checkpoint(tmp_path, 1, trained, state)
    assert ck.weights.exists() and ck.state.exists()

    fresh = _build(name, seed=123)
    ref_sd = trained.state_dict()
    assert ref_sd.keys() == fresh.state_dict().keys()
    assert any(not torch.equal(v, fresh.state_dict()[k]) for k, v in ref_sd.items()), \
        "a differently seeded model should start with different weights"

    load_weights(fresh, ck.weights)
    for k, v in ref_sd.items():
        assert torch.equal(fresh.state_dict()[k], v), f"{k} differs after loading"

    x2, y2 = _batch(trained, seed=2)
    a, b = _outputs(trained, x2, y2), _outputs(fresh, x2, y2)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after the round trip"

    st = load_state(ck.state)
    assert st["step"] == 1
    fresh.setup_optimizers()
    for k, opt in fresh.optimizers.items():
        opt.load_state_dict(st["optimizers"][k])  # optimizer state fits the rebuilt model


@pytest.mark.parametrize("name", MODELS)
def test_models_json_lists_the_model(name, capsys):
    from workbench.cli import main

    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert name in rows
    row = rows[name]
    info = get_model_info(name)
    assert row["family"] == info.family
    assert row["description"] == info.description
    assert [f["name"] for f in row["config"]] == [s.name for s in C.fields_of(get_config(name))]
    assert set(row["capabilities"]) == set(info.model_cls.class_capabilities())


@pytest.mark.parametrize("name", MODELS)
def test_model_refuses_the_wrong_kind_of_data(name):
    """A model made for one kind of data (the toy GANs: points) refuses the other with a
    ConfigError naming both; its default dataset is of a kind it takes."""
    info = get_model_info(name)
    for other in (MNIST, POINTS):
        if other.kind not in info.data_kinds:
            with pytest.raises(ConfigError, match=f"{name} trains on"):
                create_model(name, other)
    from workbench.data import list_datasets

    kinds = {d.name: d.kind for d in list_datasets()}
    assert kinds[info.default_dataset] in info.data_kinds
