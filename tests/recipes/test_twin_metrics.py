"""metrics.twin: pair kinds, identity folds (twins together), threshold-free comparisons and held-out operating
points — golden values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.metrics.twin import (
    GENUINE,
    RANDOM,
    TWIN,
    comparison,
    heldout,
    identity_folds,
    pair_kinds,
    twin_verification,
)

TWINS = {"a": "b", "b": "a"}


def test_pair_kinds():
    kinds = pair_kinds(["a", "b", "c"], ["a", "b", "c", "d"], TWINS)
    assert kinds.tolist() == [
        [GENUINE, TWIN, RANDOM, RANDOM],
        [TWIN, GENUINE, RANDOM, RANDOM],
        [RANDOM, RANDOM, GENUINE, RANDOM],
    ]


def test_identity_folds_keep_twins_together_and_are_seeded():
    ids = ["a", "b", "c", "d", "e"]
    folds = identity_folds(ids, TWINS, k=10, seed=3)
    assert folds["a"] == folds["b"] and sorted(set(folds.values())) == [0, 1, 2, 3]  # 4 units → 4 folds
    assert folds == identity_folds(list(reversed(ids)), TWINS, k=10, seed=3)
    assert len(set(identity_folds(ids, TWINS, k=2, seed=0).values())) == 2
    with pytest.raises(ValueError, match=r"identity_folds: need k >= 2 and >= 2 identity units, got k=5, 1 unit"):
        identity_folds(["a", "b"], TWINS, k=5)


def test_comparison_golden_values():
    scores = np.array([0.9, 0.8, 0.85, 0.3, 0.1, 0.2])
    kinds = np.array([GENUINE, GENUINE, TWIN, TWIN, RANDOM, RANDOM])
    twin = comparison(scores, kinds, TWIN, fars=(0.5,))
    assert twin["roc_auc"] == pytest.approx(0.75)  # 3 of 4 (genuine, twin) pairs ordered correctly
    assert twin["tar@far=0.5"] == pytest.approx(1.0)  # threshold 0.8 accepts 1 of 2 twins and both genuine
    assert (twin["genuine"], twin["impostor"]) == (2, 2)
    rand = comparison(scores, kinds, RANDOM, fars=())
    assert rand["roc_auc"] == 1.0 and rand["eer"] == 0.0
    assert rand["mean_genuine_score"] == pytest.approx(0.85) and rand["mean_impostor_score"] == pytest.approx(0.15)
    assert "error" in comparison(scores[:2], kinds[:2], TWIN, fars=())


def test_heldout_golden_values():
    # fold 0: genuine .9 .7, random .2 .5, twin .8 | fold 1: genuine .8 .6, random .3 .65, twin .75
    scores = np.array([0.9, 0.7, 0.2, 0.5, 0.8, 0.8, 0.6, 0.3, 0.65, 0.75])
    kinds = np.array([GENUINE, GENUINE, RANDOM, RANDOM, TWIN] * 2)
    fold = np.array([0] * 5 + [1] * 5)
    r = heldout(scores, kinds, fold, fold, calibrate=RANDOM)
    # fold 0 is decided at fold 1's EER threshold 0.65, fold 1 at fold 0's 0.7 → genuine .6 rejected, twins accepted
    assert r["folds_used"] == 2 and r["threshold_mean"] == pytest.approx(0.675)
    assert (r["frr"], r["far_random"], r["far_twin"]) == (0.25, 0.0, 1.0)
    assert r["hter"] == pytest.approx(0.125)
    # best-accuracy thresholds 0.725 (from fold 1) and 0.6 (from fold 0): 3 of 4 right in each fold
    assert r["accuracy"] == pytest.approx(0.75)


def test_heldout_skips_folds_whose_complement_lacks_a_class():
    scores, kinds = np.array([0.9, 0.1, 0.8]), np.array([GENUINE, RANDOM, GENUINE])
    r = heldout(scores, kinds, np.array([0, 0, 1]), np.array([0, 0, 1]), calibrate=RANDOM)
    assert r["folds_used"] == 1  # fold 1's complement has both classes, fold 0's has only genuine pairs


def test_twin_verification_counts_exclusion_and_shape_error():
    ids = ["a", "a", "b", "b", "c", "c", "d", "d"]
    rng = np.random.default_rng(0)
    e = rng.standard_normal((8, 4)) + 3 * np.repeat(np.eye(4), 2, axis=0)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    out = twin_verification(e @ e.T, ids, ids, TWINS, exclude=np.eye(8, dtype=bool), k=3, seed=0)
    assert out["pairs"] == {"genuine": 8, "twin": 8, "random": 40}
    assert out["twin"]["heldout"]["folds_used"] >= 2 and out["random"]["roc_auc"] > 0.9
    with pytest.raises(ValueError, match=r"twin_verification: scores \(8, 8\) != \(probes, gallery\) \(8, 7\)"):
        twin_verification(e @ e.T, ids, ids[:7], TWINS)
