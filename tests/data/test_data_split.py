"""make_split / write_split: protocols without leaks, determinism, twins and nearest-mean hard negatives."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from thzface.data.csv import read_triplets
from thzface.data.naming import format_name
from thzface.data.split import SplitWarning, make_split, split_validation, write_split
from thzface.data.twins import normalize_twins

IDS6 = [f"id{i}" for i in range(6)]


def _names(ids=IDS6, postures: int = 5, samples: int = 5) -> list[str]:
    return [
        format_name(i, p, c, k) for i in ids for p in range(postures) for k in range(samples) for c in (True, False)
    ]


def _ids(rows) -> set[str]:
    return {n.identity for r in rows for n in (r.anchor_name, r.positive_name, r.negative_name)}


def _check_rows(rows) -> None:
    for r in rows:
        assert r.anchor_name.concealed and r.positive_name == r.anchor_name.counterpart()
        assert r.negative_name.concealed and r.negative_name.identity != r.anchor_name.identity


def test_identity_disjoint_has_no_leak() -> None:
    train, test = make_split(_names(), "identity-disjoint", seed=0, holdout_identities=0.34)
    _check_rows(train + test)
    assert _ids(train).isdisjoint(_ids(test))
    assert len({r.anchor_name.identity for r in test}) == 2
    assert len(train) + len(test) == len(_names()) // 2


def test_closed_set_every_test_identity_in_train() -> None:
    train, test = make_split(_names(), "closed-set", seed=0, test_fraction=0.2)
    _check_rows(train + test)
    assert {r.anchor_name.identity for r in test} == {r.anchor_name.identity for r in train} == set(IDS6)
    assert {r.anchor for r in train}.isdisjoint({r.anchor for r in test})
    assert len(test) == 6 * 5  # one of five samples per (identity, posture) group
    groups = {(r.anchor_name.identity, r.anchor_name.posture) for r in test}
    assert len(groups) == 30


def test_none_puts_every_concealed_scan_in_training() -> None:
    """A pretraining world is trained on whole: every concealed scan with its counterpart is a training row."""
    train, test = make_split(_names(), "none", seed=0)
    _check_rows(train)
    assert test == [] and len(train) == len(_names()) // 2 and _ids(train) == set(IDS6)


def test_mixed_scores_both_protocols_and_is_deterministic() -> None:
    train, test = make_split(_names(), "mixed", seed=3)
    train_ids = {r.anchor_name.identity for r in train}
    closed = [r for r in test if r.anchor_name.identity in train_ids]
    disjoint = [r for r in test if r.anchor_name.identity not in train_ids]
    assert closed and disjoint
    assert {r.negative_name.identity for r in train} <= train_ids  # negatives stay on their side
    again = make_split(_names(), "mixed", seed=3)
    assert (train, test) == again
    assert make_split(_names(), "mixed", seed=4) != (train, test)


def test_random_negatives_prefer_same_posture() -> None:
    train, test = make_split(_names(), "closed-set", seed=0)
    assert all(r.negative_name.posture == r.anchor_name.posture for r in train + test)


def test_random_negatives_uniform_over_other_people() -> None:
    """Each anchor's random negative is uniform over the other people's rows of its posture (a chi-square-free
    check: every candidate drawn, none of the anchor's own, frequencies near 1/n); a posture nobody else holds
    falls back to all other people's rows."""
    from collections import Counter

    from thzface.data.naming import parse_name
    from thzface.data.split import _negatives

    anchors = [parse_name(format_name(f"p{i}", i % 2, True, str(k))) for i in range(4) for k in range(3)]
    anchors.append(parse_name(format_name("solo", 4, True, "0")))  # the only person in posture 4
    rng = np.random.default_rng(0)
    counts: dict[int, Counter] = {j: Counter() for j in range(len(anchors))}
    for _ in range(600):
        for j, n in enumerate(_negatives(anchors, "random", {}, None, rng, "train")):
            counts[j][n.filename] += 1
    first = counts[0]  # p0, posture 0: p2's three rows
    assert set(first) == {format_name("p2", 0, True, str(k)) for k in range(3)}
    assert all(abs(c / 600 - 1 / 3) < 0.07 for c in first.values())
    solo = counts[len(anchors) - 1]
    assert len(solo) == 12 and not any(name.startswith("solo") for name in solo)  # every other row, none its own
    assert all(abs(c / 600 - 1 / 12) < 0.04 for c in solo.values())


def test_twins_are_hard_negatives_and_never_split() -> None:
    twins = {"id0": "id1", "id2": "id3"}
    means = {i: np.full(3, k, dtype=float) for k, i in enumerate(IDS6)}  # for identities without a twin
    for seed in range(6):
        train, test = make_split(
            _names(), "identity-disjoint", seed=seed, negatives="hard", twins=twins, identity_means=means
        )
        for a, b in (("id0", "id1"), ("id2", "id3")):
            assert ({a, b} <= _ids(train)) or ({a, b} <= _ids(test))
        sym = normalize_twins(twins)
        twin_rows = [r for r in train + test if r.anchor_name.identity in sym]
        assert len(twin_rows) == 4 * 25
        assert all(r.negative_name.identity == sym[r.anchor_name.identity] for r in twin_rows)


def test_hard_negatives_nearest_mean() -> None:
    ids = ["a", "b", "c", "d"]
    means = {"a": np.zeros(4), "b": np.full(4, 0.1), "c": np.full(4, 0.9), "d": np.ones(4)}
    train, _ = make_split(_names(ids), "closed-set", seed=0, negatives="hard", identity_means=means)
    pairs = {(r.anchor_name.identity, r.negative_name.identity) for r in train}
    assert pairs == {("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")}
    with pytest.raises(ValueError, match="negatives='hard': identity 'a' has no twin here and no mean image"):
        make_split(_names(ids), "closed-set", seed=0, negatives="hard")


def test_missing_counterpart_skipped_and_errors() -> None:
    names = _names()
    names.remove(format_name("id0", 0, False, 0))
    with pytest.warns(SplitWarning, match="1 concealed scans without an unconcealed counterpart"):
        train, test = make_split(names, "closed-set", seed=0)
    assert format_name("id0", 0, True, 0) not in {r.anchor for r in train + test}
    with pytest.raises(ValueError, match="needs >= 4 identities"):
        make_split(_names(IDS6[:3]), "identity-disjoint", seed=0)
    with pytest.raises(ValueError, match=r"the test side holds identities \[\]; negatives need at least 2"):
        make_split(_names(), "closed-set", seed=0, test_fraction=0.0)
    with pytest.raises(ValueError, match="protocol='open'"):
        make_split(names, "open", seed=0)
    with pytest.raises(ValueError, match="paired with both"):
        normalize_twins([["a", "b"], ["a", "c"]])


def test_split_validation_per_group() -> None:
    train, _ = make_split(_names(), "closed-set", seed=0)
    fit, val = split_validation(train, 0.25, seed=0)
    assert len(fit) + len(val) == len(train) and val
    assert {r.anchor for r in fit}.isdisjoint({r.anchor for r in val})
    assert {(r.anchor_name.identity, r.anchor_name.posture) for r in val} == {
        (r.anchor_name.identity, r.anchor_name.posture) for r in train
    }


def test_write_split_files(make_ds) -> None:
    root = make_ds(identities=("ta", "tb", "tc", "td", "te"), samples=3, visible=True)
    (root / "visible" / "ta_b1b_0.png").unlink()
    (root / "thz" / "tb_n2n_1.png").unlink()
    (root / "meta.json").write_text(json.dumps({"twins": [["ta", "tb"]]}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SplitWarning)
        summary = write_split(root, protocol="mixed", seed=0, negatives="hard")
    assert summary["skipped_missing_counterpart"] == 1 and summary["twins"] == 1
    train = read_triplets(root / "train_val.csv", root)
    test = read_triplets(root / "test.csv", root)
    assert summary["train_rows"] == len(train) and summary["test_rows"] == len(test)
    assert summary["test_rows_closed_set"] > 0 and summary["test_rows_identity_disjoint"] > 0
    rows = {r.anchor: r for r in train + test}
    assert rows["ta_b1b_0.png"].visible_concealed is None
    assert rows["tc_b1b_0.png"].visible == ("tc_b1b_0.png", "tc_n1n_0.png", rows["tc_b1b_0.png"].negative)
    first = (root / "test.csv").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SplitWarning)
        write_split(root, protocol="mixed", seed=0, negatives="hard")
    assert (root / "test.csv").read_text() == first
