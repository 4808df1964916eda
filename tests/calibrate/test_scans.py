"""Loading scan folders for calibration: pairing, and the one-line errors for folders it cannot use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thzface.calibrate.scans import CalibrationDataError, load_scans


def _write(folder: Path, n_ids: int, size: int = 32, both: bool = True, seed: int = 0) -> None:
    (folder / "thz").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n_ids):
        for c in ("b", "n") if both else ("b",):
            img = (rng.random((size, size)) * 255).astype(np.uint8)
            Image.fromarray(img).save(folder / "thz" / f"id{i}_{c}1{c}_1.png")


def test_load_scans_pairs_concealed_and_unconcealed(tmp_path: Path) -> None:
    _write(tmp_path, 7)
    _write(tmp_path / "x", 1)  # a sub-folder is not read
    (tmp_path / "thz" / "notes.png").write_bytes(b"")  # not a seed name: skipped, not read
    s = load_scans(tmp_path)
    assert len(s) == 7 and s.images == 14 and s.pairs == 7 and s.size == 32
    assert s.skipped == ["notes.png"]
    assert s.concealed.shape == (7, 32, 32) and s.concealed.dtype == np.float32
    assert 0.0 <= s.unconcealed.min() and s.unconcealed.max() <= 1.0


def test_load_scans_accepts_unpaired_scans(tmp_path: Path) -> None:
    _write(tmp_path, 12, both=False)
    s = load_scans(tmp_path)
    assert s.pairs == 0 and s.has_concealed.all() and not s.has_unconcealed.any()
    assert not s.unconcealed.any()


def test_too_few_images_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, 3)
    with pytest.raises(CalibrationDataError, match="6 scans; calibration needs at least 12"):
        load_scans(tmp_path)


def test_mixed_sizes_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, 6)
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(tmp_path / "thz" / "idx_n2n_1.png")
    with pytest.raises(CalibrationDataError, match="mixed image sizes 32x32 .*48x48"):
        load_scans(tmp_path)


def test_non_square_tiny_empty_and_missing_folders_are_errors(tmp_path: Path) -> None:
    with pytest.raises(CalibrationDataError, match="not a folder"):
        load_scans(tmp_path / "nope")
    with pytest.raises(CalibrationDataError, match="no seed-named PNG scans"):
        load_scans(tmp_path)
    _write(tmp_path / "tiny", 8, size=8)
    with pytest.raises(CalibrationDataError, match="8x8; calibration needs at least 16 px"):
        load_scans(tmp_path / "tiny")
    _write(tmp_path / "rect", 8)
    Image.fromarray(np.zeros((32, 40), np.uint8)).save(tmp_path / "rect" / "thz" / "idr_b1b_1.png")
    with pytest.raises(ValueError, match="expected a square image"):
        load_scans(tmp_path / "rect")
