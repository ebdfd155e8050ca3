"""Sample sheets that carry their provenance and reproduce exactly.

`render_sheet(source, spec)` draws one sheet (samples, reconstructions, a traversal grid or
interpolation strips) and returns the picture with a provenance dict: run, step, seed, model,
config, dataset, the resolved spec and the workbench version. `save_sheet_with_provenance` writes
the PNG with that provenance in its text chunks and beside it as `FILE.png.json`.

Reproducibility: the same run, checkpoint step and spec give the same pixels, in the window
(`ui/panels/sheet_export.py`) and from `genworkbench sample` alike. The model runs on the CPU in
inference mode, the noise comes from a seeded CPU generator, and rendering uses one torch thread
so the order of floating-point sums — and so every rounded pixel — does not depend on how many
cores the caller happens to use.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import json
import math
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from workbench import __version__
from workbench.analysis.latent import LatentProbe, active_dims_first, interpolate, traversal_codes
from workbench.analysis.sheets import image_grid, points_image
from workbench.core import config as C
from workbench.core.atomic import atomic_save_png, atomic_write_bytes, atomic_write_text
from workbench.core.errors import ConfigError
from workbench.data import load_described
from workbench.engine.runs import RunDir
from workbench.models.registry import create_model

KINDS = ("samples", "reconstructions", "traversal", "interpolation")
BACKGROUNDS = {"white": 1.0, "black": 0.0, "grey": 0.5}
PNG_KEY = "genworkbench"  # the PNG text chunk holding the whole provenance as JSON
MAX_IMAGES = 4096


@dataclass(frozen=True)
class SheetSpec:
    """What a sheet shows and how it looks.

    samples          rows × cols draws from the prior (`n` of them when n > 0); a conditional
                     model shows one label per row with `label_rows`, one label with `label`,
                     else labels 0, 1, …, K−1 cycling along the sheet
    reconstructions  `rows` pairs of rows: validation images above the model's copies (which
                     images: a random draw with `seed`)
    traversal        one row per latent dimension (`dims`; empty = the most informative first
                     by KL where the model has a posterior, else 0, 1, …), `cols` values from
                     −span to +span around the zero code
    interpolation    one strip per row, `cols` steps (`method` linear or slerp): row r walks from
                     validation image index_a + r to index_b + r, or, for a model without an
                     encoder (a GAN), between two codes drawn with `seed`
    """

    kind: Literal["samples", "reconstructions", "traversal", "interpolation"] = "samples"
    rows: int = 8
    cols: int = 8
    n: int = 0  # samples only: how many to draw (0 = rows × cols); the grid is `cols` wide
    padding: int = 2
    background: Literal["white", "black", "grey"] = "white"
    upscale: int = 1  # nearest-neighbour factor, for small images
    seed: int = 0
    label: int | None = None
    label_rows: bool = False
    caption: bool = False
    dims: tuple[int, ...] = ()
    span: float = 3.0
    index_a: int = 0
    index_b: int = 1
    method: Literal["linear", "slerp"] = "linear"

    def check(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown sheet kind {self.kind!r}: one of {', '.join(KINDS)}")
        if self.background not in BACKGROUNDS:
            raise ConfigError(f"unknown background {self.background!r}: "
                              f"{', '.join(BACKGROUNDS)}")
        if self.method not in ("linear", "slerp"):
            raise ConfigError(f"unknown interpolation {self.method!r}: linear or slerp")
        for name, lo, hi in (("rows", 1, 256), ("cols", 1, 256), ("padding", 0, 64),
                             ("upscale", 1, 16), ("n", 0, MAX_IMAGES)):
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise ConfigError(f"sheet {name} must lie in {lo}..{hi}, not {v}")
        if self.rows * self.cols > MAX_IMAGES:
            raise ConfigError(f"a sheet holds at most {MAX_IMAGES} images, not "
                              f"{self.rows} × {self.cols}")
        if self.kind == "interpolation" and self.cols < 2:
            raise ConfigError("an interpolation strip needs at least 2 columns (steps)")
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"the seed must be a non-negative integer, not {self.seed}")
        if not (math.isfinite(self.span) and self.span > 0):
            raise ConfigError(f"the traversal span must be a positive number, not {self.span}")

    @property
    def count(self) -> int:
        """How many samples a samples sheet draws."""
        return self.n or self.rows * self.cols

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["dims"] = list(self.dims)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SheetSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown sheet field(s) {', '.join(sorted(unknown))} (written by "
                              "another workbench version?)")
        d = dict(d)
        if "dims" in d:
            d["dims"] = tuple(int(x) for x in d["dims"])
        return cls(**d)


@contextlib.contextmanager
def _one_thread():
    n = torch.get_num_threads()
    if n != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if n != 1:
            torch.set_num_threads(n)


# == where the weights come from ==================================================================
def _resolve(source, step: int | None):
    """(CPU model in eval mode, provenance base) from a run directory, a snapshot dict or a
    model."""
    if isinstance(source, (str, Path)):
        source = RunDir.open(Path(source))
    if isinstance(source, RunDir):
        model = source.load_model("cpu", step=step)
        return model, {"run": str(source.path.resolve()), "step": int(model.loaded_step),
                       "checkpoint": f"step-{int(model.loaded_step)}",
                       "model": source.model_name, "config": source.meta["config"],
                       "dataset": source.meta["dataset"], "run_seed": source.meta.get("seed")}
    if isinstance(source, dict):  # the window's snapshot {"model", "config", "spec", "state", …}

        model = create_model(source["model"], data=source["spec"], config=source["config"])
        model.load_state_dict({k: torch.as_tensor(v) for k, v in source["state"].items()})
        run, step = source.get("run"), source.get("step")
        kept = run is not None and step is not None and any(
            c.step == step for c in RunDir(Path(run), {}).checkpoints())
        return model.eval(), {"run": str(Path(run).resolve()) if run else None,
                              "step": step, "model": source["model"],
                              # live weights between checkpoints cannot be loaded again
                              "checkpoint": f"step-{int(step)}" if kept else None,
                              "config": C.to_dict(source["config"]),
                              "dataset": source.get("dataset")}
    if isinstance(source, torch.nn.Module):
        model = copy.deepcopy(source).cpu().eval()  # never flip the caller's model to eval
        return model, {"run": None, "step": getattr(source, "loaded_step", None),
                       "checkpoint": None,
                       "model": getattr(source, "registry_name", type(source).__name__),
                       "config": C.to_dict(source.config), "dataset": None}
    raise ConfigError(f"cannot render a sheet from a {type(source).__name__}: pass a run "
                      "directory, a weights snapshot or a model")


def _need_data(data, run_dataset, what: str):
    if data is not None:
        return data
    if run_dataset:
        return load_described(run_dataset)
    raise ConfigError(f"{what} needs the dataset's validation images; none was given")


# == rendering ====================================================================================
def render_sheet(source, spec: SheetSpec, data=None, *, step: int | None = None,
                 dataset: dict | None = None):
    """Draw a sheet: (H×W×C uint8 array, provenance dict).

    `source`: a run directory (path or RunDir; `step` picks a checkpoint, default the newest),
    the window's weights snapshot dict (optionally with "run" and "dataset"), or a model.
    `data`: a TensorData for the kinds that show real images (loaded from the run's recorded
    dataset when omitted). `dataset`: its description, for the provenance."""
    spec.check()
    model, prov = _resolve(source, step)
    if dataset is not None:
        prov["dataset"] = dataset
    elif prov.get("dataset") is None and data is not None:
        prov["dataset"] = data.describe()
    with _one_thread(), torch.inference_mode():
        x, nrow, spec = _draw(model, spec, data, prov.get("dataset"), prov["model"])
    if model.data.kind == "points":
        grid = points_image(x)
    else:
        grid = image_grid(x, nrow=nrow, padding=spec.padding,
                          pad_value=BACKGROUNDS[spec.background])
    if spec.upscale > 1:
        grid = np.repeat(np.repeat(grid, spec.upscale, axis=0), spec.upscale, axis=1)
    prov = {"genworkbench_version": __version__, **prov, "seed": spec.seed,
            "kind": spec.kind, "spec": spec.to_dict()}
    prov["command"] = cli_command(prov)
    if spec.caption:
        grid = add_caption(grid, caption_text(prov), spec.background)
    return np.ascontiguousarray(grid), prov


def _labels(model, spec: SheetSpec, n: int, cols: int, name: str = "this model"):
    if not model.conditional:
        if spec.label is not None or spec.label_rows:
            raise ConfigError(f"{name} is not conditional: labels do not apply")
        return None
    k = model.num_classes
    if spec.label is not None and not 0 <= spec.label < k:
        raise ConfigError(f"the label must lie in 0..{k - 1}, not {spec.label}")
    if spec.label_rows:
        return (torch.arange(n) // cols) % k
    if spec.label is not None:
        return torch.full((n,), spec.label, dtype=torch.long)
    return torch.arange(n) % k


def _draw(model, spec: SheetSpec, data, run_dataset, name: str):
    """The images (N×C×H×W float in [0, 1], or N×2 points), the grid width, and the spec with
    everything chosen on the way (traversal dims) filled in."""
    g = torch.Generator().manual_seed(spec.seed)
    points = model.data.kind == "points"
    if points and spec.kind != "samples":
        raise ConfigError(f"a 2-D point model draws samples sheets only, not {spec.kind}")

    if spec.kind == "samples":
        if not model.can("sample"):
            raise ConfigError(f"{name} cannot draw samples (an autoencoder has no prior); try "
                              "reconstructions, a traversal or an interpolation")
        n = spec.count
        labels = _labels(model, spec, n, spec.cols, name)
        x = model.sample(n, labels=labels, generator=g).float().cpu().numpy()
        return x, spec.cols, spec

    if spec.kind == "reconstructions":
        if not model.can("reconstruct"):
            raise ConfigError(f"{name} cannot reconstruct (a GAN has no encoder); try samples")
        data = _need_data(data, run_dataset, "a reconstructions sheet")
        n = spec.rows * spec.cols
        if n > data.n_val:
            raise ConfigError(f"{n} reconstructions asked for, but the validation set holds "
                              f"{data.n_val} images")
        idx = torch.randperm(data.n_val, generator=g)[:n]
        x = data.x_val[idx].float().cpu()
        y = data.y_val[idx].cpu() if (data.y_val is not None and model.conditional) else None
        r = model.reconstruct(x, y).float().cpu()
        c = spec.cols
        rows = []
        for i in range(spec.rows):  # input row above output row
            rows += [x[i * c:(i + 1) * c], r[i * c:(i + 1) * c]]
        return torch.cat(rows).numpy(), c, spec

    if not model.can("decode"):
        raise ConfigError(f"{name} has no decoder to walk its latent space")

    probe = LatentProbe(model)
    label = _labels(model, dataclasses.replace(spec, label_rows=False), 1, 1, name)
    label = None if label is None else int(label[0])

    if spec.kind == "traversal":
        dims = tuple(spec.dims)
        if not dims:
            kl = None
            if probe.has_posterior:
                d = _need_data(data, run_dataset, "choosing traversal dimensions by KL")
                xv = d.x_val[:500].float().cpu()
                yv = d.y_val[:500].cpu().numpy() if (d.y_val is not None and probe.conditional) \
                    else None
                kl = probe.kl_per_dim(xv.numpy(), yv)
            dims = tuple(active_dims_first(kl, probe.dim)[:spec.rows])
        bad = [d for d in dims if not 0 <= d < probe.dim]
        if bad:
            raise ConfigError(f"traversal dimension {bad[0]} is outside 0..{probe.dim - 1}")
        spec = dataclasses.replace(spec, dims=dims, rows=len(dims))
        values = np.linspace(-spec.span, spec.span, spec.cols)
        z = traversal_codes(np.zeros(probe.dim, np.float32), dims, values)
        return probe.decode(z, label), spec.cols, spec

    # interpolation
    ends = []
    if probe.can_encode:
        data = _need_data(data, run_dataset, "an interpolation between images")
        for r in range(spec.rows):
            ia, ib = spec.index_a + r, spec.index_b + r
            if max(ia, ib) >= data.n_val or min(ia, ib) < 0:
                raise ConfigError(f"image index {max(ia, ib)} is outside the validation set "
                                  f"(0..{data.n_val - 1})")
            xs = data.x_val[[ia, ib]].float().cpu().numpy()
            ys = data.y_val[[ia, ib]].cpu().numpy() if (data.y_val is not None
                                                        and probe.conditional) else None
            za, zb = probe.encode(xs, ys)
            ends.append((za, zb, None if ys is None else int(ys[0])))
    else:  # a GAN: between two codes from the prior
        z = torch.randn(2 * spec.rows, probe.dim, generator=g).numpy()
        ends = [(z[2 * r], z[2 * r + 1], label) for r in range(spec.rows)]
    out = [probe.decode(interpolate(za, zb, spec.cols, spec.method), lab)
           for za, zb, lab in ends]
    return np.concatenate(out), spec.cols, spec


# == caption ======================================================================================
def caption_text(prov: dict) -> str:
    step = prov.get("step")
    parts = [prov.get("model") or "model", f"step {step}" if step is not None else "",
             f"seed {prov.get('seed')}", prov.get("kind") or ""]
    return " · ".join(p for p in parts if p)


def add_caption(grid, text: str, background: str = "white"):
    """A strip under the grid with `text` in Pillow's default font (cut with … to fit)."""
    grey = grid.ndim == 2 or grid.shape[2] == 1
    g2 = grid[:, :, 0] if grid.ndim == 3 and grey else grid
    w = g2.shape[1]
    font = ImageFont.load_default()
    bg = round(BACKGROUNDS[background] * 255)
    fg = 255 if bg < 128 else 0
    mode = "L" if grey else "RGB"
    probe = ImageDraw.Draw(Image.new(mode, (1, 1)))
    # the default font's space is 2 px wide at this size, which runs "step 350" together:
    # words are set one by one with a wider gap
    gap = max(font.getlength(" "), 4.0)

    def width(s):
        words = s.split(" ")
        return sum(font.getlength(w) for w in words) + gap * (len(words) - 1)

    margin = 3
    while text and width(text) > w - 2 * margin and len(text) > 1:
        text = text[:-2] + "…"
    _, top, _, bottom = probe.textbbox((0, 0), "Ag·0", font=font)
    strip_h = (bottom - top) + 2 * margin
    strip = Image.new(mode, (w, strip_h), bg if grey else (bg, bg, bg))
    draw, x = ImageDraw.Draw(strip), float(margin)
    for word in text.split(" "):
        draw.text((x, margin - top), word, font=font, fill=fg if grey else (fg, fg, fg))
        x += font.getlength(word) + gap
    s = np.asarray(strip)
    out = np.concatenate([g2, s], axis=0)
    return out[:, :, None] if grid.ndim == 3 and grey else out


