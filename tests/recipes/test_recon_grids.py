"""Every reconstruction grid shows the clean target where the folder has one, and no such column where not."""

from __future__ import annotations

import numpy as np

from thzface.recipes.inpaint.report import unconceal_columns
from thzface.recipes.mtl.report import grid_columns
from thzface.recipes.unmask3d.report import clean_note


def _images(n: int, value: float) -> np.ndarray:
    return np.full((n, 1, 4, 4), value, np.float32)  # (n, 1, 4, 4)


def test_mtl_grid_has_a_clean_target_column_only_with_clean_targets() -> None:
    c = {k: _images(3, v) for k, v in (("anchor", 0.1), ("rec", 0.2), ("rec_oracle", 0.3), ("target", 0.4))}
    pick = np.array([0, 2])
    assert "clean target" not in grid_columns(c, pick)
    cols = grid_columns({**c, "clean": _images(3, 0.9)}, pick)
    assert list(cols)[-1] == "clean target" and cols["clean target"].shape == (2, 1, 4, 4)
    assert float(cols["clean target"].max()) == np.float32(0.9) and "unconcealed (other pose)" in cols


def test_inpaint_unconceal_grid_and_unmask3d_note_follow_the_clean_targets() -> None:
    s = {k: _images(2, 0.5) for k in ("input", "mask", "output", "scan")}
    assert "clean target" not in unconceal_columns({**s, "clean": None})
    assert unconceal_columns({**s, "clean": _images(2, 0.7)})["clean target"][0, 0, 0, 0] == np.float32(0.7)
    assert "No clean target" in clean_note({"clean": None}) and "noise-free" in clean_note({"clean": _images(1, 0)})
