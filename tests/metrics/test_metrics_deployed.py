"""Verification at a fixed (deployed) threshold beside the oracle EER, on a hand-made score set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from thzface.metrics.verification import at_threshold, eer, verification_summary

# genuine 0.9 0.8 0.4; impostor 0.7 0.3 0.2 0.1
SCORES = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2, 0.1])
LABELS = np.array([1, 1, 1, 0, 0, 0, 0])


def test_at_threshold_hand_computed() -> None:
    m = at_threshold(SCORES, LABELS, 0.5)
    assert (m.tar, m.far) == (2 / 3, 1 / 4)
    assert m.frr == pytest.approx(1 / 3) and m.trr == pytest.approx(3 / 4)
    assert m.balanced_accuracy == pytest.approx((2 / 3 + 3 / 4) / 2)  # 0.70833
    assert m.accuracy == pytest.approx(5 / 7)  # 2 genuine accepted + 3 impostors rejected
    assert at_threshold(SCORES, LABELS, 0.7).far == 1 / 4  # score == threshold is accepted
    assert at_threshold(SCORES, LABELS, 0.75)._asdict() == pytest.approx(
        {"threshold": 0.75, "tar": 2 / 3, "far": 0.0, "frr": 1 / 3, "trr": 1.0, "balanced_accuracy": 5 / 6,
         "accuracy": 6 / 7}
    )  # fmt: skip
    assert at_threshold(SCORES, LABELS, math.inf).tar == 0.0


def test_summary_keeps_the_deployed_threshold_beside_the_oracle_eer() -> None:
    # DET: (far, frr) = (0, 1/3) at 0.8, (1/4, 1/3) at 0.7, (1/4, 0) at 0.4: the crossing lies a quarter of the
    # way from 0.7 to 0.4 → EER 0.25 at threshold 0.625
    assert eer(SCORES, LABELS) == pytest.approx((0.25, 0.625))
    s = verification_summary(SCORES, LABELS, threshold=0.5, fars=(0.0, 0.25))
    assert s["eer"] == pytest.approx(0.25) and s["eer_threshold"] == pytest.approx(0.625)
    assert s["deployed"]["threshold"] == 0.5 and s["deployed"]["tar"] == 2 / 3  # not refitted
    assert s["tar_at_far"]["0"]["tar"] == 2 / 3 and s["tar_at_far"]["0.25"]["tar"] == 1.0
    assert s["auc"] == pytest.approx(11 / 12)  # 11 of 12 genuine-impostor orderings right (0.4 < 0.7)
    assert (s["genuine_pairs"], s["impostor_pairs"]) == (3, 4)
    assert "deployed" not in verification_summary(SCORES, LABELS)


def test_bad_threshold_and_one_class() -> None:
    with pytest.raises(ValueError, match="threshold is NaN"):
        at_threshold(SCORES, LABELS, float("nan"))
    with pytest.raises(ValueError, match="only genuine"):
        at_threshold(SCORES[:3], LABELS[:3], 0.5)
