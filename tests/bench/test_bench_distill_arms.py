"""``thzface bench distill`` end to end on the tiny world: every arm trains and evaluates (the distilled arms'
runs are ``distill`` runs, evaluated by their own recipe)."""

from __future__ import annotations

from pathlib import Path

import pytest

from thzface.bench import distill as bench_distill
from thzface.recipes import find_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_arm_completes_on_a_tiny_world(tiny_data: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("thzface.bench.mtl.throughput", lambda *a, **k: 1.0)  # speed is not what this checks
    tiny_rows = {"train": {"sampler": "pk", "batch_size": 4}, "loss": {"margin_head": "none"}}  # 8 people
    monkeypatch.setattr(bench_distill, "TRIPLET_ROWS", tiny_rows)
    res = bench_distill.compare(find_config("mtl-tiny"), find_config("distill-tiny"), tiny_data, tmp_path, 60, [0])
    assert set(res["arms"]) == set(bench_distill.ARMS)
    for arm in bench_distill.ARMS:
        (row,) = res["arms"][arm]["runs"]
        assert 0.0 <= row["idd_eer"] <= 1.0 and row["steps"] > 0, arm
    joint = res["arms"]["distill-joint"]["runs"][0]
    assert res["arms"]["mtl-steps"]["runs"][0]["steps"] == joint["steps"]  # equal updates
    assert 0.0 <= res["arms"]["distill-2stage"]["runs"][0]["teacher_posture_acc"] <= 1.0
    assert (tmp_path / "distill-joint" / "seed0" / "report" / "metrics.json").is_file()
    h = res["headline"]  # the student against the THz-only arm, stated in the table
    assert (h["system"], h["baseline"]) == (joint["idd_eer"], res["arms"]["mtl"]["runs"][0]["idd_eer"])
    assert h["spread"] == 0.0 and res["table"].splitlines()[-1].startswith("headline: student identity-disjoint EER")
