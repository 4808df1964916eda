"""Verification metrics on hand-built score sets: ROC/DET, AUC, EER, TAR@FAR, thresholds, k-fold, pairs."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.metrics import (
    best_threshold,
    det_curve,
    eer,
    kfold_accuracy,
    pair_scores,
    roc_auc,
    roc_curve,
    tar_at_far,
    triplet_accuracy,
)

# genuine 0.9 0.8 0.7 0.3 / impostor 0.85 0.5 0.2 0.1
SCORES = np.array([0.9, 0.8, 0.7, 0.3, 0.85, 0.5, 0.2, 0.1])
LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0])


def _mann_whitney_auc(s: np.ndarray, y: np.ndarray) -> float:
    """Independent AUC: P(genuine > impostor) + 0.5 P(tie), over all genuine x impostor pairs."""
    g, i = s[y == 1][:, None], s[y == 0][None, :]
    return float(np.mean((g > i) + 0.5 * (g == i)))


def test_roc_curve_golden() -> None:
    fpr, tpr, thr = roc_curve(SCORES, LABELS)
    np.testing.assert_allclose(fpr, [0, 0, 0.25, 0.25, 0.25, 0.5, 0.5, 0.75, 1])
    np.testing.assert_allclose(tpr, [0, 0.25, 0.25, 0.5, 0.75, 0.75, 1, 1, 1])
    np.testing.assert_allclose(thr, [np.inf, 0.9, 0.85, 0.8, 0.7, 0.5, 0.3, 0.2, 0.1])
    dfpr, fnr, dthr = det_curve(SCORES, LABELS)
    np.testing.assert_allclose(dfpr, fpr)
    np.testing.assert_allclose(fnr, 1 - tpr)
    np.testing.assert_allclose(dthr, thr)


def test_auc_perfect_reversed_and_tied() -> None:
    y = np.array([1, 1, 0, 0])
    assert roc_auc([0.9, 0.8, 0.2, 0.1], y) == 1.0
    assert roc_auc([0.1, 0.2, 0.8, 0.9], y) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], y) == 0.5
    # one genuine/impostor tie: counts half → (1 + 1 + 0.5 + 1) / 4
    assert roc_auc([0.9, 0.5, 0.5, 0.1], y) == pytest.approx(0.875)


def test_auc_matches_mann_whitney_with_many_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounding makes plenty of ties
    assert roc_auc(s, y) == pytest.approx(_mann_whitney_auc(s, y), abs=1e-12)


def test_eer_exact_crossing() -> None:
    # at threshold 0.5... FRR = FAR = 0.25 exactly at the ROC point of threshold 0.6
    s = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.5, 0.2, 0.1])
    rate, thr = eer(s, LABELS)
    assert rate == pytest.approx(0.25)
    assert thr == pytest.approx(0.6)


def test_eer_interpolated_crossing() -> None:
    # points: thr 0.8 (FAR 0, FRR 1/3) → thr 0.5 (FAR 1/2, FRR 1/3): FRR - FAR goes 1/3 → -1/6,
    # crossing at t = 2/3 of the segment: EER = 1/3, threshold = 0.8 + 2/3 * (0.5 - 0.8) = 0.6
    rate, thr = eer([0.9, 0.8, 0.3, 0.5, 0.2], [1, 1, 1, 0, 0])
    assert rate == pytest.approx(1 / 3)
    assert thr == pytest.approx(0.6)


def test_eer_separable_is_zero() -> None:
    rate, thr = eer([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])
    assert rate == 0.0
    assert 0.2 < thr <= 0.8


def test_tar_at_far_hand_set() -> None:
    op = tar_at_far(SCORES, LABELS, 0.25)
    assert (op.tar, op.far, op.threshold) == (0.75, 0.25, 0.7)
    op = tar_at_far(SCORES, LABELS, 0.1)  # only the impostor-free top point qualifies
    assert (op.tar, op.far, op.threshold) == (0.25, 0.0, 0.9)
    assert tar_at_far(SCORES, LABELS, 0.0).tar == 0.25
    assert tar_at_far(SCORES, LABELS, 1.0) == (1.0, 1.0, 0.1)
    # a tie at the threshold is accepted together: no threshold separates the tied impostor
    op = tar_at_far([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0], 0.49)
    assert (op.tar, op.far, op.threshold) == (0.5, 0.0, 0.9)


def test_best_threshold_midpoint() -> None:
    thr, acc = best_threshold([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0])
    assert thr == pytest.approx(0.55) and acc == 1.0
    thr, acc = best_threshold(SCORES, LABELS)  # best: accept >= 0.7 (6/8 right)
    assert acc == 0.75 and thr == pytest.approx((0.7 + 0.5) / 2)


def test_balanced_threshold_does_not_reject_everything_on_imbalanced_pairs() -> None:
    # 1 genuine (0.6) among 9 impostors (0.7, then 0.5 ... 0.1): pooled accuracy is best rejecting all (9/10);
    # the balanced accuracy is best accepting the genuine pair and the one impostor above it: (1 + 8/9) / 2
    s = np.array([0.6, 0.7, 0.5, 0.45, 0.4, 0.35, 0.3, 0.2, 0.15, 0.1])
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert best_threshold(s, y) == (np.inf, 0.9)
    thr, acc = best_threshold(s, y, balanced=True)
    assert thr == pytest.approx(0.55) and acc == pytest.approx((1 + 8 / 9) / 2)
    res = kfold_accuracy(np.r_[s, s], np.r_[y, y], k=2, seed=0, balanced=True)
    assert np.all(np.isfinite(res.thresholds)) and res.mean == pytest.approx((1 + 8 / 9) / 2)


def test_kfold_threshold_never_uses_the_scored_fold() -> None:
    # Separable in-sample (threshold 0.5 scores 4/4), but leave-one-out must fail on the two inner points:
    # without 0.6 the best threshold is (0.9 + 0.4) / 2 = 0.65 > 0.6, without 0.4 it is (0.6 + 0.1) / 2 = 0.35.
    s, y = np.array([0.6, 0.9, 0.1, 0.4]), np.array([1, 1, 0, 0])
    assert best_threshold(s, y) == (0.5, 1.0)
    res = kfold_accuracy(s, y, k=4, seed=0)
    assert res.mean == 0.5
    assert sorted(np.bincount(res.folds)) == [1, 1, 1, 1]
    by_sample = {float(s[np.flatnonzero(res.folds == f)[0]]): (res.accuracies[f], res.thresholds[f]) for f in range(4)}
    assert by_sample[0.6] == (0.0, pytest.approx(0.65))
    assert by_sample[0.4] == (0.0, pytest.approx(0.35))
    assert by_sample[0.9] == (1.0, 0.5) and by_sample[0.1] == (1.0, 0.5)


def test_kfold_stratified_and_reproducible() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(30), np.zeros(70)].astype(int)
    s = rng.normal(y, 1.0)
    a, b = kfold_accuracy(s, y, k=10, seed=3), kfold_accuracy(s, y, k=10, seed=3)
    np.testing.assert_array_equal(a.folds, b.folds)
    for f in range(10):
        assert y[a.folds == f].sum() == 3  # 30 genuine dealt evenly over 10 folds
    assert a.mean == pytest.approx(np.mean(a.accuracies)) and a.std == pytest.approx(np.std(a.accuracies))
    assert not np.array_equal(a.folds, kfold_accuracy(s, y, k=10, seed=4).folds)


def test_triplet_accuracy_ties_fail() -> None:
    assert triplet_accuracy([0.1, 0.5, 0.3, 0.2], [0.2, 0.4, 0.3, 0.9]) == 0.5


def _naive_pairs(e: np.ndarray, ids: np.ndarray) -> tuple[list, list]:
    genuine, impostor = [], []
    for i in range(len(e)):
        for j in range(i + 1, len(e)):
            (genuine if ids[i] == ids[j] else impostor).append((i, j))
    return genuine, impostor


def test_pair_scores_all_pairs() -> None:
    rng = np.random.default_rng(2)
    e = rng.normal(size=(5, 3))
    ids = np.array(["b", "a", "b", "c", "a"])
    res = pair_scores(e, ids)
    genuine, impostor = _naive_pairs(e, ids)
    assert res.pairs.tolist() == [list(p) for p in genuine + impostor]
    np.testing.assert_array_equal(res.labels, [1] * len(genuine) + [0] * len(impostor))
    u = e / np.linalg.norm(e, axis=1, keepdims=True)
    np.testing.assert_allclose(res.scores, [u[i] @ u[j] for i, j in genuine + impostor])


def test_pair_scores_subsampled_impostors() -> None:
    rng = np.random.default_rng(3)
    e = rng.normal(size=(40, 4))
    ids = np.arange(40) % 6
    genuine, impostor = _naive_pairs(e, ids)
    res = pair_scores(e, ids, max_impostors=50, rng=np.random.default_rng(7))
    imp = res.pairs[res.labels == 0]
    assert len(imp) == 50 and len({tuple(p) for p in imp.tolist()}) == 50
    assert {tuple(p) for p in imp.tolist()} <= set(impostor)
    assert res.pairs[res.labels == 1].tolist() == [list(p) for p in genuine]
    again = pair_scores(e, ids, max_impostors=50, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(res.pairs, again.pairs)
    every = pair_scores(e, ids, max_impostors=10_000)
    assert int((every.labels == 0).sum()) == len(impostor)


@pytest.mark.parametrize("fn", [roc_curve, roc_auc, eer, best_threshold, kfold_accuracy])
def test_one_class_raises(fn) -> None:
    with pytest.raises(ValueError, match=f"{fn.__name__}: labels contain only genuine"):
        fn([0.1, 0.2, 0.3], [1, 1, 1])
    with pytest.raises(ValueError, match=f"{fn.__name__}: labels contain only impostor"):
        fn([0.1, 0.2, 0.3], [0, 0, 0])


def test_input_errors() -> None:
    with pytest.raises(ValueError, match="eer: scores and labels lengths differ: 3 vs 2"):
        eer([0.1, 0.2, 0.3], [1, 0])
    with pytest.raises(ValueError, match="roc_auc: labels must be 0/1 or bool"):
        roc_auc([0.1, 0.2], [1, 2])
    with pytest.raises(ValueError, match="roc_curve: scores contains NaN or inf"):
        roc_curve([0.1, np.nan], [1, 0])
    with pytest.raises(ValueError, match=r"tar_at_far: far must be a number in \[0, 1\]"):
        tar_at_far(SCORES, LABELS, 1.5)
    with pytest.raises(ValueError, match=r"kfold_accuracy: k must be an int in \[2, 8\]"):
        kfold_accuracy(SCORES, LABELS, k=9)
    with pytest.raises(ValueError, match="kfold_accuracy: the pairs outside fold 0 hold only one class"):
        kfold_accuracy([0.9, 0.1, 0.2], [1, 0, 0], k=3)
    with pytest.raises(ValueError, match="triplet_accuracy: d_ap and d_an lengths differ"):
        triplet_accuracy([0.1], [0.2, 0.3])
    with pytest.raises(ValueError, match="pair_scores: identities hold a single identity"):
        pair_scores(np.ones((3, 2)), [1, 1, 1])
    with pytest.raises(ValueError, match="pair_scores: no identity has two samples"):
        pair_scores(np.ones((3, 2)), [1, 2, 3])
    with pytest.raises(ValueError, match="pair_scores: embeddings contain a zero or non-finite row"):
        pair_scores(np.zeros((3, 2)), [1, 1, 2])
    with pytest.raises(ValueError, match="pair_scores: max_impostors must be a positive int"):
        pair_scores(np.ones((3, 2)), [1, 1, 2], max_impostors=0)


def test_probe_gallery_eer_leaves_each_counterpart_out():
    from thzface.metrics.verification import probe_gallery_eer

    ids = np.array(["a", "a", "b"])
    s = np.array([[-1.0, 0.9, 0.1], [0.8, -1.0, 0.2], [0.3, 0.4, -1.0]])  # diagonal: the own counterparts, worst
    rate, thr = probe_gallery_eer(s, ids)  # genuine 0.9, 0.8 vs impostor 0.1-0.4: perfectly apart without them
    assert rate == 0.0 and 0.4 < thr <= 0.8
    s[1, 0] = 0.35  # a genuine pair among the impostors: one of 2 genuine rejected where 1 of 4 impostors passes
    assert probe_gallery_eer(s, ids)[0] == pytest.approx(eer(np.array([0.9, 0.35, 0.1, 0.2, 0.3, 0.4]),
                                                               np.array([1, 1, 0, 0, 0, 0]))[0])  # fmt: skip
    assert all(np.isnan(probe_gallery_eer(s[:2, :2], ids[:2])))  # one person: no impostor pairs
    with pytest.raises(ValueError, match="need to be \\(3, 3\\)"):
        probe_gallery_eer(s[:2], ids)


def test_probe_gallery_eer_scores_impostors_within_a_domain_only():
    from thzface.metrics.verification import probe_gallery_eer

    # captures 0, 1 of person a and 2 of b at site 0; capture 3 of person c at site 1. Across sites the scores are
    # low (the scanner tells the people apart); within site 0 the impostor b scores above a's genuine pair.
    ids, sites = np.array(["a", "a", "b", "c"]), np.array([0, 0, 0, 1])
    s = np.full((4, 4), -1.0)
    s[0, 1], s[1, 0] = 0.6, 0.5  # genuine
    s[0, 2], s[2, 0], s[1, 2], s[2, 1] = 0.7, 0.1, 0.2, 0.3  # impostors within site 0
    s[3, :3], s[:3, 3] = 0.0, 0.0  # impostors across sites
    every = probe_gallery_eer(s, ids)[0]
    within = probe_gallery_eer(s, ids, sites)[0]
    # within site 0: genuine 0.6, 0.5 vs impostors 0.7, 0.1, 0.2, 0.3 -> FRR 1/2 meets FAR 1/4..0 (interpolated)
    assert within == pytest.approx(eer(np.array([0.6, 0.5, 0.7, 0.1, 0.2, 0.3]), np.array([1, 1, 0, 0, 0, 0]))[0])
    assert every < within  # the six easy cross-site impostors (score 0.0) dilute the hard one
    assert all(np.isnan(probe_gallery_eer(s[2:, 2:], ids[2:], sites[2:])))  # b and c never meet: no impostors
