"""``thzface bench distill``: the mtl and distill arms share every setting but the visible images."""

from __future__ import annotations

import pytest

from thzface.bench.distill import cell, confounds, paired_difference, paired_distill_dict, stats
from thzface.config import read_yaml
from thzface.recipes import config_from_dict, find_config, load_config


def test_paired_config_is_identical_in_every_shared_setting() -> None:
    mtl = read_yaml(find_config("mtl-default"))
    paired = paired_distill_dict(mtl, read_yaml(find_config("distill-default")))
    a, b = config_from_dict(mtl), config_from_dict(paired)
    assert b.recipe == "distill" and b.data.use_visible and not a.data.use_visible
    assert confounds(a, b) == []
    changed = config_from_dict({**paired, "train": {**paired["train"], "lr": 0.5}})
    changed.loss.w_ssim = 0.1
    assert confounds(a, changed) == ["train.lr", "loss.w_ssim"]


def test_paired_config_takes_teacher_and_distillation_from_the_distill_config() -> None:
    dist = read_yaml(find_config("distill-default"))
    dist["model"]["teacher"]["heads"] = 8
    dist["loss"]["w_logit"] = 0.25
    dist["loss"]["w_rec"] = 9.0  # a student loss field: the mtl config wins
    b = config_from_dict(paired_distill_dict(read_yaml(find_config("mtl-default")), dist))
    assert b.model.teacher.heads == 8 and b.loss.w_logit == 0.25 and b.loss.w_rec == 1.0


def test_shipped_default_matches_mtl_default() -> None:
    """The shipped student sections are mtl-default's except how batches are formed (paper differs on purpose: the
    reference's multimodal run): distillation reads triplet rows with their visible images (P×K over anchors, no
    margin head), mtl joint P×K capture batches with an ArcFace head."""
    diff = confounds(load_config(find_config("mtl-default")), load_config(find_config("distill-default")))
    assert diff == ["train.batch_size", "train.sampler", "loss.margin_head"]


def test_stats_and_cells() -> None:
    mean, std = stats([{"eer": 0.1, "steps": 10, "name": "x"}, {"eer": 0.3, "steps": 30, "extra": 2.0}])
    assert mean == pytest.approx({"eer": 0.2, "steps": 20.0, "extra": 2.0})
    assert std == pytest.approx({"eer": 0.1, "steps": 10.0, "extra": 0.0})
    assert cell(0.2, 0.1) == "0.2 ± 0.1" and cell(0.123456, 0.0123) == "0.123 ± 0.012" and cell(None, None) is None


def test_paired_difference_skips_missing_and_nan() -> None:
    xs = [{"idd_eer": 0.2, "ssim": 0.5}, {"idd_eer": 0.4, "ssim": float("nan")}]
    ys = [{"idd_eer": 0.3, "ssim": 0.4}, {"idd_eer": 0.3}]
    d = paired_difference(xs, ys)
    assert d["idd_eer"] == pytest.approx({"mean": 0.0, "std": 0.1, "seeds": 2})
    assert d["ssim"] == pytest.approx({"mean": 0.1, "std": 0.0, "seeds": 1})
    assert "cs_eer" not in d
