"""bench.json's headline: mean over seeds and spread of system − baseline by hand, and each bench's choice of arms."""

from __future__ import annotations

import math

import pytest

from thzface.bench import headline as H

KEYS = {"metric", "higher_is_better", "system", "baseline", "baseline_name", "spread"}


def test_headline_means_and_spread_by_hand() -> None:
    # seeds: system 0.30, 0.20, 0.40; baseline 0.50, 0.50, 0.45 → differences -0.20, -0.30, -0.05
    h = H.headline("eer", False, [0.30, 0.20, 0.40], [0.50, 0.50, 0.45], "pixels", "mine")
    assert KEYS <= set(h) and h["baseline_name"] == "pixels" and h["system_name"] == "mine" and h["seeds"] == 3
    assert h["system"] == pytest.approx(0.30) and h["baseline"] == pytest.approx(1.45 / 3)
    mean_d = -0.55 / 3
    var = ((-0.20 - mean_d) ** 2 + (-0.30 - mean_d) ** 2 + (-0.05 - mean_d) ** 2) / 3  # ddof 0
    assert h["spread"] == pytest.approx(math.sqrt(var))  # ≈ 0.1027
    assert h["spread"] == pytest.approx(0.10274, abs=1e-5)


def test_headline_counts_only_seeds_with_both_numbers() -> None:
    h = H.headline("ssim", True, [0.6, None, 0.8], [0.5, 0.4, float("nan")], "fill", "model")
    assert (h["system"], h["baseline"], h["spread"], h["seeds"]) == (0.6, 0.5, 0.0, 1)
    none = H.headline("ssim", True, [None], [0.5], "fill", "model")
    assert none["system"] is None and none["spread"] is None and "n/a" in H.headline_line(none)
    with pytest.raises(ValueError, match="one per seed"):
        H.headline("ssim", True, [0.1, 0.2], [0.1], "fill", "model")


def test_headline_line_says_who_beat_whom() -> None:
    lower = H.headline_line(H.headline("eer", False, [0.3], [0.5], "raw pixels", "default"))
    assert lower.startswith("headline: eer (lower is better): default 0.3 vs raw pixels 0.5")
    assert "-0.2" in lower and "beats the baseline" in lower
    higher = H.headline_line(H.headline("ssim", True, [0.3], [0.5], "mean fill", "unmask3d"))
    assert "does not beat the baseline" in higher


def test_mtl_system_is_the_pretrained_arm_when_present_against_raw_pixels() -> None:
    runs = [{"idd_eer": 0.2, "idd_pixel_eer": 0.45}, {"idd_eer": 0.3, "idd_pixel_eer": 0.47}]
    arms = {"default": [{"idd_eer": 0.4, "idd_pixel_eer": 0.45}] * 2, "default-pretrained": runs}
    h = H.mtl_headline(arms)
    assert h["system_name"] == "default-pretrained" and h["baseline_name"] == "raw pixels"
    assert h["system"] == pytest.approx(0.25) and h["baseline"] == pytest.approx(0.46)
    assert h["spread"] == pytest.approx(0.04)  # differences -0.25, -0.17
    assert H.mtl_headline({"paper": runs, "default": runs})["system_name"] == "default"


def test_distill_student_against_the_thz_only_arm_seed_by_seed() -> None:
    h = H.distill_headline({"distill-joint": [{"idd_eer": 0.3}, {"idd_eer": 0.4}], "mtl": [{"idd_eer": 0.35}] * 2})
    assert (h["system_name"], h["baseline_name"]) == ("distill-joint", "THz-only (mtl)")
    assert h["system"] == pytest.approx(0.35) and h["spread"] == pytest.approx(0.05)


def test_inpaint_mean_over_sets_against_the_best_classical_fill() -> None:
    sets = ["10-30", "garment"]
    runs = [{"hole_ssim_10-30": 0.6, "hole_ssim_garment": 0.4}, {"hole_ssim_10-30": 0.7, "hole_ssim_garment": 0.5}]
    fills = {
        "mean-fill": {"hole_ssim_10-30": 0.3, "hole_ssim_garment": 0.3},
        "diffusion-fill": {"hole_ssim_10-30": 0.5, "hole_ssim_garment": 0.3},
    }
    h = H.inpaint_headline(runs, fills, sets)
    assert h["baseline_name"] == "diffusion-fill" and h["baseline"] == pytest.approx(0.4)
    assert h["system"] == pytest.approx(0.55) and h["spread"] == pytest.approx(0.05)


def test_twin_parts_with_predicted_boxes_against_global_alone() -> None:
    seed = {"global": {"idd_twin_eer": 0.5}, "fused/given": {"idd_twin_eer": 0.4}, "fused/pred": {"idd_twin_eer": 0.45}}
    h = H.twin_headline([seed])
    assert (h["system_name"], h["system"], h["baseline"]) == ("fused/pred", 0.45, 0.5)
    assert H.twin_headline([{"global": {"idd_twin_eer": 0.5}, "fused": {"idd_twin_eer": 0.3}}])["system"] == 0.3


def test_unmask3d_uses_the_clean_target_when_every_seed_has_it() -> None:
    run = {
        "unmask3d @true": {"mask_ssim": 0.2, "clean_mask_ssim": 0.3},
        "mean fill @true": {"mask_ssim": 0.25, "clean_mask_ssim": 0.2},
    }
    h = H.unmask3d_headline([run])
    assert "clean target" in h["metric"] and (h["system"], h["baseline"]) == (0.3, 0.2) and h["higher_is_better"]
    real = {a: {"mask_ssim": v["mask_ssim"]} for a, v in run.items()}
    h2 = H.unmask3d_headline([real])
    assert "unconcealed scan" in h2["metric"] and (h2["system"], h2["baseline"]) == (0.2, 0.25)
