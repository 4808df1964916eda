"""bench inpaint's per-bucket margins and bench unmask3d's prior margin, by hand."""

from __future__ import annotations

import pytest

from thzface.bench.inpaint import bucket_margins
from thzface.bench.unmask3d import prior_margin


def test_bucket_margin_takes_each_sets_best_fill() -> None:
    runs = [{"hole_ssim_a": 0.50, "hole_ssim_b": 0.30}, {"hole_ssim_a": 0.60, "hole_ssim_b": 0.34}]
    fills = {"mean": {"hole_ssim_a": 0.40, "hole_ssim_b": 0.31}, "diff": {"hole_ssim_a": 0.45, "hole_ssim_b": 0.20}}
    m = bucket_margins(runs, fills, ["a", "b"])
    assert m["a"]["best_fill"] == "diff" and m["b"]["best_fill"] == "mean"
    assert m["a"]["margin"] == pytest.approx(0.10) and m["a"]["spread"] == pytest.approx(0.05)  # 0.05, 0.15
    assert m["b"]["margin"] == pytest.approx(0.01) and m["b"]["spread"] == pytest.approx(0.02)  # -0.01, 0.03
    assert m["b"]["per_seed"] == pytest.approx([-0.01, 0.03]) and m["a"]["system"] == pytest.approx(0.55)


def test_prior_margin_per_seed_and_absent_without_the_ablation() -> None:
    runs = [
        {"unmask3d @true": {"clean_mask_ssim": 0.40, "mask_ssim": 0.1}, "no-prior @true": {"clean_mask_ssim": 0.35}},
        {"unmask3d @true": {"clean_mask_ssim": 0.44, "mask_ssim": 0.1}, "no-prior @true": {"clean_mask_ssim": 0.35}},
    ]
    m = prior_margin(runs, "under-the-garment SSIM vs the clean target (THz, true garment mask)")
    assert m is not None and m["metric"] == "clean_mask_ssim"
    assert m["margin"] == pytest.approx(0.07) and m["spread"] == pytest.approx(0.02)  # 0.05, 0.09
    assert prior_margin([{"unmask3d @true": {"mask_ssim": 0.2}}], "… vs the unconcealed scan") is None
