"""Train/test splits of a dataset folder into triplet rows: closed-set, identity-disjoint or mixed; negatives.

Units:

* **closed-set** — inside every (identity, posture) group of concealed scans, ``round(test_fraction · n)``
  sample tokens go to test (at least 1 when the group has ≥ 2, never the whole group); every test identity is
  in train.
* **identity-disjoint** — ``max(2, round(holdout_identities · n_ids))`` identities go to test entirely (at
  least 2 stay in train); a twin pair is held out or kept together, never split.
* **mixed** (the simulator's default) — identity-disjoint holdout first, then closed-set holdout on the rest,
  so ``test.csv`` scores both protocols (told apart by whether the identity is in ``train_val.csv``).
* **none** — every row in ``train_val.csv``, ``test.csv`` empty: a pretraining world, trained on whole (its
  validation people are held out by training; the benchmarks evaluate on other worlds).

Every row's positive is the anchor's unconcealed counterpart; a concealed scan without one is skipped and
counted. Negatives come from the same side of the split (no identity crosses train/test): ``random`` = a
concealed scan of another identity, same posture when one exists (as the reference); ``hard`` = the anchor's
twin (``twins``) when the twin is on the same side, else the identity whose **mean concealed image** is
nearest in L2 (``identity_means``), same posture preferred. Everything is deterministic per ``seed``.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from thzface.data.csv import TripletRow, write_triplets
from thzface.data.io import load_image
from thzface.data.naming import ImageName, NameError_, parse_name
from thzface.data.twins import normalize_twins, read_twins

PROTOCOLS = ("closed-set", "identity-disjoint", "mixed", "none")
NEGATIVES = ("random", "hard")


class SplitWarning(UserWarning):
    """Something was left out of a split (e.g. scans without a counterpart)."""


def _holdout_count(n: int, fraction: float) -> int:
    """Test share of a group of n units: round(fraction·n), ≥ 1 when n ≥ 2 and fraction > 0, < n."""
    if n < 2 or fraction <= 0:
        return 0
    return min(n - 1, max(1, round(fraction * n)))


def _holdout_identities(ids: list[str], share: float, twins: dict[str, str], rng: np.random.Generator) -> set[str]:
    """Whole identities (twin pairs kept together) for test: ≥ 2 held out, ≥ 2 left for train."""
    units = sorted({tuple(sorted({i, twins[i]} & set(ids))) if i in twins else (i,) for i in ids})
    if share <= 0:
        raise ValueError("identity holdout: holdout_identities must be > 0")
    if len(ids) < 4:
        raise ValueError(f"identity holdout needs >= 4 identities (2 train, 2 test), found {len(ids)}")
    want = max(2, round(share * len(ids)))
    held: set[str] = set()
    for u in rng.permutation(len(units)):
        if len(held) >= want:
            break
        if len(ids) - len(held) - len(units[u]) >= 2:
            held.update(units[u])
    if len(held) < 2:
        raise ValueError(f"identity holdout: could not hold out 2 identities while keeping 2 in train ({ids})")
    return held


def _holdout_samples(names: list[ImageName], fraction: float, rng: np.random.Generator) -> set[ImageName]:
    """Closed-set holdout: per (identity, posture) group, a share of its samples (as concealed names)."""
    groups: dict[tuple[str, int], list[ImageName]] = defaultdict(list)
    for n in names:
        groups[(n.identity, n.posture)].append(n)
    held: set[ImageName] = set()
    for key in sorted(groups):
        group = sorted(groups[key])
        k = _holdout_count(len(group), fraction)
        held.update(group[i] for i in rng.permutation(len(group))[:k])
    return held


def _negatives(
    anchors: list[ImageName],
    mode: str,
    twins: dict[str, str],
    means: Mapping[str, np.ndarray] | None,
    rng: np.random.Generator,
    side: str,
) -> list[ImageName]:
    """One concealed negative per anchor, drawn from ``anchors`` (the same ``side`` of the split)."""
    by_id: dict[str, list[ImageName]] = defaultdict(list)
    for a in anchors:
        by_id[a.identity].append(a)
    ids = sorted(by_id)
    if len(ids) < 2:
        raise ValueError(
            f"make_split: the {side} side holds identities {ids}; negatives need at least 2 "
            "(use more identities, or a test_fraction that holds out samples)"
        )
    nearest: dict[str, str] = {}
    if mode == "hard":
        need = [i for i in ids if twins.get(i) not in by_id]
        missing = [i for i in need if means is None or i not in means]
        if missing:
            raise ValueError(f"negatives='hard': identity {missing[0]!r} has no twin here and no mean image")
        for i in need:
            assert means is not None
            d = {j: float(np.sum((means[i] - means[j]) ** 2)) for j in ids if j != i}
            nearest[i] = min(sorted(d), key=d.__getitem__)
    everyone = [n for j in ids for n in by_id[j]]  # grouped by identity, so one person's rows are one span
    by_posture = {p: [n for n in everyone if n.posture == p] for p in {n.posture for n in everyone}}
    spans = {p: _spans(group) for p, group in [(None, everyone), *by_posture.items()]}
    out = []
    for a in anchors:  # one draw: an index into ``group`` with the span [lo, hi) skipped
        if mode == "hard":  # the twin's (or nearest mean's) rows, of the anchor's posture when there are any
            other = by_id[twins[a.identity] if twins.get(a.identity) in by_id else nearest[a.identity]]
            group, (lo, hi) = [n for n in other if n.posture == a.posture] or other, (0, 0)
        else:  # random: the other people's rows of the anchor's posture (all their rows when none), its own skipped
            group, (lo, hi) = by_posture[a.posture], spans[a.posture][a.identity]
            if len(group) == hi - lo:
                group, (lo, hi) = everyone, spans[None][a.identity]
        k = int(rng.integers(len(group) - (hi - lo)))
        out.append(group[k if k < lo else k + hi - lo])
    return out


def _spans(group: list[ImageName]) -> dict[str, tuple[int, int]]:
    """[start, end) of each identity's rows in ``group`` (rows of one identity are contiguous)."""
    out: dict[str, tuple[int, int]] = {}
    for i, n in enumerate(group):
        lo, _ = out.get(n.identity, (i, i))
        out[n.identity] = (lo, i + 1)
    return out


