"""Several scans per decision: the fused embedding, sets of k scans per person, probe × gallery scores."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.metrics.pairs import cross_scores, fuse, set_embeddings
from thzface.metrics.verification import eer


def test_fuse_hand_computed() -> None:
    f = fuse(np.array([[2.0, 0.0], [0.0, 5.0]]))  # unit rows (1, 0), (0, 1) -> mean (0.5, 0.5) -> unit
    np.testing.assert_allclose(f, [2**-0.5, 2**-0.5])
    np.testing.assert_allclose(fuse(np.array([[3.0, 4.0]])), [0.6, 0.8])
    with pytest.raises(ValueError, match="fuse: the unit embeddings cancel out"):
        fuse(np.array([[1.0, 0.0], [-1.0, 0.0]]))
    with pytest.raises(ValueError, match="fuse: embeddings contain a zero"):
        fuse(np.array([[0.0, 0.0]]))


def test_sets_are_disjoint_per_person_and_drop_the_remainder() -> None:
    e = np.eye(7)
    ids = np.array(["a", "a", "a", "a", "a", "b", "b"])
    sets, owners = set_embeddings(e, ids, 2, np.random.default_rng(0))
    assert list(owners) == ["a", "a", "b"]  # 5 scans of a give 2 sets, 2 of b give 1
    support = (sets > 0).sum(1)
    assert list(support) == [2, 2, 2]
    assert not np.any((sets[0] > 0) & (sets[1] > 0))  # disjoint scans
    with pytest.raises(ValueError, match="no identity has 3 scans"):
        set_embeddings(e[5:], ids[5:], 3, np.random.default_rng(0))


def test_cross_scores_labels_and_fusion_helps() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(30, 32))
    ids = np.repeat(np.arange(30), 10)
    probe = centres[ids] * 0.35 + rng.normal(size=(300, 32))
    gallery = centres[ids] * 0.35 + rng.normal(size=(300, 32))
    one = cross_scores(probe, gallery, ids, ids)
    assert one.scores.shape == (90000,) and one.labels.sum() == 3000
    e1 = eer(one.scores, one.labels)[0]
    ps, pid = set_embeddings(probe, ids, 5, np.random.default_rng(2))
    gs, gid = set_embeddings(gallery, ids, 5, np.random.default_rng(3))
    five = cross_scores(ps, gs, pid, gid)
    assert five.labels.sum() == 30 * 2 * 2
    assert eer(five.scores, five.labels)[0] < e1 / 2  # averaging 5 noisy views: a much cleaner decision