# == files ========================================================================================
def sidecar_path(png: Path) -> Path:
    return Path(str(png) + ".json")


def png_text(provenance: dict) -> dict[str, str]:
    """The PNG text chunks: the whole provenance as JSON, and a few keys a person can read in
    any image viewer's properties."""
    text = {PNG_KEY: json.dumps(provenance, sort_keys=True)}
    for key, chunk in (("model", "Model"), ("run", "Run"), ("step", "Step"), ("seed", "Seed"),
                       ("kind", "Sheet")):
        if provenance.get(key) is not None:
            text[chunk] = str(provenance[key])
    text["Software"] = f"genworkbench {provenance.get('genworkbench_version', '')}".strip()
    return text


def save_sheet_with_provenance(path: Path, array, provenance: dict) -> Path:
    """Write the PNG (provenance in its text chunks) and `path.json` beside it, each
    atomically."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"a sample sheet is written as .png, not {path.name!r}")
    atomic_save_png(array, path, png_text(provenance))
    atomic_write_text(sidecar_path(path), json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    return path


def read_provenance(path: Path) -> dict:
    """The provenance of a sheet: from its PNG text chunk, or from a `.png.json` sidecar."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            return json.loads(path.read_text("utf-8"))

        with Image.open(path) as im:
            im.load()
            text = dict(getattr(im, "text", {}) or {})
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read the provenance of {path}: {e}") from None
    if PNG_KEY not in text:
        raise ConfigError(f"{path} carries no genworkbench provenance")
    return json.loads(text[PNG_KEY])


