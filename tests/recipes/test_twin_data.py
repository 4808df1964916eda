"""recipes.twin_data: part boxes rescaled like the images (centre crop + resize), aux errors, photometric aug."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thzface.data.augment import PROFILES, photometric_augment
from thzface.data.io import ImageError
from thzface.recipes.twin.data import read_part_boxes, scale_boxes


def test_scale_boxes_follows_centre_crop_and_resize():
    boxes = np.array([[20.0, 10.0, 30.0, 20.0]])
    # 80x40 image: centre crop keeps x in [20, 60), then 40 px → 32 px (×0.8)
    np.testing.assert_allclose(scale_boxes(boxes, (80, 40), 32), [[0.0, 8.0, 8.0, 16.0]])
    np.testing.assert_allclose(scale_boxes(boxes, (64, 64), 32), boxes / 2)


def test_read_part_boxes(tmp_path):
    good = np.tile(np.array([[1.0, 2.0, 5.0, 6.0]], np.float32), (5, 1))
    np.savez(tmp_path / "ok.npz", part_boxes=good)
    np.testing.assert_allclose(read_part_boxes(tmp_path / "ok.npz", (64, 64), 32), good / 2)
    np.savez(tmp_path / "nokey.npz", depth=np.zeros((4, 4)))
    assert read_part_boxes(tmp_path / "nokey.npz", (64, 64), 32) is None
    assert read_part_boxes(tmp_path / "absent.npz", (64, 64), 32) is None
    np.savez(tmp_path / "shape.npz", part_boxes=good[:4])
    with pytest.raises(ImageError, match=r"shape.npz: part_boxes must be finite with shape \(5, 4\)"):
        read_part_boxes(tmp_path / "shape.npz", (64, 64), 32)
    np.savez(tmp_path / "flip.npz", part_boxes=good[:, [2, 1, 0, 3]])
    with pytest.raises(ImageError, match="flip.npz: part_boxes need x1 >= x0 and y1 >= y0"):
        read_part_boxes(tmp_path / "flip.npz", (64, 64), 32)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ImageError, match="bad.npz: unreadable aux file"):
        read_part_boxes(tmp_path / "bad.npz", (64, 64), 32)


def test_photometric_augment_keeps_pixels_in_place():
    aug = photometric_augment("strong", 1.0)
    pr, strong = aug.profile, PROFILES["strong"]
    assert (pr.rotation_deg, pr.scale, pr.translate_px, pr.crop_area) == (0.0, (1.0, 1.0), 0.0, (1.0, 1.0))
    assert (pr.stripe_p, pr.cutout_p, pr.band_p, pr.noise_sigma) == (
        strong.stripe_p, strong.cutout_p, strong.band_p, strong.noise_sigma)  # fmt: skip
    x = torch.zeros(1, 1, 32, 32)
    x[..., 10:14, 20:24] = 1.0  # a bright square
    y = aug(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y[..., 10:14, 20:24].mean() > 0.5 > y[..., :8, :8].mean()
    with pytest.raises(ValueError, match="aug.profile 'wild'"):
        photometric_augment("wild", 1.0)
