"""mtl's classical reconstruction baseline on the tiny world: the training rows' mean face per posture."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from thzface.data.csv import read_triplets
from thzface.data.io import load_image
from thzface.data.naming import NUM_POSTURES
from thzface.data.targets import load_clean_target
from thzface.recipes.mtl.mean_face import training_mean_faces, training_targets


def test_mean_faces_of_the_training_scans_clean_targets_else_their_unconcealed_scans(
    tiny_data: Path, tmp_path: Path
) -> None:
    rows = read_triplets(tiny_data / "train_val.csv", tiny_data, visible=False)
    anchors = sorted({r.anchor for r in rows})
    found = training_targets(tiny_data, rows, 16)
    assert found is not None
    images, postures = found
    assert images.shape == (len(anchors), 1, 16, 16) and len(postures) == len(anchors)
    first = load_clean_target(tiny_data, anchors[0], 16)  # each concealed scan's clean target, once
    assert first is not None and np.array_equal(images[0], first)
    means = training_mean_faces(tiny_data, rows, 16)
    assert means is not None and means.shape == (NUM_POSTURES, 1, 16, 16)
    p = int(postures[0])
    assert means[p] == pytest.approx(images[postures == p].mean(axis=0))
    real = tmp_path / "real"  # no clean/: the unconcealed counterpart scans instead
    shutil.copytree(tiny_data / "thz", real / "thz")
    images_real, _ = training_targets(real, rows, 16) or (None, None)
    assert images_real is not None
    counterpart = anchors[0].replace("_b", "_n", 1).replace("b_", "n_", 1)
    assert np.array_equal(images_real[0], load_image(real / "thz" / counterpart, 16, 1))
    assert training_targets(real, [], 16) is None and training_mean_faces(real, [], 16) is None
