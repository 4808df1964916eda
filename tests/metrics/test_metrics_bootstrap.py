"""Identity bootstrap of verification numbers: the weighted ROC against the plain one, hand-computed weights,
coverage and width on synthetic people, validation messages."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.metrics.bootstrap import (
    eer_from_rates,
    eer_tar_from_counts,
    identity_bootstrap,
    pair_weights,
    tar_from_rates,
)
from thzface.metrics.pairs import pair_scores
from thzface.metrics.verification import eer, sorted_roc, tar_at_far, weighted_rates

# genuine 0.9 0.8 0.4; impostor 0.7 0.3 0.2 0.1
SCORES = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2, 0.1])
LABELS = np.array([1, 1, 1, 0, 0, 0, 0])


def test_unit_weights_reproduce_the_plain_roc() -> None:
    rng = np.random.default_rng(0)
    s = np.round(rng.normal(size=400), 2)  # ties on purpose
    y = rng.integers(0, 2, 400)
    fpr, tpr = weighted_rates(sorted_roc(s), y.astype(float), np.ones(400))
    assert eer_from_rates(fpr, tpr) == pytest.approx(eer(s, y)[0])
    for far in (0.01, 0.1, 0.5):
        assert tar_from_rates(fpr, tpr, far) == pytest.approx(tar_at_far(s, y, far).tar)


@pytest.mark.parametrize("seed", range(6))
def test_the_bootstraps_integer_search_equals_the_weighted_roc(seed: int) -> None:
    """eer_tar_from_counts (binary search over integer cumulative weights, the bootstrap's loop) gives what the
    weighted ROC gives, ties and zero weights included."""
    rng = np.random.default_rng(seed)
    n = 300
    s = np.round(rng.normal(size=n), 1)  # many ties
    y = (rng.random(n) < 0.3).astype(int)
    w = rng.integers(0, 4, n)  # zero weights too (identities not drawn)
    roc = sorted_roc(s)
    fpr, tpr = weighted_rates(roc, y.astype(float), w.astype(float))
    yo, wo = y[roc.order], w[roc.order]
    tp, fp = np.cumsum(wo * yo)[roc.ends], np.cumsum(wo * (1 - yo))[roc.ends]
    e, tars = eer_tar_from_counts(tp, fp, (0.01, 0.1, 0.5))
    assert e == pytest.approx(eer_from_rates(fpr, tpr), abs=1e-12)
    for far in (0.01, 0.1, 0.5):
        assert tars[f"{far:g}"] == pytest.approx(tar_from_rates(fpr, tpr, far), abs=1e-12)


def test_integer_weights_equal_repeated_pairs() -> None:
    w = np.array([2, 1, 3, 1, 2, 1, 1])
    fpr, tpr = weighted_rates(sorted_roc(SCORES), LABELS.astype(float), w.astype(float))
    rep = np.repeat(np.arange(7), w)
    assert eer_from_rates(fpr, tpr) == pytest.approx(eer(SCORES[rep], LABELS[rep])[0])


def test_pair_weights_hand_computed() -> None:
    counts = np.array([2, 0, 3])  # identity 0 drawn twice, 1 never, 2 three times
    a, b = np.array([0, 0, 1, 2, 0]), np.array([0, 2, 2, 2, 1])
    np.testing.assert_array_equal(pair_weights(counts, a, b), [2, 6, 0, 3, 0])


def test_a_missing_class_gives_nan() -> None:
    fpr, tpr = weighted_rates(sorted_roc(SCORES), LABELS.astype(float), (1 - LABELS).astype(float))
    assert np.isnan(eer_from_rates(fpr, tpr)) and np.isnan(tar_from_rates(fpr, tpr, 0.01))


def _people(n_ids: int, per_id: int, sep: float, seed: int):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_ids, 16))
    ids = np.repeat(np.arange(n_ids), per_id)
    emb = centres[ids] * sep + rng.normal(size=(len(ids), 16))
    ps = pair_scores(emb, ids)
    return ps.scores, ps.labels, ids[ps.pairs]


def test_interval_holds_the_estimate_narrows_with_people_and_repeats() -> None:
    s, y, pid = _people(12, 4, 0.5, 0)
    ci = identity_bootstrap(s, y, pid, n_boot=300, seed=1)
    point = eer(s, y)[0]
    assert ci.eer[0] < point < ci.eer[1]
    assert ci.replicates == 300
    lo, hi = ci.tar_at_far["0.01"]
    assert 0 <= lo <= tar_at_far(s, y, 0.01).tar <= hi <= 1
    s2, y2, pid2 = _people(60, 4, 0.5, 0)
    wide = ci.eer[1] - ci.eer[0]
    narrow = identity_bootstrap(s2, y2, pid2, n_boot=300, seed=1)
    assert narrow.eer[1] - narrow.eer[0] < wide
    again = identity_bootstrap(s, y, pid, n_boot=300, seed=1)
    assert again.eer == ci.eer and again.tar_at_far == ci.tar_at_far


def test_validation_messages() -> None:
    pid = np.array([[0, 0], [1, 1], [0, 1]])
    s, y = np.array([0.9, 0.8, 0.1]), np.array([1, 1, 0])
    with pytest.raises(ValueError, match="identity_bootstrap: pair_identities of shape"):
        identity_bootstrap(s, y, pid[:2])
    with pytest.raises(ValueError, match="a genuine pair must join one identity"):
        identity_bootstrap(s, np.array([1, 0, 0]), pid)
    with pytest.raises(ValueError, match="n_boot must be a positive int"):
        identity_bootstrap(s, y, pid, n_boot=0)
    with pytest.raises(ValueError, match="level must be in"):
        identity_bootstrap(s, y, pid, level=1.5)
