"""Checkpoints: weights as safetensors, optimizer/RNG/step state as a torch file that loads with
weights_only=True. Every file is written atomically (temp file, fsync, os.replace), the state
file last, so a checkpoint whose state file exists is complete; a crash mid-write leaves the
previous checkpoint untouched."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workbench.core.atomic import atomic_write_bytes
from workbench.core.errors import CheckpointError

_NAME = re.compile(r"^step-(\d+)\.state\.pt$")


@dataclass(frozen=True)
class Checkpoint:
    step: int
    weights: Path
    state: Path


def list_checkpoints(ckpt_dir: Path) -> list[Checkpoint]:
    """Complete checkpoints in `ckpt_dir`, oldest first."""
    out = []
    if not Path(ckpt_dir).is_dir():
        return out
    for p in Path(ckpt_dir).iterdir():
        m = _NAME.match(p.name)
        if m:
            w = p.with_name(f"step-{m.group(1)}.safetensors")
            if w.exists():
                out.append(Checkpoint(int(m.group(1)), w, p))
    return sorted(out, key=lambda c: c.step)


def save_checkpoint(ckpt_dir: Path, step: int, model, state: dict, keep: int = 3) -> Checkpoint:
    import io

    import torch
    from safetensors.torch import save

    ckpt_dir = Path(ckpt_dir)
    weights = ckpt_dir / f"step-{step:08d}.safetensors"
    state_path = ckpt_dir / f"step-{step:08d}.state.pt"
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    try:
        atomic_write_bytes(weights, save(tensors, metadata={"step": str(step)}))
        atomic_write_bytes(state_path, buf.getvalue())
    except OSError as e:
        # A full disk or a vanished folder: the temp files are gone already; drop a weights file
        # without its state so the previous checkpoint stays the newest complete one.
        if not state_path.exists():
            weights.unlink(missing_ok=True)
        prev = [c.step for c in list_checkpoints(ckpt_dir) if c.step != step]
        kept = (f"the previous checkpoint (step {prev[-1]}) is intact" if prev
                else "no earlier checkpoint exists")
        raise CheckpointError(f"cannot save the checkpoint at step {step} in {ckpt_dir}: "
                              f"{e.strerror or e}; {kept}") from None
    if keep > 0:
        for old in list_checkpoints(ckpt_dir)[:-keep]:
            for p in (old.state, old.weights):
                p.unlink(missing_ok=True)
    return Checkpoint(step, weights, state_path)


def load_weights(model, path: Path) -> None:
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device=str(next(model.parameters()).device))
    except Exception as e:  # safetensors raises its own error types for truncated files
        raise CheckpointError(f"checkpoint weights {path} cannot be read ({e}); "
                              "the file is corrupt or incomplete") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path} does not fit this model: {first}") from None


def load_state(path: Path) -> dict:
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower():
            # weights_only refused an object that is no tensor or plain container: a pickle
            # that would import or call something. It was not run.
            raise CheckpointError(f"checkpoint state {path} was refused: it holds Python objects "
                                  "other than tensors and plain values (a pickle that could run "
                                  "code), so it was not loaded") from None
        raise CheckpointError(f"checkpoint state {path} cannot be read ({type(e).__name__}); "
                              "the file is corrupt or incomplete") from None
    except Exception as e:
        raise CheckpointError(f"checkpoint state {path} cannot be read ({type(e).__name__}); "
                              "the file is corrupt or incomplete") from None