def cli_command(prov: dict) -> str | None:
    """The `genworkbench sample` command that draws this sheet again (None without a run, or
    from live weights that no checkpoint holds)."""
    if not prov.get("run") or not prov.get("checkpoint"):
        return None
    s = SheetSpec.from_dict(prov["spec"])
    d = SheetSpec()
    args = ["genworkbench", "sample", prov["run"], "--step", str(prov["step"])]
    if s.kind != d.kind:
        args += ["--kind", s.kind]
    args += ["--rows", str(s.rows), "--cols", str(s.cols)]
    if s.n:
        args += ["--n", str(s.n)]
    for name in ("padding", "background", "upscale", "seed"):
        if getattr(s, name) != getattr(d, name):
            args += ["--" + name, str(getattr(s, name))]
    if s.label is not None:
        args += ["--label", str(s.label)]
    args += ["--label-rows"] * s.label_rows + ["--caption"] * s.caption
    if s.kind == "traversal":
        args += ["--dims", ",".join(map(str, s.dims)), "--span", repr(s.span)]
    if s.kind == "interpolation":
        args += ["--index-a", str(s.index_a), "--index-b", str(s.index_b), "--method", s.method]
    return " ".join(shlex.quote(a) for a in args + ["--out", "FILE.png"])


def rerender(provenance: dict, data=None):
    """Render again what a provenance dict describes (same run, same step, same spec)."""
    run = provenance.get("run")
    if not run:
        raise ConfigError("this sheet was not made from a run directory (no 'run' in its "
                          "provenance), so it cannot be rendered again")
    if provenance.get("checkpoint", "") is None:
        raise ConfigError(f"this sheet was drawn from live weights at step "
                          f"{provenance.get('step')} that no checkpoint holds, so it cannot be "
                          "rendered again; export from a checkpoint (open the run) instead")
    try:
        spec = SheetSpec.from_dict(provenance["spec"])
    except (KeyError, TypeError) as e:
        raise ConfigError(f"the provenance has no usable sheet spec ({e})") from None
    return render_sheet(run, spec, data, step=provenance.get("step"))


# == animated GIF over training (the frames: engine/runs.py) ======================================
def write_gif(frames, path: Path, fps: float = 4.0, captions: list[str] | None = None) -> Path:
    """H×W×C uint8 frames -> an animated GIF (looping; the last frame held 4× as long)."""
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ConfigError("no frames to animate")
    if captions:
        frames = [add_caption(f, c) for f, c in zip(frames, captions, strict=True)]
    shape = frames[0].shape
    if any(f.shape != shape for f in frames):
        raise ConfigError("the frames differ in size (the run changed its sheet?)")
    ims = [Image.fromarray(f[:, :, 0] if f.ndim == 3 and f.shape[2] == 1 else f)
           for f in frames]
    ms = max(20, round(1000 / max(fps, 0.1)))
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], loop=0,
                duration=[ms] * (len(ims) - 1) + [ms * 4], disposal=1)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
