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


def test_mtl_headline_puts_the_clean_target_ssim_beside_copy_and_the_mean_face() -> None:
    from thzface.recipes.mtl.report import headline

    rec = {
        "predicted": {"ssim": 0.5, "clean_ssim": 0.6, "clean_head_ssim": 0.55},
        "copy_input": {"ssim": 0.4, "clean_ssim": 0.5, "clean_head_ssim": 0.45},
        "mean_face": {"ssim": 0.3, "clean_ssim": 0.62, "clean_head_ssim": 0.6},
    }
    p = {"verification": {"eer": 0.3, "pairs": 10}, "baselines": {}, "posture": {"accuracy": 0.9}, "rows": 4,
         "identities": 2, "reconstruction": rec}  # fmt: skip
    rows = headline({"protocols": {"identity-disjoint": p}})
    copy = rows["head SSIM vs clean target, vs copy the input"]
    mean = rows["head SSIM vs clean target, vs mean face at the predicted posture"]
    assert (copy["model"], copy["baseline"], copy["beats baseline"]) == (0.55, 0.45, "yes")
    assert (mean["baseline"], mean["beats baseline"]) == (0.6, "no")
    real = {r: {"ssim": v["ssim"]} for r, v in rec.items()}  # no clean target: no such rows
    assert not any("clean" in k for k in headline({"protocols": {"all": {**p, "reconstruction": real}}}))
