"""Image folders as datasets (issue 6): the hostile folder, colour handling, preprocessing, the
cache, progress and cancel, and reloading from a run's description."""

from __future__ import annotations

import importlib.util
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from workbench.core.tasks import TaskContext
from workbench.core.errors import ConfigError, DatasetError
from workbench.core.tasks import Cancelled
from workbench.data import load_dataset, load_described
from workbench.data import folder as F
from workbench.data.spec import DataSpec

_spec = importlib.util.spec_from_file_location("hostile", Path(__file__).with_name("hostile.py"))
hostile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hostile)

SMALL = F.FolderOptions(size=8)


@pytest.fixture(autouse=True)
def cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GENWORKBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "my photos"
    good, bad = hostile.build(root)
    return root, good, bad


def _rel(report, path):
    return os.path.relpath(path, report.root).replace(os.sep, "/")


# -- the hostile folder ----------------------------------------------------------------------------
def test_hostile_folder_loads_exactly_the_good_files(hostile_dir, tmp_path):
    root, good, bad = hostile_dir
    report, x, y = F.scan_folder(root, SMALL, cache_root=tmp_path / "c")
    skipped = {_rel(report, p): r for p, r in report.skipped}
    assert set(skipped) == bad, (set(skipped) ^ bad)
    assert all(r.strip() for r in skipped.values())
    assert report.ok == len(good) == x.shape[0] == y.shape[0]
    assert report.classes == ["cats", hostile.DOGS]
    assert report.empty_classes == ["empty_class", "only_bad"]
    n_cats = sum(g.startswith("cats/") for g in good)
    assert report.class_counts == {"cats": n_cats, hostile.DOGS: len(good) - n_cats}
    assert np.bincount(y).tolist() == [n_cats, len(good) - n_cats]
    assert x.dtype == np.uint8 and x.shape[1:] == (3, 8, 8)  # colour images present: RGB
    assert report.color == "rgb" and report.channels == 3
    assert {"PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP", "PPM"} <= set(report.source_formats)
    assert {"RGB", "P", "RGBA", "CMYK", "I;16", "L", "1", "LA"} <= set(report.source_modes)


def test_hostile_folder_reasons_name_the_problem(hostile_dir, tmp_path):
    root, _, _ = hostile_dir
    report, _, _ = F.scan_folder(root, SMALL, cache_root=tmp_path / "c")
    reason = {_rel(report, p): r for p, r in report.skipped}
    assert "0 bytes" in reason["cats/zero.png"]
    assert "truncated" in reason["cats/truncated.jpg"]
    assert "truncated" in reason["cats/truncated.png"]
    assert "not an image" in reason["cats/not an image.png"]
    assert "not an image" in reason["cats/html.jpg"]
    assert "decompression bomb" in reason["cats/bomb.png"]
    assert "not followed" in reason["cats/loop"]
    assert "broken symbolic link" in reason["cats/broken.png"]
    assert "loop of links" in reason["cats/cycle_a.png"]
    assert "folder" in reason["cats/folder.png"]
    assert "not a regular file" in reason["cats/fifo.png"]
    assert "class folder" in reason["stray at top.png"]
    if "cats/unreadable.png" in reason:
        assert "unreadable" in reason["cats/unreadable.png"]


def test_hostile_folder_as_tensordata(hostile_dir):
    root, good, _ = hostile_dir
    data, report = F.load_folder(root, SMALL)
    assert data.n_train + data.n_val == len(good)
    assert data.spec == DataSpec(shape=(3, 8, 8), num_classes=2, kind="image")
    assert data.class_names == ("cats", hostile.DOGS)
    for x in (data.x_train, data.x_val):
        assert x.dtype == torch.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert set(data.y_val.tolist()) == {0, 1}  # stratified: every class validated
    assert data.source["folder"] == str(root.resolve()) and data.source["size"] == 8
    assert data.source["skipped"] == len(report.skipped)


