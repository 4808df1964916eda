"""Skeptic baselines with hand-computed values: raw-pixel cosine / nearest neighbour, copy-the-input, majority."""

from __future__ import annotations

import math

import numpy as np
import pytest

from thzface.metrics.baselines import (
    copy_baseline,
    majority_accuracy,
    nearest_neighbour_accuracy,
    pixel_pair_scores,
    skeptic_baselines,
)


def test_pixel_pair_scores() -> None:
    imgs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]).reshape(4, 1, 1, 2)
    s = pixel_pair_scores(imgs, [[0, 1], [0, 2], [2, 2], [0, 3]])
    assert np.allclose(s, [0.0, 1 / math.sqrt(2), 1.0, 0.0])  # a black image scores 0
    with pytest.raises(ValueError, match="indices into 4 images"):
        pixel_pair_scores(imgs, [[0, 4]])


FEATS = np.array([[1, 0], [1, 0.01], [0.9, 0.3], [0, 1], [0.2, 1]])
IDS = np.array(["A", "A", "B", "A", "B"])


def test_nearest_neighbour_excludes_the_querys_own_capture() -> None:
    # without captures: 0↔1 find each other (A, right); 2→1 (A), 3→4 (B), 4→3 (A) wrong → 2/5
    assert nearest_neighbour_accuracy(FEATS, IDS) == (pytest.approx(2 / 5), 5)
    # 0 and 1 are one capture: 0→2 (B), 1→2 (B) now wrong too → 0/5
    assert nearest_neighbour_accuracy(FEATS, IDS, captures=[0, 0, 1, 2, 3]) == (0.0, 5)
    lone = nearest_neighbour_accuracy(FEATS[:4], ["A", "A", "B", "A"])  # B has no other item: not scored
    assert lone.queries == 3 and lone.accuracy == pytest.approx(2 / 3)  # 0→1, 1→0 right; 3→2 (B) wrong


def test_copy_baseline_hand_computed() -> None:
    x = np.full((2, 1, 16, 16), 0.5)
    out = copy_baseline(x, x.copy(), clean=np.full((2, 1, 16, 16), 0.75))
    assert out["vs_scan"]["ssim"] == pytest.approx(1.0) and out["vs_scan"]["psnr"] == math.inf
    c1, c2 = 0.01**2, 0.03**2  # constant images: the contrast-structure term is C2 / C2 = 1
    assert out["vs_clean"]["ssim"] == pytest.approx((2 * 0.5 * 0.75 + c1) / (0.5**2 + 0.75**2 + c1) * c2 / c2)
    assert out["vs_clean"]["psnr"] == pytest.approx(10 * math.log10(1 / 0.25**2))  # 12.04 dB
    mask = np.zeros((2, 1, 16, 16))
    mask[:, :, 4:12, 4:12] = 1
    assert copy_baseline(x, x.copy(), mask=mask)["vs_scan"]["ssim"] == pytest.approx(1.0)


def test_majority_accuracy() -> None:
    assert majority_accuracy([0, 1, 1, 1], y_train=[0, 0, 1]) == 0.25  # training majority is 0
    assert majority_accuracy([0, 1, 1, 1]) == 0.75
    assert majority_accuracy([2, 1], y_train=[1, 2]) == 0.5  # tie → smallest id (1)


def test_skeptic_baselines_block() -> None:
    rng = np.random.default_rng(0)
    base = rng.random((3, 1, 8, 8))
    thz = np.clip(np.repeat(base, 2, axis=0) + 0.01 * rng.random((6, 1, 8, 8)), 0, 1)  # 3 people × 2 captures
    ids = np.array([0, 0, 1, 1, 2, 2])
    pairs = np.array([[0, 1], [2, 3], [4, 5], [0, 2], [1, 4], [3, 5]])
    out = skeptic_baselines(
        thz, ids, pairs, [1, 1, 1, 0, 0, 0], scan=thz, posture=[0, 1, 0, 1, 0, 0], posture_train=[1, 1, 0]
    )
    assert set(out) == {"raw_pixel_cosine", "raw_pixel_nearest_neighbour", "copy_input", "majority_posture_accuracy"}
    assert out["raw_pixel_cosine"]["eer"] == 0.0 and out["raw_pixel_nearest_neighbour"]["accuracy"] == 1.0
    assert out["majority_posture_accuracy"] == pytest.approx(2 / 6)
    assert set(skeptic_baselines(thz, ids)) == {"raw_pixel_nearest_neighbour"}
    with pytest.raises(ValueError, match="without pair_labels"):
        skeptic_baselines(thz, ids, pairs)
