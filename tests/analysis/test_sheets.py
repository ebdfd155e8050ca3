"""Sample sheets: image grids and 2-D scatters written as PNG."""

from __future__ import annotations

import numpy as np
from PIL import Image

from workbench.analysis.sheets import image_grid, points_image, save_sheet


def test_image_grid_layout_and_values():
    imgs = np.stack([np.full((1, 4, 4), v, np.float32) for v in (0.0, 0.2, 0.4, 0.6, 2.0)])
    g = image_grid(imgs)  # 5 images -> 3 per row, 2 rows, 2-px white padding
    assert g.dtype == np.uint8 and g.shape == (2 * 6 + 2, 3 * 6 + 2, 1)
    assert g[0, 0, 0] == 255  # padding
    assert g[2, 2, 0] == 0  # image 0
    assert g[2, 8, 0] == round(0.2 * 255)  # image 1, right of image 0
    assert g[8, 2, 0] == round(0.6 * 255)  # image 3 starts the second row
    assert g[8, 8, 0] == 255  # 2.0 is clamped to 1
    assert image_grid(imgs, nrow=5).shape == (6 + 2, 5 * 6 + 2, 1)


def test_image_grid_colour():
    g = image_grid(np.zeros((2, 3, 4, 4), np.float32), nrow=2)
    assert g.shape == (8, 14, 3)


def test_points_image():
    pts = np.array([[0.0, 0.0], [0.5, 0.5], [np.nan, 1.0], [5.0, 0.0]])
    img = points_image(pts, size=101, extent=1.0)
    assert img.shape == (101, 101, 3) and img.dtype == np.uint8
    white = (img == 255).all(-1)
    assert not white[50, 50]  # the origin sits in the middle
    assert not white[100 - 75, 75]  # (0.5, 0.5): right of and above the middle (y points up)
    assert white[75, 75] and white[0, 0]
    assert (~white).sum() == 2 * 9  # two 3×3 dots; NaN and out-of-range points are dropped


def test_points_image_auto_extent_keeps_every_point():
    pts = np.array([[-4.0, -4.0], [4.0, 4.0]])
    img = points_image(pts, size=64)
    assert (~(img == 255).all(-1)).sum() == 2 * 9


def test_save_sheet_images_and_points(tmp_path):
    p = save_sheet(np.random.default_rng(0).random((16, 1, 28, 28), dtype=np.float32),
                   tmp_path / "sub" / "grid.png")
    with Image.open(p) as im:
        assert im.format == "PNG" and im.mode == "L" and im.size == (4 * 30 + 2, 4 * 30 + 2)
    p = save_sheet(np.random.default_rng(0).normal(size=(100, 2)), tmp_path / "pts.png")
    with Image.open(p) as im:
        assert im.mode == "RGB" and im.size == (512, 512)
    assert sorted(f.name for f in tmp_path.rglob("*") if f.is_file()) == ["grid.png", "pts.png"]
