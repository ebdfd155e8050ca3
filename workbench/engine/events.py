"""Small events the trainer yields. Metrics are floats, samples are numpy: cheap to pass between
threads, and easy to print (CLI), plot (GUI) or assert on (tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Started:
    model: str
    device: str
    start_step: int  # > 0 when resuming
    total_steps: int
    steps_per_epoch: int
    batch_size: int
    run_dir: Path | None
    plot_groups: tuple = ()
    warnings: tuple[str, ...] = ()  # said once: e.g. a batch size cut to a small training set


@dataclass
class Metrics:
    step: int
    epoch: int
    phase: str  # "train" (mean over the last logging interval) or "val" (whole validation set)
    values: dict[str, float]
    time: float  # seconds of training since the run started
    images_per_s: float = 0.0


@dataclass
class Samples:
    """Sample and reconstruction grids from fixed noise / fixed validation images."""

    step: int
    samples: Any = None  # np.ndarray N×C×H×W in [0,1] (or N×2 points), or None
    inputs: Any = None  # validation inputs ...
    reconstructions: Any = None  # ... and their reconstructions


@dataclass
class CheckpointSaved:
    step: int
    path: Path


@dataclass
class Finished:
    step: int
    reason: str  # "completed" | "stopped" | "diverged"
    message: str = ""
    checkpoint: Path | None = None
    extra: dict = field(default_factory=dict)


Event = Started | Metrics | Samples | CheckpointSaved | Finished
