"""Sample sheets: image grids (torchvision's make_grid) and scatter sheets for 2-D points."""

from __future__ import annotations

import math
from pathlib import Path

from workbench.core.atomic import atomic_save_png


def image_grid(images, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0):
    """N×C×H×W array in [0, 1] -> H'×W'×C uint8 grid (C = 1 or 3)."""
    import numpy as np
    import torch
    from torchvision.utils import make_grid

    t = torch.as_tensor(np.asarray(images, dtype=np.float32)).clamp(0, 1)
    nrow = nrow or max(1, int(math.ceil(math.sqrt(len(t)))))
    grid = make_grid(t, nrow=nrow, padding=padding, pad_value=pad_value)  # 3×H×W
    if t.shape[1] == 1:
        grid = grid[:1]
    return (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def points_image(points, size: int = 512, extent: float | None = None):
    """N×2 points -> size×size×3 uint8 scatter (dark dots on white), centred on the origin."""
    import numpy as np

    p = np.asarray(points, dtype=np.float64)
    if extent is None:
        finite = p[np.isfinite(p).all(1)]
        extent = float(np.abs(finite).max()) * 1.1 if len(finite) else 1.0
    img = np.full((size, size, 3), 255, np.uint8)
    ij = ((p / max(extent, 1e-9)) * 0.5 + 0.5) * (size - 1)
    ok = np.isfinite(ij).all(1) & (ij >= 0).all(1) & (ij <= size - 1).all(1)
    cols = ij[ok, 0].astype(int)
    rows = (size - 1 - ij[ok, 1]).astype(int)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            img[np.clip(rows + dr, 0, size - 1), np.clip(cols + dc, 0, size - 1)] = (30, 60, 160)
    return img


def sheet_array(x, nrow: int | None = None):
    """Samples as one picture: an image grid, or a scatter for 2-D points (H×W×C uint8)."""
    import numpy as np

    x = np.asarray(x)
    return points_image(x) if x.ndim == 2 else image_grid(x, nrow=nrow)


def save_sheet(x, path: Path, nrow: int | None = None, text: dict[str, str] | None = None) -> Path:
    """Write samples as a PNG sheet (with optional PNG text chunks for provenance)."""
    atomic_save_png(sheet_array(x, nrow), Path(path), text)
    return Path(path)
