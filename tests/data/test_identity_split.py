"""Identity-level validation split: no validation identity in any training role, clear errors, k folds."""

from __future__ import annotations

import pytest

from thzface.data.identity_split import (
    identity_folds,
    identity_validation,
    protocol_masks,
    row_identities,
    split_identities,
    split_rows_by_identity,
)
from thzface.data.naming import format_name
from thzface.data.split import make_split

IDS = [f"id{i}" for i in range(8)]


def _names(ids=IDS, postures: int = 2, samples: int = 3) -> list[str]:
    return [
        format_name(i, p, c, k) for i in ids for p in range(postures) for k in range(samples) for c in (True, False)
    ]


def test_no_validation_identity_in_any_training_role() -> None:
    train_rows, _ = make_split(_names(), "closed-set", seed=0, test_fraction=0.2)
    assert any(r.negative_name.identity != r.anchor_name.identity for r in train_rows)
    for seed in range(5):
        split, train, val = identity_validation(train_rows, 3, seed=seed)
        assert len(split.val) == 3 and len(split.train) == 5
        assert row_identities(train) == set(split.train)  # anchors, positives and negatives
        assert row_identities(val) == set(split.val)
        assert len(train) + len(val) == len(train_rows)  # no row lost: crossing negatives are redrawn
        assert {r.anchor for r in train} | {r.anchor for r in val} == {r.anchor for r in train_rows}


def test_counts_fraction_twins_and_determinism() -> None:
    assert len(split_identities(IDS, 0.25).val) == 2
    assert split_identities(IDS, 2, seed=1) == split_identities(IDS, 2, seed=1)
    assert split_identities(IDS, 2, seed=1) != split_identities(IDS, 2, seed=2)
    for seed in range(6):
        s = split_identities(IDS, 3, seed=seed, twins=[["id0", "id1"]])
        assert {"id0", "id1"} <= set(s.train) or {"id0", "id1"} <= set(s.val)
        assert set(s.train).isdisjoint(s.val) and set(s.train) | set(s.val) == set(IDS)


def test_too_few_identities_is_an_error_naming_the_numbers() -> None:
    with pytest.raises(ValueError, match="5 identities cannot give 2 validation identities and keep 4 for training"):
        split_identities(IDS[:5], 2, min_train=4)
    with pytest.raises(ValueError, match="need >= 4"):
        split_identities(IDS[:3], 0.3)  # min_val 2 + min_train 2
    with pytest.raises(ValueError, match="fraction must lie in"):
        split_identities(IDS, 1.5)


def test_identity_folds_cover_every_identity_once() -> None:
    folds = identity_folds(IDS, 4, seed=0)
    assert [f.fold for f in folds] == [0, 1, 2, 3]
    assert sorted(i for f in folds for i in f.val) == IDS
    for f in folds:
        assert len(f.val) == 2 and set(f.train) == set(IDS) - set(f.val)
    with pytest.raises(ValueError, match="8 identities in k=5 folds give fold 3 1 validation"):
        identity_folds(IDS, 5)


def test_protocol_masks_tell_test_rows_apart() -> None:
    train_rows, test_rows = make_split(_names(), "mixed", seed=0, holdout_identities=0.25)
    split, _, _ = identity_validation(train_rows, 2, seed=0)
    m = protocol_masks(test_rows, split)
    ids = [r.anchor_name.identity for r in test_rows]
    held = {r.anchor_name.identity for r in test_rows} - {r.anchor_name.identity for r in train_rows}
    assert [i in split.train for i in ids] == list(m["closed_set"])
    assert [i in held for i in ids] == list(m["unseen"])
    assert [i in split.val for i in ids] == list(m["validation_seen"])
    assert (m["closed_set"].astype(int) + m["unseen"] + m["validation_seen"] == 1).all()


def test_rows_outside_the_split_are_an_error() -> None:
    rows, _ = make_split(_names(), "closed-set", seed=0, test_fraction=0.2)
    split = split_identities(IDS[:6], 2)
    with pytest.raises(ValueError, match="in neither train nor validation"):
        split_rows_by_identity(rows, split)


def test_split_sites_holds_out_whole_scanners() -> None:
    from thzface.data.identity_split import split_sites

    sites = {f"p{i}": f"s{i % 3}" for i in range(9)}  # three sites of three people
    for seed in range(4):
        sp = split_sites(sites, 1, seed)
        held = {sites[p] for p in sp.val}
        assert len(held) == 1 and len(sp.val) == 3 and len(sp.train) == 6  # one whole site, nothing else
        assert not {sites[p] for p in sp.train} & held
    assert {sites[p] for p in split_sites(sites, 2, 0).val} != set(sites.values())
    assert len({split_sites(sites, 1, s).val for s in range(6)}) > 1  # the seed draws the site
    twins = {"p0": "p1"}  # p0 (s0) and p1 (s1): a held person's twin is held too
    for seed in range(6):
        sp = split_sites(sites, 1, seed, twins=twins)
        assert ("p0" in sp.val) == ("p1" in sp.val)
    assert all("zz" not in split_sites(sites, 1, s, twins={"p0": "zz"}).val for s in range(6))  # not in the rows


def test_split_sites_errors_name_the_numbers() -> None:
    from thzface.data.identity_split import split_sites

    one = {"a": "0", "b": "0", "c": "0"}
    with pytest.raises(ValueError, match=r"val_sites=1: the world has 1 site\(s\)"):
        split_sites(one, 1)
    with pytest.raises(ValueError, match=r"val_sites=0: expected a positive int"):
        split_sites({"a": "0", "b": "1"}, 0)
    with pytest.raises(ValueError, match=r"1 validation and 3 training people"):
        split_sites({"a": "0", "b": "1", "c": "1", "d": "1"}, 1, seed=next(s for s in range(20) if _a_held(s)))


def _a_held(seed: int) -> bool:
    import numpy as np

    return int(np.random.default_rng(seed).permutation(2)[0]) == 0  # site "0" (sorted first) drawn
