"""Probe × gallery pairs of the mtl evaluation and their same/cross-posture split, with hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.recipes.mtl.evaluate import by_posture
from thzface.recipes.mtl.report import cross_pairs, probe_gallery_pairs
from thzface.recipes.mtl.verification import by_site

# three captures: A front s1, A left s2, B front s1
C = {
    "identity": np.array(["A", "A", "B"]),
    "posture": np.array([0, 1, 0]),
    "sample": np.array(["1", "2", "1"]),
    "emb_a": np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]),
    "emb_p": np.array([[0.8, 0.6], [1.0, 0.0], [0.0, 1.0]]),
}


def test_pairs_skip_only_the_probes_own_counterpart() -> None:
    i, j, same = probe_gallery_pairs(C, np.arange(3))
    # 9 probe × gallery pairs minus the three own counterparts (0,0), (1,1), (2,2)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    assert same.tolist() == [False, True, False, False, True, False]  # postures 0,1,0
    scores, labels, same_posture = cross_pairs(C, np.arange(3))
    assert same_posture.tolist() == same.tolist()  # the flags of the same pairs
    assert labels.tolist() == [1, 0, 1, 0, 0, 0]  # A–A genuine, anything with B impostor
    assert np.allclose(scores, [1.0, 0.0, 0.6, 1.0, 0.6 * 0.8 + 0.8 * 0.6, 0.6])  # ea[i] · ep[j]


def test_pairs_of_a_subset_are_positions_in_the_subset() -> None:
    i, j, same = probe_gallery_pairs(C, np.array([0, 2]))
    assert i.tolist() == [0, 1] and j.tolist() == [1, 0] and same.tolist() == [True, True]


def test_by_posture_scores_each_group_apart_and_leaves_out_one_sided_groups() -> None:
    scores = np.array([0.9, 0.2, 0.8, 0.3, 0.1, 0.7])
    labels = np.array([1, 0, 1, 0, 1, 0])
    same = np.array([True, True, False, False, False, False])
    out = by_posture(scores, labels, same)
    assert out["same"]["pairs"] == 2 and out["same"]["genuine"] == 1
    assert out["same"]["eer"] == pytest.approx(0.0) and out["same"]["roc_auc"] == pytest.approx(1.0)
    # cross: genuine 0.8, 0.1; impostor 0.3, 0.7 → AUC = P(g > i) = (1 + 1 + 0 + 0) / 4
    assert out["cross"]["pairs"] == 4 and out["cross"]["roc_auc"] == pytest.approx(0.5)
    assert set(by_posture(scores[:2], labels[:2] * 0, same[:2])) == set()  # no genuine pair: nothing scored


def test_a_multi_site_world_scores_impostors_within_a_site_only() -> None:
    c = {**C, "site": np.array(["s0", "s0", "s1"])}  # B at another scanner than A
    i, j, same = probe_gallery_pairs(c, np.arange(3))
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (1, 0)]  # A's genuine pairs only
    c["site"] = np.array(["s0", "s1", "s0"])  # a person's site is one; a per-row site still gates impostors only
    i, j, _ = probe_gallery_pairs(c, np.arange(3))
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 0), (2, 0)]


def test_by_site_scores_each_scanner_apart_with_hand_values() -> None:
    # site s0: C's three captures; site s1: D front/left (embedding [1, 0]), E front ([0, 1]): perfectly separated
    c = {
        "identity": np.array(["A", "A", "B", "D", "D", "E"]),
        "posture": np.array([0, 1, 0, 0, 1, 0]),
        "sample": np.array(["1", "2", "1", "1", "2", "1"]),
        "site": np.array(["s0", "s0", "s0", "s1", "s1", "s1"]),
        "emb_a": np.concatenate([C["emb_a"], [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]]),
        "emb_p": np.concatenate([C["emb_p"], [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]]),
    }
    idx = np.arange(6)
    scores, labels, _ = cross_pairs(c, idx)
    out = by_site(c, idx, scores, labels, threshold=0.5)
    assert set(out) == {"s0", "s1"}
    assert out["s0"]["pairs"] == 6 and out["s0"]["genuine"] == 2 and out["s0"]["identities"] == 2
    # s0 genuine 1.0, 0.6; impostors 0.0, 1.0, 0.96, 0.6 -> AUC = (1 + .5 + 1 + 1 + 1 + 0 + 0 + .5) / 8
    assert out["s0"]["roc_auc"] == pytest.approx(5 / 8)
    assert out["s0"]["deployed_far"] == pytest.approx(3 / 4)  # 1.0, 0.96, 0.6 >= 0.5
    assert out["s1"]["eer"] == pytest.approx(0.0) and out["s1"]["roc_auc"] == pytest.approx(1.0)
    assert out["s1"]["deployed_far"] == pytest.approx(0.0) and out["s1"]["identities"] == 2
    assert by_site(C, np.arange(3), *cross_pairs(C, np.arange(3))[:2]) == {}  # one scanner: nothing apart