def test_no_usable_image_is_one_clear_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"nope")
    (tmp_path / "b").mkdir()
    with pytest.raises(DatasetError, match=r"no usable image in .*1 file skipped — x.png: not"):
        F.load_folder(tmp_path, SMALL)
    report, x, y = F.scan_folder(tmp_path, SMALL)  # the report itself never raises
    assert report.ok == 0 and report.empty_classes == ["a", "b"] and len(x) == 0


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DatasetError, match="holds no image files"):
        load_dataset(str(tmp_path))
    with pytest.raises(DatasetError, match="no such folder"):
        F.load_folder(tmp_path / "nope")
    with pytest.raises(DatasetError, match="is not a folder"):
        F.load_folder(tmp_path / "notes.txt")


def test_bad_options_are_config_errors(tmp_path):
    for opts in (F.FolderOptions(size=2), F.FolderOptions(color="cmyk"),
                 F.FolderOptions(fit="stretch"), F.FolderOptions(background=300)):
        with pytest.raises(ConfigError):
            F.scan_folder(tmp_path, opts)


# -- pixels ----------------------------------------------------------------------------------------
def _one(tmp_path, img: Image.Image, name="a.png", opts=SMALL, **save):
    d = Path(tempfile.mkdtemp(dir=tmp_path))  # a folder of its own: one image
    img.save(d / name, **save)
    report, x, _ = F.scan_folder(d, opts, use_cache=False)
    assert report.ok == 1, report.skipped
    return x[0], report


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    a = np.full((8, 8), 128 * 257, dtype=np.uint16)
    a[:4] = 65535
    x, report = _one(tmp_path, Image.fromarray(a), "g.png")
    assert report.color == "grey" and x.shape == (1, 8, 8)
    assert x[0, 0, 0] == 255 and x[0, 7, 0] == 128  # clipping would give 255 everywhere


def test_transparency_is_composited_onto_the_background(tmp_path):
    img = Image.new("RGBA", (8, 8), (255, 0, 0, 0))  # fully transparent red
    x, _ = _one(tmp_path, img, "t.png")
    assert x.shape == (1, 8, 8) and (x == 255).all()  # white background, hence grey
    x, _ = _one(tmp_path, img, "t.png", F.FolderOptions(size=8, background=0))
    assert (x == 0).all()
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    x, _ = _one(tmp_path, pal, "p.png", transparency=1)
    assert (x == 255).all()


def test_cmyk_and_palette_become_rgb(tmp_path):
    x, report = _one(tmp_path, Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "c.jpg", quality=95)
    assert report.color == "rgb" and x.shape == (3, 8, 8)
    r, g, b = (int(v) for v in x[:, 4, 4])
    assert r > 200 and g < 60 and b < 60  # CMYK (0, 1, 1, 0) is red


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("L", (40, 20), 0)
    img.paste(255, (20, 0, 40, 20))  # left half black, right half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: displayed rotated 90° clockwise
    x, _ = _one(tmp_path, img, "e.jpg", F.FolderOptions(size=20), exif=exif, quality=95)
    # displayed 20 wide × 40 tall, black on top; the centre crop is half black, half white
    assert x[0, 2, 10] < 40 and x[0, 17, 10] > 215
    assert abs(int(x[0, 10, 2]) - int(x[0, 10, 17])) < 40


def test_gif_first_frame(tmp_path):
    d = tmp_path / "g"
    d.mkdir()
    frames = [Image.new("L", (8, 8), 20), Image.new("L", (8, 8), 230)]
    frames[0].save(d / "a.gif", save_all=True, append_images=frames[1:])
    _, x, _ = F.scan_folder(d, SMALL, use_cache=False)
    assert abs(int(x[0].mean()) - 20) <= 2


@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_fit_crop_or_pad(tmp_path, fit):
    img = Image.new("L", (40, 20), 200)
    img.paste(50, (0, 0, 10, 20))  # a dark strip at the far left
    x, _ = _one(tmp_path, img, "w.png", F.FolderOptions(size=20, fit=fit, background=0))
    if fit == "crop":  # the centre 20×20 keeps neither the strip nor any padding
        assert x.min() >= 190
    else:  # the whole image, 20×10, centred between black bars
        assert (x[0, :4] == 0).all() and (x[0, -4:] == 0).all()
        assert x[0, 10, 0] < 70 and x[0, 10, 15] > 190


