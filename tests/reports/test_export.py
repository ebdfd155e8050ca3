"""Sample sheets with provenance: sizes of every kind, backgrounds, captions, determinism
(same run/step/spec -> same pixels, whatever the thread count), the provenance round trip through
the PNG text chunk and the sidecar, exact re-rendering, GIFs and the trainer's sample frames."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from workbench.reports.export import (SheetSpec, add_caption, read_provenance,
                                       render_sheet, rerender, save_sheet_with_provenance,
                                       write_gif)
from workbench.core.errors import CheckpointError, ConfigError
from workbench.engine.runs import list_frames

CELL = 28 + 2  # an MNIST digit and the default padding


def _train(run_dir, model, steps=4, **config):
    from workbench.core import config as C
    from workbench.models.registry import get_config
    from workbench.data import load_dataset
    from workbench.engine.trainer import Trainer, TrainSettings

    data = load_dataset("ring8" if model.startswith("toy") else "mnist5k")
    cfg = C.replace(get_config(model), **config)
    t = Trainer(model, data, TrainSettings(steps=steps, epochs=0, batch_size=32, device="cpu",
                                           sample_every_s=0.0, checkpoint_every=2,
                                           frame_every=2, log_every=2, val_every=steps),
                config=cfg, run_dir=run_dir)
    for _ in t.fit():
        pass
    return run_dir


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("export") / "vae", "vae_mlp", hidden=(32,),
                  latent_dim=3, iw_samples=1)


@pytest.fixture(scope="module")
def cvae_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("export") / "cvae", "cvae", steps=2, hidden=(32,),
                  latent_dim=3, iw_samples=1)


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("export") / "gan", "gan_mlp", steps=2,
                  hidden=(32,), latent_dim=5)


@pytest.fixture(scope="module")
def data():
    from workbench.data import load_dataset

    return load_dataset("mnist5k")


def test_spec_checks_and_round_trips():
    s = SheetSpec(kind="traversal", rows=3, cols=5, dims=(2, 0), background="grey", caption=True)
    assert SheetSpec.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    for bad, msg in ((dict(kind="mosaic"), "unknown sheet kind"), (dict(rows=0), "rows"),
                     (dict(upscale=17), "upscale"), (dict(background="pink"), "background"),
                     (dict(kind="interpolation", cols=1), "at least 2"),
                     (dict(rows=100, cols=100), "at most")):
        with pytest.raises(ConfigError, match=msg):
            SheetSpec(**bad).check()
    with pytest.raises(ConfigError, match="unknown sheet field"):
        SheetSpec.from_dict({"rows": 2, "colour": "red"})


def test_samples_sheet_size_padding_background_upscale_caption(vae_run):
    arr, _ = render_sheet(vae_run, SheetSpec(rows=3, cols=5))
    assert arr.shape == (3 * CELL + 2, 5 * CELL + 2, 1) and arr.dtype == np.uint8
    assert (arr[0] == 255).all() and (arr[:, 0] == 255).all()  # white padding
    for bg, value in (("black", 0), ("grey", 128)):
        a, _ = render_sheet(vae_run, SheetSpec(rows=3, cols=5, background=bg))
        assert (a[0] == value).all() and (a[:, -1] == value).all()
    a, _ = render_sheet(vae_run, SheetSpec(rows=3, cols=5, padding=0))
    assert a.shape[:2] == (3 * 28, 5 * 28)
    up, _ = render_sheet(vae_run, SheetSpec(rows=3, cols=5, upscale=3))
    assert up.shape[:2] == (3 * arr.shape[0], 3 * arr.shape[1])
    assert np.array_equal(up[::3, ::3], arr)  # nearest: every pixel becomes a 3×3 block
    cap, _ = render_sheet(vae_run, SheetSpec(rows=3, cols=5, caption=True))
    assert cap.shape[1] == arr.shape[1] and cap.shape[0] > arr.shape[0] + 8
    assert np.array_equal(cap[:arr.shape[0]], arr)
    assert (cap[arr.shape[0]:] < 128).any()  # dark text in the strip
    # n samples in a grid `cols` wide: the last row is partly empty
    part, _ = render_sheet(vae_run, SheetSpec(rows=2, cols=5, n=7))
    assert part.shape[:2] == (2 * CELL + 2, 5 * CELL + 2)
    assert (part[CELL + 2:, 2 * CELL + 2:] == 255).all()


def test_same_spec_same_pixels_whatever_the_thread_count(vae_run):
    spec = SheetSpec(rows=4, cols=4, seed=11)
    a, pa = render_sheet(vae_run, spec)
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        b, pb = render_sheet(vae_run, spec)
    finally:
        torch.set_num_threads(n)
    assert np.array_equal(a, b) and pa == pb
    assert torch.get_num_threads() == n  # rendering restores the caller's setting
    c, _ = render_sheet(vae_run, SheetSpec(rows=4, cols=4, seed=12))
    assert not np.array_equal(a, c)


def test_provenance_round_trips_through_png_chunk_and_sidecar(vae_run, tmp_path):
    from workbench import __version__
    from workbench.engine.runs import RunDir

    spec = SheetSpec(rows=2, cols=3, seed=5, caption=True)
    arr, prov = render_sheet(vae_run, spec)
    run = RunDir.open(vae_run)
    assert prov["run"] == str(vae_run.resolve()) and prov["step"] == 4
    assert prov["model"] == "vae_mlp" and prov["config"] == run.meta["config"]
    assert prov["dataset"]["name"] == "mnist5k" and prov["seed"] == 5
    assert prov["genworkbench_version"] == __version__ and prov["checkpoint"] == "step-4"
    assert SheetSpec.from_dict(prov["spec"]) == spec
    out = save_sheet_with_provenance(tmp_path / "s.png", arr, prov)
    assert read_provenance(out) == prov == read_provenance(tmp_path / "s.png.json")
    with Image.open(out) as im:
        assert im.text["Model"] == "vae_mlp" and im.text["Step"] == "4"
        assert np.array_equal(np.asarray(im), arr[:, :, 0])
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temp files
    with pytest.raises(ConfigError, match=r"\.png"):
        save_sheet_with_provenance(tmp_path / "s.jpg", arr, prov)
    plain = tmp_path / "plain.png"
    Image.fromarray(arr[:, :, 0]).save(plain)
    with pytest.raises(ConfigError, match="no genworkbench provenance"):
        read_provenance(plain)


def test_rerender_is_exact_and_an_older_step_works(vae_run):
    spec = SheetSpec(kind="interpolation", rows=2, cols=6, index_a=3, index_b=9, method="slerp",
                     caption=True)
    arr, prov = render_sheet(vae_run, spec)
    again, prov2 = rerender(json.loads(json.dumps(prov)))
    assert np.array_equal(arr, again) and prov2 == prov
    old, p_old = render_sheet(vae_run, SheetSpec(rows=2, cols=2), step=2)
    new, _ = render_sheet(vae_run, SheetSpec(rows=2, cols=2))
    assert p_old["step"] == 2 and not np.array_equal(old, new)
    with pytest.raises(CheckpointError, match="no checkpoint at step 3"):
        render_sheet(vae_run, SheetSpec(), step=3)


def test_snapshot_source_matches_the_run_and_live_weights_are_flagged(vae_run, data):
    from safetensors.torch import load_file

    from workbench.engine.runs import RunDir

    run = RunDir.open(vae_run)
    ck = run.checkpoints()[-1]
    snap = {"model": "vae_mlp", "config": run.config(), "spec": run.data_spec(),
            "state": load_file(str(ck.weights)), "step": ck.step, "run": vae_run}
    spec = SheetSpec(rows=3, cols=3, seed=2)
    a, pa = render_sheet(snap, spec)
    b, _ = render_sheet(vae_run, spec)
    assert np.array_equal(a, b) and pa["checkpoint"] == "step-4" and pa["command"]
    _, pl = render_sheet({**snap, "step": 3}, spec)  # weights between checkpoints
    assert pl["checkpoint"] is None and pl["command"] is None
    with pytest.raises(ConfigError, match="no checkpoint holds"):
        rerender(pl)
    model = run.load_model("cpu")
    model.train()
    m, pm = render_sheet(model, spec)
    assert np.array_equal(m, b) and pm["run"] is None and model.training  # caller's mode kept
    with pytest.raises(ConfigError, match="not made from a run"):
        rerender(pm)


def test_reconstructions_put_inputs_above_outputs(vae_run, data):
    from workbench.analysis.sheets import image_grid

    spec = SheetSpec(kind="reconstructions", rows=2, cols=4, seed=3, padding=0)
    arr, _ = render_sheet(vae_run, spec, data)
    assert arr.shape[:2] == (4 * 28, 4 * 28)
    idx = torch.randperm(data.n_val, generator=torch.Generator().manual_seed(3))[:8]
    inputs = data.x_val[idx].numpy()
    assert np.array_equal(arr[:28], image_grid(inputs[:4], nrow=4, padding=0)[:28])
    assert np.array_equal(arr[56:84], image_grid(inputs[4:], nrow=4, padding=0)[:28])
    assert not np.array_equal(arr[28:56], arr[:28])  # the second row is the model's copy
    with pytest.raises(ConfigError, match="validation set holds"):
        render_sheet(vae_run, SheetSpec(kind="reconstructions", rows=64, cols=64), data)


def test_traversal_rows_are_dims_and_interpolation_ends_at_the_images(vae_run, data):
    from workbench.analysis.latent import LatentProbe
    from workbench.analysis.sheets import image_grid
    from workbench.engine.runs import RunDir

    arr, prov = render_sheet(vae_run, SheetSpec(kind="traversal", rows=8, cols=5), data)
    assert sorted(prov["spec"]["dims"]) == [0, 1, 2] and prov["spec"]["rows"] == 3
    assert arr.shape[:2] == (3 * CELL + 2, 5 * CELL + 2)
    two, p2 = render_sheet(vae_run, SheetSpec(kind="traversal", dims=(1,), cols=5))
    assert two.shape[0] == CELL + 2 and p2["spec"]["dims"] == [1]
    with pytest.raises(ConfigError, match="outside 0..2"):
        render_sheet(vae_run, SheetSpec(kind="traversal", dims=(3,)))

    strip, _ = render_sheet(vae_run, SheetSpec(kind="interpolation", rows=1, cols=4,
                                               index_a=5, index_b=8, padding=0), data)
    probe = LatentProbe(RunDir.open(vae_run).load_model("cpu"))
    ends = probe.reconstruct(data.x_val[[5, 8]].numpy())
    assert np.array_equal(strip[:, :28], image_grid(ends[:1], padding=0))
    assert np.array_equal(strip[:, 3 * 28:], image_grid(ends[1:], padding=0))
    with pytest.raises(ConfigError, match="outside the validation set"):
        render_sheet(vae_run, SheetSpec(kind="interpolation", index_a=499, rows=2), data)


def test_conditional_rows_per_label_and_gan_without_encoder(cvae_run, gan_run, data):
    from workbench.reports.export import _labels
    from workbench.engine.runs import RunDir

    model = RunDir.open(cvae_run).load_model("cpu")
    rows = _labels(model, SheetSpec(rows=3, cols=4, label_rows=True), 12, 4)
    assert rows.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert _labels(model, SheetSpec(label=7), 3, 3).tolist() == [7, 7, 7]
    a, _ = render_sheet(cvae_run, SheetSpec(rows=3, cols=4, label_rows=True))
    b, _ = render_sheet(cvae_run, SheetSpec(rows=3, cols=4))
    assert a.shape == b.shape and not np.array_equal(a, b)
    with pytest.raises(ConfigError, match="0..9"):
        render_sheet(cvae_run, SheetSpec(label=10))

    with pytest.raises(ConfigError, match="not conditional"):
        render_sheet(gan_run, SheetSpec(label_rows=True))
    with pytest.raises(ConfigError, match="cannot reconstruct"):
        render_sheet(gan_run, SheetSpec(kind="reconstructions"), data)
    g, _ = render_sheet(gan_run, SheetSpec(kind="interpolation", rows=2, cols=5))
    assert g.shape[:2] == (2 * CELL + 2, 5 * CELL + 2)


def test_autoencoder_cannot_draw_samples(tmp_path):
    run = _train(tmp_path / "ae", "ae_mlp", steps=2, hidden=(32,), latent_dim=2)
    with pytest.raises(ConfigError, match="no prior"):
        render_sheet(run, SheetSpec())
    assert not list_frames(run)  # nothing to sample: no frames either


def test_trainer_frames_and_gif(vae_run, tmp_path):
    frames = list_frames(vae_run)
    assert [s for s, _ in frames] == [2, 4]
    pics = [np.asarray(Image.open(p)) for _, p in frames]
    assert pics[0].shape == (8 * CELL + 2, 8 * CELL + 2) and not np.array_equal(*pics)
    out = write_gif(pics, tmp_path / "t.gif", captions=["step 2", "step 4"])
    with Image.open(out) as im:
        assert im.n_frames == 2 and im.info.get("loop") == 0
    with pytest.raises(ConfigError, match="differ in size"):
        write_gif([pics[0], pics[0][:10]], tmp_path / "bad.gif")
    with pytest.raises(ConfigError, match="no frames"):
        write_gif([], tmp_path / "none.gif")


def test_caption_is_cut_to_fit_and_keeps_colour_mode():
    grey = np.full((20, 40, 1), 255, np.uint8)
    out = add_caption(grey, "a very long caption that cannot possibly fit in forty pixels")
    assert out.shape[1:] == (40, 1) and out.shape[0] > 20
    rgb = np.zeros((20, 300, 3), np.uint8)
    out = add_caption(rgb, "vae_mlp · step 4", "black")
    assert out.shape[2] == 3 and (out[20:] > 128).any()  # light text on black


def test_points_model_draws_a_scatter_only(tmp_path):
    run = _train(tmp_path / "toy", "toy_gan", steps=2)
    arr, prov = render_sheet(run, SheetSpec(rows=10, cols=10, upscale=2))
    assert arr.shape == (1024, 1024, 3) and prov["model"] == "toy_gan"
    with pytest.raises(ConfigError, match="samples sheets only"):
        render_sheet(run, SheetSpec(kind="traversal"))


def test_caption_words_keep_their_spaces():
    """Pillow's default font sets a 2 px space: "step 350" read as "step350". The caption sets
    its words with a gap of at least 4 px of background."""
    grid = np.full((20, 200), 255, np.uint8)
    strip = add_caption(grid, "step 350")[20:]
    ink = (strip < 128).any(axis=0)
    cols = np.flatnonzero(ink)
    gaps = np.diff(cols) - 1  # background columns between inked ones
    assert gaps.max() >= 4, gaps