def make_split(
    names: Iterable[str],
    protocol: str = "mixed",
    seed: int = 0,
    test_fraction: float = 0.2,
    holdout_identities: float = 0.25,
    negatives: str = "random",
    twins: Mapping[str, str] | Iterable[Sequence[str]] | None = None,
    identity_means: Mapping[str, np.ndarray] | None = None,
) -> tuple[list[TripletRow], list[TripletRow]]:
    """Split seed file names into (train_rows, test_rows); the module docstring gives protocols/negatives.

    Concealed scans without an unconcealed counterpart are skipped with a :class:`SplitWarning` (count in
    :func:`missing_counterparts`). ``identity_means`` is needed only for ``negatives="hard"`` without twins.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol={protocol!r}: expected one of {list(PROTOCOLS)}")
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives={negatives!r}: expected one of {list(NEGATIVES)}")
    if not 0 <= test_fraction < 1 or not 0 <= holdout_identities < 1:
        raise ValueError("test_fraction and holdout_identities must lie in [0, 1)")
    parsed = {parse_name(n) for n in names}
    anchors = sorted(n for n in parsed if n.concealed and n.counterpart() in parsed)
    skipped = missing_counterparts(parsed)
    if skipped:
        warnings.warn(
            f"make_split: {skipped} concealed scans without an unconcealed counterpart skipped",
            SplitWarning,
            stacklevel=2,
        )
    if not anchors:
        raise ValueError("make_split: no concealed scan has its unconcealed counterpart")
    twin_map = normalize_twins(twins)
    rng = np.random.default_rng(seed)
    ids = sorted({a.identity for a in anchors})
    held_ids: set[str] = set()
    if protocol == "identity-disjoint" or (protocol == "mixed" and holdout_identities > 0):
        held_ids = _holdout_identities(ids, holdout_identities, twin_map, rng)
    held = {a for a in anchors if a.identity in held_ids}
    if protocol in ("closed-set", "mixed"):
        held |= _holdout_samples([a for a in anchors if a.identity not in held_ids], test_fraction, rng)
    sides = [[a for a in anchors if a not in held], [a for a in anchors if a in held]]
    out: list[list[TripletRow]] = []
    for side, side_name in zip(sides, ("train", "test"), strict=True):
        if not side and protocol == "none":  # no test side
            out.append([])
            continue
        negs = _negatives(side, negatives, twin_map, identity_means, rng, side_name)
        out.append(
            [TripletRow(a.filename, a.counterpart().filename, n.filename) for a, n in zip(side, negs, strict=True)]
        )
    return out[0], out[1]


def missing_counterparts(names: Iterable[str | ImageName]) -> int:
    """How many concealed scans among ``names`` lack their unconcealed counterpart."""
    parsed = {n if isinstance(n, ImageName) else parse_name(n) for n in names}
    return sum(1 for n in parsed if n.concealed and n.counterpart() not in parsed)


def split_validation(
    rows: Sequence[TripletRow], fraction: float, seed: int
) -> tuple[list[TripletRow], list[TripletRow]]:
    """Closed-set validation holdout of train rows (``DataConfig.val_fraction``), per (identity, posture)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"val_fraction={fraction}: must lie in [0, 1)")
    held = _holdout_samples(sorted({r.anchor_name for r in rows}), fraction, np.random.default_rng(seed))
    return [r for r in rows if r.anchor_name not in held], [r for r in rows if r.anchor_name in held]


