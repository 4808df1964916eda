"""Identity-level validation: train / validation / test identities from the triplet rows, or k folds.

``train_val.csv`` rows are split by **identity**: validation identities (model selection, early stopping, the
deployed threshold) never occur in a training row in any role — anchor, positive or negative. A training row
whose negative is a validation identity gets a new negative from the training side (and vice versa), drawn as
:func:`thzface.data.split.make_split` draws random negatives (another identity, same posture preferred), so no
row is lost. Twin pairs go to the same side. Too few identities is a ValueError naming the numbers — never a
silent fallback to validating on training rows. ``test.csv`` rows are then told apart by
:func:`protocol_masks`: closed-set (extra captures of a training identity), unseen (an identity in neither
train nor validation) and validation-seen (an identity used for validation; reported apart, not as unseen).

Entry points: :func:`split_identities` / :func:`identity_folds` (identities only),
:func:`split_rows_by_identity` (rows for one split), :func:`identity_validation` (both at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from thzface.data.csv import TripletRow
from thzface.data.split import _negatives
from thzface.data.twins import normalize_twins


@dataclass(frozen=True)
class IdentitySplit:
    """Identities of the training and validation sides (sorted, disjoint)."""

    train: tuple[str, ...]  # identities whose rows are trained on (every role)
    val: tuple[str, ...]  # held-out identities: model selection, early stopping, deployed threshold
    fold: int = 0  # fold index (0 for a single split)


def _units(ids: Sequence[str], twins: dict[str, str]) -> list[tuple[str, ...]]:
    """Identities grouped into units that must stay on one side (a twin pair present in ``ids``, or one id)."""
    present = set(ids)
    return sorted({tuple(sorted({i, twins[i]} & present)) if i in twins else (i,) for i in ids})


def _val_count(n: int, val: int | float) -> int:
    """Validation identities wanted out of ``n``: an int count, or a float fraction in (0, 1) → round(f·n)."""
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise ValueError(f"val_identities={val!r}: expected an int count or a float fraction in (0, 1)")
    if isinstance(val, float):
        if not 0.0 < val < 1.0:
            raise ValueError(f"val_identities={val}: a fraction must lie in (0, 1)")
        return max(1, round(val * n))
    if val < 1:
        raise ValueError(f"val_identities={val}: the count must be >= 1")
    return val


def split_identities(
    identities: Iterable[str],
    val_identities: int | float,
    seed: int = 0,
    twins: Mapping[str, str] | Iterable[Sequence[str]] | None = None,
    min_train: int = 2,
    min_val: int = 2,
) -> IdentitySplit:
    """Hold out ``val_identities`` whole identities (count, or fraction of all) for validation.

    At least ``min_val`` go to validation (an EER needs two identities for impostor pairs) and at least
    ``min_train`` stay in training (set it to the sampler's P). A twin pair is held out or kept together, so
    the count may come out one higher. Raises ValueError naming the numbers when they cannot be met.
    """
    ids = sorted(set(identities))
    twin_map = normalize_twins(twins)
    want = max(min_val, _val_count(len(ids), val_identities))
    if len(ids) < want + min_train:
        raise ValueError(
            f"identity validation split: {len(ids)} identities cannot give {want} validation identities and keep "
            f"{min_train} for training (need >= {want + min_train}); generate more identities, lower "
            "val_identities / the sampler's P, or use identity_folds"
        )
    units = _units(ids, twin_map)
    rng = np.random.default_rng(seed)
    held: set[str] = set()
    for u in rng.permutation(len(units)):
        if len(held) >= want:
            break
        if len(ids) - len(held) - len(units[u]) >= min_train:
            held.update(units[u])
    if len(held) < want:
        raise ValueError(
            f"identity validation split: twin pairs leave only {len(held)} of {want} validation identities "
            f"while keeping {min_train} of {len(ids)} for training; generate more identities"
        )
    return IdentitySplit(tuple(i for i in ids if i not in held), tuple(sorted(held)))


def split_sites(
    sites: Mapping[str, str],
    n_sites: int,
    seed: int = 0,
    twins: Mapping[str, str] | Iterable[Sequence[str]] | None = None,
    min_train: int = 2,
) -> IdentitySplit:
    """Hold out every person of ``n_sites`` whole sites (scanners) of a multi-site world, drawn with ``seed``:
    validation on scanners never trained on. ``sites``: person → site. A held person's twin is held too. Raises
    ValueError naming the numbers when the world has too few sites or the rest too few people."""
    names = sorted(set(sites.values()))
    if isinstance(n_sites, bool) or not isinstance(n_sites, int) or n_sites < 1:
        raise ValueError(f"val_sites={n_sites!r}: expected a positive int")
    if len(names) <= n_sites:
        raise ValueError(f"val_sites={n_sites}: the world has {len(names)} site(s); one must stay for training")
    rng = np.random.default_rng(seed)
    chosen = {names[i] for i in rng.permutation(len(names))[:n_sites]}
    held = {p for p, s in sites.items() if s in chosen}
    twin_map = normalize_twins(twins)
    held |= {twin_map[p] for p in held if twin_map.get(p) in sites}  # (a twin outside ``sites`` is not ours)
    ids = sorted(sites)
    if len(ids) - len(held) < min_train or len(held) < 2:
        raise ValueError(
            f"val_sites={n_sites}: {len(held)} validation and {len(ids) - len(held)} training people "
            f"(need >= 2 and >= {min_train})"
        )
    return IdentitySplit(tuple(i for i in ids if i not in held), tuple(sorted(held)))


def identity_folds(
    identities: Iterable[str],
    k: int,
    seed: int = 0,
    twins: Mapping[str, str] | Iterable[Sequence[str]] | None = None,
    min_train: int = 2,
    min_val: int = 2,
) -> list[IdentitySplit]:
    """k-fold over identities: every identity is a validation identity in exactly one fold.

    Units (twin pairs kept together) are shuffled with ``seed`` and dealt round-robin. Raises ValueError naming
    the numbers when a fold would hold fewer than ``min_val`` validation or ``min_train`` training identities.
    """
    ids = sorted(set(identities))
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"identity_folds: k={k!r} must be an int >= 2")
    units = _units(ids, normalize_twins(twins))
    order = np.random.default_rng(seed).permutation(len(units))
    folds: list[set[str]] = [set() for _ in range(k)]
    for t, u in enumerate(order):
        folds[t % k].update(units[u])
    out = []
    for f, held in enumerate(folds):
        if len(held) < min_val or len(ids) - len(held) < min_train:
            raise ValueError(
                f"identity_folds: {len(ids)} identities in k={k} folds give fold {f} {len(held)} validation and "
                f"{len(ids) - len(held)} training identities (need >= {min_val} and >= {min_train}); lower k or "
                "generate more identities"
            )
        out.append(IdentitySplit(tuple(i for i in ids if i not in held), tuple(sorted(held)), f))
    return out


def row_identities(rows: Iterable[TripletRow]) -> set[str]:
    """Every identity a set of rows touches, in any role (anchor, positive, negative)."""
    return {n.identity for r in rows for n in (r.anchor_name, r.positive_name, r.negative_name)}


def split_rows_by_identity(
    rows: Sequence[TripletRow], split: IdentitySplit, seed: int = 0
) -> tuple[list[TripletRow], list[TripletRow]]:
    """(train_rows, val_rows) by anchor identity; a negative from the other side is redrawn on the row's side.

    Raises ValueError when a row's anchor is in neither side of ``split`` or a side has no rows.
    """
    sides = {i: 0 for i in split.train} | {i: 1 for i in split.val}
    stray = sorted({r.anchor_name.identity for r in rows} - set(sides))
    if stray:
        raise ValueError(f"split_rows_by_identity: identities {stray[:5]} are in neither train nor validation")
    rng = np.random.default_rng(seed)
    out: list[list[TripletRow]] = []
    for side, name in ((0, "train"), (1, "validation")):
        mine = [r for r in rows if sides[r.anchor_name.identity] == side]
        if not mine:
            raise ValueError(f"split_rows_by_identity: the {name} identities have no rows")
        anchors = [r.anchor_name for r in mine]
        fresh = _negatives(anchors, "random", {}, None, rng, name)  # one candidate per row, used only if needed
        out.append(
            [
                r
                if sides.get(r.negative_name.identity) == side
                else TripletRow(r.anchor, r.positive, n.filename, r.visible_concealed, r.visible_unconcealed, None)
                for r, n in zip(mine, fresh, strict=True)
            ]
        )
    return out[0], out[1]


def identity_validation(
    rows: Sequence[TripletRow],
    val_identities: int | float,
    seed: int = 0,
    twins: Mapping[str, str] | Iterable[Sequence[str]] | None = None,
    min_train: int = 2,
) -> tuple[IdentitySplit, list[TripletRow], list[TripletRow]]:
    """Split ``train_val.csv`` rows by identity: (split, train_rows, val_rows); see :func:`split_identities`."""
    split = split_identities({r.anchor_name.identity for r in rows}, val_identities, seed, twins, min_train)
    train, val = split_rows_by_identity(rows, split, seed)
    return split, train, val


def identity_protocols(identities: Sequence[str] | np.ndarray, train: Iterable[str], val: Iterable[str] = ()) -> dict:
    """Boolean masks (N,) of evaluation rows by identity, the protocols every report shows apart: ``closed-set``
    (training identities), ``identity-disjoint`` (neither training nor validation: the number that matters),
    ``validation-seen`` (validation identities: neither trained on nor unseen) and ``all``."""
    ident = np.asarray(identities, dtype=object)
    tr, va = set(train), set(val)
    closed = np.asarray([i in tr for i in ident], dtype=bool)
    seen_val = np.asarray([i in va for i in ident], dtype=bool)
    return {
        "closed-set": closed,
        "identity-disjoint": ~(closed | seen_val),
        "validation-seen": seen_val,
        "all": np.ones(len(ident), dtype=bool),
    }


def protocol_masks(test_rows: Sequence[TripletRow], split: IdentitySplit) -> dict[str, np.ndarray]:
    """Boolean masks (len(test_rows),) telling test rows apart by anchor identity, reported separately.

    ``closed_set``: a training identity (extra captures of a person trained on); ``unseen``: an identity in
    neither train nor validation (the identity-disjoint protocol); ``validation_seen``: a validation identity.
    """
    m = identity_protocols([r.anchor_name.identity for r in test_rows], split.train, split.val)
    return {"closed_set": m["closed-set"], "unseen": m["identity-disjoint"], "validation_seen": m["validation-seen"]}