def test_colour_mode_auto_grey_rgb(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    Image.new("L", (8, 8), 100).save(d / "a.png")
    Image.new("RGB", (8, 8), (50, 50, 50)).save(d / "b.png")  # RGB file, grey content
    r, x, _ = F.scan_folder(d, SMALL, use_cache=False)
    assert r.color == "grey" and x.shape == (2, 1, 8, 8)
    r, x, _ = F.scan_folder(d, F.FolderOptions(size=8, color="rgb"), use_cache=False)
    assert x.shape == (2, 3, 8, 8) and (x[:, 0] == x[:, 2]).all()
    Image.new("RGB", (8, 8), (250, 0, 0)).save(d / "c.png")
    r, x, _ = F.scan_folder(d, SMALL, use_cache=False)
    assert r.color == "rgb" and x.shape == (3, 3, 8, 8)
    assert (x[0] == 100).all()  # a grey image repeated over the three channels
    r, x, _ = F.scan_folder(d, F.FolderOptions(size=8, color="grey"), use_cache=False)
    assert x.shape == (3, 1, 8, 8) and 70 < x[2].mean() < 80  # luma of pure red ≈ 76


def test_flat_folder_is_unlabeled(tmp_path):
    for i in range(5):
        Image.new("L", (8, 8), i * 40).save(tmp_path / f"{i}.png")
    data, report = F.load_folder(tmp_path, SMALL)
    assert report.classes == [] and data.y_train is None and data.y_val is None
    assert data.spec.num_classes == 0 and data.n_train + data.n_val == 5 and data.n_val == 1


# -- cache -----------------------------------------------------------------------------------------
def _folder(tmp_path, n=6):
    root = tmp_path / "data"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(n // 2):
            Image.new("L", (10, 10), 30 * i + (100 if c == "b" else 0)).save(root / c / f"{i}.png")
    return root


def test_cache_hit_on_reopen_and_invalidated_when_a_file_changes(tmp_path, cache_env):
    root = _folder(tmp_path)
    r1, x1, y1 = F.scan_folder(root, SMALL)
    assert not r1.from_cache
    entries = list((cache_env / "folders").iterdir())
    assert len(entries) == 1 and (entries[0] / "x.npy").is_file()
    r2, x2, y2 = F.scan_folder(root, SMALL)
    assert r2.from_cache and isinstance(x2, np.memmap)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2) and r2.ok == r1.ok
    # a changed file (new content, size and mtime) is decoded again; the stale entry is dropped
    Image.new("L", (12, 12), 255).save(root / "a" / "0.png")
    os.utime(root / "a" / "0.png", ns=(1, 1))
    r3, x3, _ = F.scan_folder(root, SMALL)
    assert not r3.from_cache and (x3[0] == 255).all()
    assert len(list((cache_env / "folders").iterdir())) == 1
    # other preprocessing: another entry, both kept
    r4, x4, _ = F.scan_folder(root, F.FolderOptions(size=4))
    assert not r4.from_cache and x4.shape[-1] == 4
    assert len(list((cache_env / "folders").iterdir())) == 2
    # an added or removed file changes the key too
    (root / "b" / "0.png").unlink()
    assert not F.scan_folder(root, SMALL)[0].from_cache


def test_damaged_cache_entry_is_decoded_again(tmp_path, cache_env):
    root = _folder(tmp_path)
    F.scan_folder(root, SMALL)
    entry, = (cache_env / "folders").iterdir()
    (entry / "x.npy").write_bytes(b"garbage")
    r, x, _ = F.scan_folder(root, SMALL)
    assert not r.from_cache and x.shape == (6, 1, 8, 8)


# -- progress, cancel, parallel --------------------------------------------------------------------
def test_progress_reaches_total(tmp_path):
    root = _folder(tmp_path, 40)
    seen = []
    F.scan_folder(root, SMALL, ctx=TaskContext(lambda d, t, _: seen.append((d, t))),
                  use_cache=False)
    assert seen[0] == (0, 40) and seen[-1] == (40, 40)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_cancel_with_event_or_callable(tmp_path, cache_env):
    root = _folder(tmp_path, 40)
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        F.scan_folder(root, SMALL, ctx=TaskContext(should_stop=ev.is_set))
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 2  # fires mid-way through decoding
    with pytest.raises(Cancelled):
        F.scan_folder(root, SMALL, ctx=TaskContext(should_stop=cancel))
    assert not (cache_env / "folders").exists()  # nothing half-done was cached


def test_parallel_decoding_matches_serial(tmp_path, monkeypatch):
    root = _folder(tmp_path, 24)
    _, serial, ys = F.scan_folder(root, SMALL, workers=1, use_cache=False)
    monkeypatch.setattr(F, "PARALLEL_MIN_FILES", 1)
    seen = []
    _, par, yp = F.scan_folder(root, SMALL, workers=2, use_cache=False,
                               ctx=TaskContext(lambda d, t, _: seen.append(d)))
    assert np.array_equal(serial, par) and np.array_equal(ys, yp)
    assert seen[-1] == 24


# -- loading by path and from a run's description --------------------------------------------------
def test_load_dataset_by_path_with_options(tmp_path):
    root = _folder(tmp_path)
    data = load_dataset(str(root), image_size=12, color="rgb")
    assert data.spec.shape == (3, 12, 12) and data.spec.num_classes == 2
    assert data.name == "data" and data.class_names == ("a", "b")


def test_reload_from_description_gives_the_same_split(tmp_path):
    root = _folder(tmp_path, 20)
    data = load_dataset(str(root), image_size=8)
    again = load_described(data.describe())
    assert torch.equal(again.x_train, data.x_train) and torch.equal(again.y_val, data.y_val)
    assert load_dataset(data.source).spec == data.spec  # a bare source dict works too
    # the folder changes colour mode: the run's model would not fit any more
    Image.new("RGB", (10, 10), (255, 0, 0)).save(root / "a" / "red.png")
    with pytest.raises(DatasetError, match="has changed since the run"):
        load_described(data.describe())


def test_unknown_name_lists_every_kind():
    with pytest.raises(DatasetError) as ei:
        load_dataset("mnist6k")
    msg = str(ei.value)
    assert "mnist5k" in msg and "cifar10" in msg and "folder" in msg


def test_unguarded_script_falls_back_to_one_process(tmp_path):
    """A script without `if __name__ == "__main__":` cannot start spawned workers (they would
    re-run it); the scan still completes, in the calling process."""
    import subprocess
    import sys

    root = _folder(tmp_path, 8)
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import workbench.data.folder as F\n"
        "F.PARALLEL_MIN_FILES = 1\n"
        f"r, x, y = F.scan_folder({str(root)!r}, F.FolderOptions(size=8), workers=2,\n"
        "                         use_cache=False)\n"
        "print('OK', r.ok, x.shape)\n")
    env = dict(os.environ, PYTHONPATH=str(Path(F.__file__).resolve().parents[2]))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "OK 8 (8, 1, 8, 8)" in out.stdout


def test_training_job_takes_a_folder_path_or_its_source(tmp_path):
    """The GUI's training process gets `job["dataset"]`: a path or a source dict both work."""
    from workbench.core import config as C
    from workbench.models.registry import get_config
    from workbench.engine.remote import make_trainer
    from workbench.engine.trainer import TrainSettings

    root = _folder(tmp_path, 12)
    source = load_dataset(str(root), image_size=8).source
    for ds, side in ((str(root), 32), (source, 8)):
        job = {"model": "ae_mlp", "dataset": ds, "config": C.to_dict(get_config("ae_mlp")),
               "settings": C.to_dict(TrainSettings()), "run_dir": tmp_path / "run"}
        assert make_trainer(job).data.spec == DataSpec(shape=(1, side, side), num_classes=2)