def identity_mean_images(root: str | Path, names: Iterable[str], size: int = 32) -> dict[str, np.ndarray]:
    """Mean concealed THz image per identity (loaded at ``size`` px), for nearest-identity hard negatives."""
    acc: dict[str, list[np.ndarray]] = defaultdict(list)
    for name in sorted(names):
        n = parse_name(name)
        if n.concealed:
            acc[n.identity].append(load_image(Path(root) / "thz" / name, size))  # (1, size, size)
    return {i: np.mean(v, axis=0) for i, v in acc.items()}


def write_split(
    root: str | Path,
    protocol: str = "mixed",
    seed: int = 0,
    negatives: str = "random",
    test_fraction: float = 0.2,
    holdout_identities: float = 0.25,
) -> dict:
    """Split ``root/thz``, write ``root/train_val.csv`` and ``root/test.csv`` atomically; return a summary.

    Twins come from ``root/meta.json``; visible columns are filled where ``root/visible/`` has the same name.
    """
    root = Path(root)
    thz = root / "thz"
    if not thz.is_dir():
        raise ValueError(f"{thz}: folder not found")
    names = sorted(p.name for p in thz.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    for n in names:
        try:
            parse_name(n)
        except NameError_ as e:
            raise ValueError(f"{thz}/{e} (run `thzface data check DIR`)") from e
        if not n.endswith(".png"):
            raise ValueError(f"{thz}/{n}: rename to a lower-case .png suffix (run `thzface data check DIR`)")
    twins = read_twins(root)
    means = identity_mean_images(root, names) if negatives == "hard" else None
    skipped = missing_counterparts(names)
    train, test = make_split(names, protocol, seed, test_fraction, holdout_identities, negatives, twins, means)
    vis = root / "visible"

    def with_visible(rows: list[TripletRow]) -> list[TripletRow]:
        def v(name: str) -> str | None:
            return name if (vis / name).is_file() else None

        return [TripletRow(r.anchor, r.positive, r.negative, v(r.anchor), v(r.positive), v(r.negative)) for r in rows]

    train, test = with_visible(train), with_visible(test)
    write_triplets(train, root / "train_val.csv")
    write_triplets(test, root / "test.csv")
    train_ids = {r.anchor_name.identity for r in train}
    test_ids = {r.anchor_name.identity for r in test}
    closed = sum(r.anchor_name.identity in train_ids for r in test)
    return {
        "protocol": protocol,
        "seed": seed,
        "negatives": negatives,
        "train_csv": str(root / "train_val.csv"),
        "test_csv": str(root / "test.csv"),
        "train_rows": len(train),
        "test_rows": len(test),
        "train_identities": len(train_ids),
        "test_identities": len(test_ids),
        "test_rows_closed_set": closed,
        "test_rows_identity_disjoint": len(test) - closed,
        "twins": len(twins) // 2,
        "skipped_missing_counterpart": skipped,
    }
