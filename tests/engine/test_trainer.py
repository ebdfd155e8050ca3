"""The generator trainer: event order, stop, NaN guard, exact resume, corrupt checkpoints, and the
run directory contract (run.json, metrics.jsonl, checkpoints/, samples/)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch

import workbench
from workbench.core import config as C
from workbench.core.errors import CheckpointError, ConfigError
from workbench.models.registry import get_config, get_model_info, list_models
from workbench.engine.checkpoint import list_checkpoints, load_state
from workbench.engine.events import CheckpointSaved, Finished, Metrics, Samples, Started
from workbench.engine.runs import RunDir
from workbench.engine.trainer import Trainer, TrainSettings

# tiny_mnist: 64 train / 32 val digits -> 4 steps per epoch at batch 16


def settings(**kw) -> TrainSettings:
    base = dict(batch_size=16, steps=10, epochs=0, device="cpu", log_every=1,
                checkpoint_every=0, sample_every_s=0.0, seed=0)
    base.update(kw)
    return C.replace(TrainSettings(), **base)


def run(model, data, run_dir=None, resume=False, config=None, **kw):
    trainer = Trainer(model, data, settings(**kw), config=config, run_dir=run_dir,
                      resume=resume)
    return trainer, list(trainer.fit())


def train_values(events) -> dict[int, dict[str, float]]:
    return {e.step: e.values for e in events if isinstance(e, Metrics) and e.phase == "train"}


def small(name):
    """Keep the MLP models small (the conv ones are small already); a family whose config has
    no `hidden` widths (or no `arch`) runs as registered."""
    cfg = get_config(name)
    kinds = {s.name: s.kind for s in C.fields_of(cfg)}
    if kinds.get("hidden") == "ints" and getattr(cfg, "arch", "mlp") == "mlp":
        return C.replace(cfg, hidden=(64,))
    return cfg


# -- events --------------------------------------------------------------------------------------
def test_event_order_and_content(tiny_mnist, tmp_path):
    _, events = run("vae_mlp", tiny_mnist, tmp_path / "r", config=small("vae_mlp"),
                    steps=10, log_every=2)
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "Started" and kinds[-1] == "Finished"
    assert kinds[-3:] == ["CheckpointSaved", "Samples", "Finished"]
    assert set(kinds[1:-3]) == {"Metrics"}

    st = events[0]
    assert (st.model, st.device, st.start_step, st.total_steps, st.steps_per_epoch,
            st.batch_size) == ("vae_mlp", "cpu", 0, 10, 4, 16)
    assert st.run_dir == tmp_path / "r"
    assert ("Reconstruction", ("recon",)) in st.plot_groups

    metrics = [(e.phase, e.step, e.epoch) for e in events if isinstance(e, Metrics)]
    # train means every 2 steps; validation at the end of each epoch (4 steps) and at the end
    assert metrics == [("train", 2, 0), ("train", 4, 0), ("val", 4, 0), ("train", 6, 1),
                       ("train", 8, 1), ("val", 8, 1), ("train", 10, 2), ("val", 10, 2)]
    for e in events:
        if isinstance(e, Metrics):
            # the costly importance-weighted estimate only in the final validation
            extra = {"iwae"} if e.phase == "val" and e.step == 10 else set()
            assert set(e.values) == {"loss", "recon", "kl", "elbo"} | extra
            assert all(type(v) is float and math.isfinite(v) for v in e.values.values())
            assert e.time >= 0
    times = [e.time for e in events if isinstance(e, Metrics)]
    assert times == sorted(times)

    ck, samples, fin = events[-3:]
    assert ck.step == 10 and ck.path.exists()
    assert samples.step == 10
    assert samples.samples.shape == (64, 1, 28, 28)
    assert samples.samples.dtype == np.float32
    assert 0.0 <= samples.samples.min() and samples.samples.max() <= 1.0
    assert samples.inputs.shape == samples.reconstructions.shape == (16, 1, 28, 28)
    assert np.array_equal(samples.inputs, tiny_mnist.x_val[:16].numpy())
    assert (fin.step, fin.reason, fin.checkpoint) == (10, "completed", ck.path)
    assert "10" in fin.message


def test_epochs_setting(tiny_mnist):
    _, events = run("ae_mlp", tiny_mnist, config=small("ae_mlp"), steps=0, epochs=2,
                    log_every=100)
    assert events[0].total_steps == 8
    assert [(e.phase, e.step) for e in events if isinstance(e, Metrics)] == [
        ("val", 4), ("train", 8), ("val", 8)]
    assert events[-1].step == 8


def test_autoencoder_samples_event_has_no_samples(tiny_mnist):
    _, events = run("ae_mlp", tiny_mnist, config=small("ae_mlp"), steps=2)
    s = [e for e in events if isinstance(e, Samples)][-1]
    assert s.samples is None
    assert s.reconstructions.shape == (16, 1, 28, 28)


def test_without_run_dir_nothing_is_written(tiny_mnist, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, events = run("ae_mlp", tiny_mnist, config=small("ae_mlp"), steps=3, checkpoint_every=1)
    assert not any(isinstance(e, CheckpointSaved) for e in events)
    assert events[-1].reason == "completed" and events[-1].checkpoint is None
    assert list(tmp_path.iterdir()) == []


def test_sample_grids_do_not_change_training(tiny_mnist):
    """Sample grids and validation run under a forked RNG: they never move the training RNG."""
    _, quiet = run("vae_mlp", tiny_mnist, config=small("vae_mlp"), steps=6, val_every=100)
    _, busy = run("vae_mlp", tiny_mnist, config=small("vae_mlp"), steps=6, val_every=1,
                  sample_every_s=1e-9)
    assert sum(isinstance(e, Samples) for e in busy) >= 5
    assert train_values(quiet) == train_values(busy)


def test_same_seed_same_run_other_seed_other_run(tiny_mnist):
    _, a = run("vae_mlp", tiny_mnist, config=small("vae_mlp"), steps=3)
    _, b = run("vae_mlp", tiny_mnist, config=small("vae_mlp"), steps=3)
    _, c = run("vae_mlp", tiny_mnist, config=small("vae_mlp"), steps=3, seed=1)
    assert train_values(a) == train_values(b)
    assert train_values(a) != train_values(c)


# -- stop ----------------------------------------------------------------------------------------
def test_stop_after_first_metrics_saves_a_checkpoint(tiny_mnist, tmp_path):
    trainer = Trainer("ae_mlp", tiny_mnist, settings(steps=10), config=small("ae_mlp"),
                      run_dir=tmp_path / "r")
    events = []
    for ev in trainer.fit():
        events.append(ev)
        if isinstance(ev, Metrics) and len([e for e in events if isinstance(e, Metrics)]) == 1:
            trainer.stop()
    fin = events[-1]
    assert isinstance(fin, Finished)
    assert fin.reason == "stopped"
    assert fin.step == 1
    assert "stopped" in fin.message
    assert [e.step for e in events if isinstance(e, Metrics) and e.phase == "train"] == [1]
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert [e.step for e in saved] == [1]
    assert fin.checkpoint == saved[0].path and fin.checkpoint.exists()
    rd = RunDir.open(tmp_path / "r")
    assert [c.step for c in rd.checkpoints()] == [1]
    assert load_state(rd.checkpoints()[0].state)["step"] == 1
    assert rd.load_model().loaded_step == 1


def test_stop_then_resume_equals_an_uninterrupted_run(tiny_mnist, tmp_path):
    trainer = Trainer("ae_mlp", tiny_mnist, settings(steps=6), config=small("ae_mlp"),
                      run_dir=tmp_path / "r")
    first = []
    for ev in trainer.fit():
        first.append(ev)
        if isinstance(ev, Metrics) and ev.step == 3:
            trainer.stop()
    assert first[-1].reason == "stopped" and first[-1].step == 3
    _, rest = run("ae_mlp", tiny_mnist, tmp_path / "r", resume=True, steps=6)
    assert rest[0].start_step == 3
    _, full = run("ae_mlp", tiny_mnist, config=small("ae_mlp"), steps=6)
    assert {**train_values(first), **train_values(rest)} == train_values(full)


# -- NaN guard -----------------------------------------------------------------------------------
def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_mnist, tmp_path):
    trainer = Trainer("ae_mlp", tiny_mnist, settings(steps=20, checkpoint_every=5),
                      config=small("ae_mlp"), run_dir=tmp_path / "r")
    events = []
    for ev in trainer.fit():
        events.append(ev)
        if isinstance(ev, Metrics) and ev.phase == "train" and ev.step == 7:
            trainer.model.train_step = lambda x, y=None: {"loss": float("nan")}
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.reason == "diverged"
    assert fin.step == 7
    assert "loss" in fin.message and "step 8" in fin.message
    assert "step 5" in fin.message  # names the checkpoint that is kept
    assert fin.checkpoint is None
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [5]
    assert not any(isinstance(e, Samples) for e in events)

    rd = RunDir.open(tmp_path / "r")
    assert [c.step for c in rd.checkpoints()] == [5]  # nothing written after the last good one
    model = rd.load_model()
    assert model.loaded_step == 5 and model.load_warnings == []
    assert all(torch.isfinite(v).all() for v in model.state_dict().values()
               if v.is_floating_point())
    assert max(r["step"] for r in rd.read_metrics()) == 7


def test_inf_loss_before_any_checkpoint(tiny_mnist, tmp_path):
    trainer = Trainer("ae_mlp", tiny_mnist, settings(steps=5), config=small("ae_mlp"),
                      run_dir=tmp_path / "r")
    gen = trainer.fit()
    assert isinstance(next(gen), Started)
    trainer.model.train_step = lambda x, y=None: {"loss": 1.0, "other": float("inf")}
    rest = list(gen)
    assert len(rest) == 1 and rest[0].reason == "diverged"
    assert "other" in rest[0].message and "step 1" in rest[0].message
    assert "no checkpoint" in rest[0].message
    assert RunDir.open(tmp_path / "r").checkpoints() == []


# -- resume --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list_models())
def test_resume_is_exact(name, tiny_mnist, tiny_ring8, tmp_path):
    """N steps + resume to 2N gives the same per-step metrics and weights as 2N in one go.

    N = 6 crosses an epoch boundary (4 steps/epoch) before and after the resume point."""
    if "image" not in get_model_info(name).data_kinds:
        tiny_mnist = tiny_ring8  # the toy GANs are made for 2-D points
    cfg = small(name)
    _, full = run(name, tiny_mnist, tmp_path / "full", config=cfg, steps=12)
    _, first = run(name, tiny_mnist, tmp_path / "half", config=cfg, steps=6)
    trainer, second = run(name, tiny_mnist, tmp_path / "half", resume=True, steps=12)
    assert trainer.warnings == []
    assert second[0].start_step == 6 and second[0].total_steps == 12
    assert sorted(train_values(first)) == list(range(1, 7))
    assert sorted(train_values(second)) == list(range(7, 13))
    assert {**train_values(first), **train_values(second)} == train_values(full)

    val = lambda evs: [e.values for e in evs if isinstance(e, Metrics) and e.phase == "val"][-1]
    assert val(second) == val(full)
    a = RunDir.open(tmp_path / "full").load_model().state_dict()
    b = RunDir.open(tmp_path / "half").load_model().state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)

    # metrics.jsonl of the resumed run holds every step once, in order
    steps = [r["step"] for r in RunDir.open(tmp_path / "half").read_metrics() if "loss" in r]
    assert steps == list(range(1, 13))


def _truncate(path: Path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("which", ["weights", "state"])
def test_resume_falls_back_past_a_corrupt_newest_checkpoint(which, tiny_mnist, tmp_path):
    cfg = small("ae_mlp")
    _, full = run("ae_mlp", tiny_mnist, config=cfg, steps=9)
    run("ae_mlp", tiny_mnist, tmp_path / "r", config=cfg, steps=6, checkpoint_every=3)
    rd = RunDir.open(tmp_path / "r")
    assert [c.step for c in rd.checkpoints()] == [3, 6]
    newest = rd.checkpoints()[-1]
    _truncate(newest.weights if which == "weights" else newest.state)

    trainer, events = run("ae_mlp", tiny_mnist, tmp_path / "r", resume=True, steps=9,
                          checkpoint_every=3)
    assert events[0].start_step == 3
    assert len(trainer.warnings) == 1
    bad = newest.weights if which == "weights" else newest.state
    assert bad.name in trainer.warnings[0]
    assert "corrupt" in trainer.warnings[0]
    assert events[-1].reason == "completed" and events[-1].step == 9
    vals = train_values(events)
    assert sorted(vals) == [4, 5, 6, 7, 8, 9]
    assert all(vals[s] == train_values(full)[s] for s in vals)  # still exact from step 3
    # the corrupt checkpoint at step 6 was rewritten by the resumed run
    assert load_state(newest.state)["step"] == 6


def test_resume_with_no_readable_checkpoint(tiny_mnist, tmp_path):
    run("ae_mlp", tiny_mnist, tmp_path / "r", config=small("ae_mlp"), steps=3)
    rd = RunDir.open(tmp_path / "r")
    (only,) = rd.checkpoints()
    _truncate(only.weights)
    with pytest.raises(CheckpointError) as ei:
        run("ae_mlp", tiny_mnist, tmp_path / "r", resume=True, steps=6)
    msg = str(ei.value)
    assert "no readable checkpoint" in msg and only.weights.name in msg
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        rd.load_model()


def test_resume_of_a_run_without_checkpoints(tiny_mnist, tmp_path):
    RunDir.create(tmp_path / "r", "ae_mlp", small("ae_mlp"), tiny_mnist.describe(), 0)
    with pytest.raises(CheckpointError, match="no checkpoint yet"):
        run("ae_mlp", tiny_mnist, tmp_path / "r", resume=True)


def test_resume_errors(tiny_mnist, tmp_path):
    with pytest.raises(CheckpointError, match="not a run directory"):
        run("ae_mlp", tiny_mnist, tmp_path / "nothing", resume=True)
    with pytest.raises(ConfigError, match="run directory"):
        run("ae_mlp", tiny_mnist, None, resume=True)
    run("ae_mlp", tiny_mnist, tmp_path / "r", config=small("ae_mlp"), steps=2)
    with pytest.raises(ConfigError, match="holds a ae_mlp run"):
        run("vae_mlp", tiny_mnist, tmp_path / "r", resume=True)


def test_existing_run_without_resume_is_refused(tiny_mnist, tmp_path):
    run("ae_mlp", tiny_mnist, tmp_path / "r", config=small("ae_mlp"), steps=2)
    before = (tmp_path / "r" / "run.json").read_text()
    with pytest.raises(CheckpointError, match="--resume"):
        run("ae_mlp", tiny_mnist, tmp_path / "r", config=small("ae_mlp"), steps=2)
    assert (tmp_path / "r" / "run.json").read_text() == before


# -- run directory contract ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tiny_mnist, tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "vae"
    cfg = C.replace(small("vae_mlp"), latent_dim=4, beta=2.0)
    trainer, events = run("vae_mlp", tiny_mnist, path, config=cfg, steps=10, log_every=3,
                          checkpoint_every=2, keep_checkpoints=2, seed=5)
    return path, cfg, events


def test_run_json_contract(finished_run, tiny_mnist):
    path, cfg, _ = finished_run
    meta = json.loads((path / "run.json").read_text())
    assert {"model", "config", "dataset", "seed", "workbench_version", "created"} <= set(meta)
    assert meta["model"] == "vae_mlp"
    assert meta["config"] == C.to_dict(cfg)
    assert meta["config"]["latent_dim"] == 4 and meta["config"]["beta"] == 2.0
    assert meta["dataset"]["name"] == "mnist5k"
    assert meta["dataset"]["n_train"] == 64
    assert meta["seed"] == 5
    assert meta["workbench_version"] == workbench.__version__
    created = datetime.fromisoformat(meta["created"])
    assert created.tzinfo is not None
    rd = RunDir.open(path)
    assert rd.config() == cfg and rd.data_spec() == tiny_mnist.spec


def test_metrics_jsonl_contract(finished_run):
    path, _, events = finished_run
    lines = (path / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert records, "no metrics written"
    for r in records:
        assert {"step", "epoch", "time"} <= set(r)
        assert isinstance(r["step"], int) and isinstance(r["epoch"], int)
        assert isinstance(r["time"], float) and r["time"] >= 0
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_loss" in r]
    assert [r["step"] for r in train] == [3, 6, 9, 10]
    assert [r["step"] for r in val] == [4, 8, 10]
    assert {"loss", "recon", "kl"} <= set(train[0]) and {"val_recon", "val_kl"} <= set(val[0])
    by_step = {e.step: e.values for e in events if isinstance(e, Metrics) and e.phase == "train"}
    for r in train:
        assert r["loss"] == by_step[r["step"]]["loss"]
    times = [r["time"] for r in records]
    assert times == sorted(times)


def test_checkpoint_files(finished_run):
    path, _, events = finished_run
    ckdir = path / "checkpoints"
    # keep_checkpoints=2 prunes the older ones; no temp files are left behind
    assert sorted(p.name for p in ckdir.iterdir()) == [
        "step-00000008.safetensors", "step-00000008.state.pt",
        "step-00000010.safetensors", "step-00000010.state.pt"]
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [2, 4, 6, 8, 10]
    assert [c.step for c in list_checkpoints(ckdir)] == [8, 10]

    state = torch.load(ckdir / "step-00000010.state.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 10 and state["epoch"] == 2
    assert set(state["optimizers"]) == {"model"}
    assert isinstance(state["rng"]["torch"], torch.Tensor)

    from safetensors.torch import load_file

    weights = load_file(str(ckdir / "step-00000010.safetensors"))
    model = RunDir.open(path).load_model()
    assert model.loaded_step == 10
    sd = model.state_dict()
    assert weights.keys() == sd.keys()
    assert all(torch.equal(weights[k], sd[k]) for k in sd)
    assert not model.training  # load_model returns the model in eval mode


def test_load_model_at_a_step(finished_run):
    path, _, _ = finished_run
    rd = RunDir.open(path)
    m8, m10 = rd.load_model(step=8), rd.load_model()
    assert m8.loaded_step == 8
    assert any(not torch.equal(v, m10.state_dict()[k]) for k, v in m8.state_dict().items())
    with pytest.raises(CheckpointError, match="no checkpoint at step 2"):
        rd.load_model(step=2)  # pruned


def test_samples_dir_holds_png_sheets(finished_run):
    from PIL import Image

    path, _, _ = finished_run
    names = sorted(p.name for p in (path / "samples").iterdir())
    assert names == ["reconstructions-step-00000010.png", "samples-step-00000010.png"]
    with Image.open(path / "samples" / "samples-step-00000010.png") as im:
        im.load()
        # 64 samples in an 8×8 grid of 28-px digits with 2-px padding
        assert im.size == (8 * 30 + 2, 8 * 30 + 2)
    with Image.open(path / "samples" / "reconstructions-step-00000010.png") as im:
        im.load()
        assert im.size == (16 * 30 + 2, 2 * 30 + 2)  # a row of inputs over their reconstructions


def test_a_batch_larger_than_the_data_is_the_whole_set(tiny_mnist, tmp_path):
    """A small folder just trains: the batch is cut to the 64 training examples, said once,
    and the run records (and resumes with) the batch it used."""
    trainer, events = run("ae_mlp", tiny_mnist, tmp_path / "r", config=small("ae_mlp"),
                          batch_size=128, steps=3)
    (started,) = [e for e in events if isinstance(e, Started)]
    assert started.batch_size == 64 and started.steps_per_epoch == 1
    assert started.warnings == ("batch size 128 is larger than the 64 training examples: "
                                "every step uses all 64",)
    assert trainer.warnings == list(started.warnings) and events[-1].reason == "completed"
    assert RunDir.open(tmp_path / "r").meta["train"]["batch_size"] == 64


def test_invalid_settings(tiny_mnist):
    with pytest.raises(ConfigError, match="epochs or steps"):
        settings(steps=0, epochs=0)
    with pytest.raises(ConfigError, match="keep_checkpoints"):
        settings(keep_checkpoints=0)
    bad = TrainSettings(batch_size=0)
    with pytest.raises(ConfigError, match="batch_size"):
        Trainer("ae_mlp", tiny_mnist, bad)


def test_run_json_without_dataset_is_a_clear_error(tmp_path):
    import json

    import pytest

    from workbench.core.errors import CheckpointError
    from workbench.engine.runs import RunDir

    (tmp_path / "run.json").write_text(json.dumps({"model": "vae_mlp", "config": {}}))
    with pytest.raises(CheckpointError, match="dataset"):
        RunDir.open(tmp_path)


@pytest.mark.parametrize("n, cols, rows", [(5, 5, 2), (12, 8, 4), (16, 8, 4)])
def test_reconstruction_grid_keeps_each_copy_under_its_original(n, cols, rows):
    """A validation set smaller than a row (or a last partial row) stays aligned: the grid is
    as wide as its first row and a short row is padded with blank cells."""
    from workbench.engine.remote import pictures

    rng = np.random.default_rng(0)
    ev = Samples(3)
    ev.inputs = rng.random((n, 1, 4, 4)).astype(np.float32)
    ev.reconstructions = 1 - ev.inputs  # each copy tells which original it belongs to
    grid = pictures(ev)["reconstructions"]
    cell = 4 + 2  # image + torchvision's padding
    assert grid.shape[:2] == (rows * cell + 2, cols * cell + 2)
    for k in range(n):
        r, c = divmod(k, cols)
        top = grid[2 + 2 * r * cell: 2 + 2 * r * cell + 4, 2 + c * cell: 2 + c * cell + 4, 0]
        below = grid[2 + (2 * r + 1) * cell: 2 + (2 * r + 1) * cell + 4,
                     2 + c * cell: 2 + c * cell + 4, 0]
        assert np.allclose(top.astype(int) + below.astype(int), 255, atol=2), k
