"""Verification pairs from a set of embeddings: every genuine pair and all or a uniform sample of the impostor
pairs, scored by cosine similarity (the pair sets :mod:`thzface.metrics.verification` scores)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class PairScores(NamedTuple):
    """Scored pairs from a set of embeddings: genuine pairs first, then impostors, each sorted by (i, j)."""

    scores: np.ndarray  # (M,) cosine similarity of each pair
    labels: np.ndarray  # (M,) 1 genuine, 0 impostor (int64)
    pairs: np.ndarray  # (M, 2) indices (i, j), i < j, into the embeddings


def _genuine_pairs(inv: np.ndarray) -> np.ndarray:
    """All (i < j, same identity) pairs sorted by (i, j); (M, 2), built per identity group."""
    chunks = [np.empty((0, 2), dtype=np.int64)]
    for members in np.split(np.argsort(inv, kind="stable"), np.flatnonzero(np.diff(np.sort(inv))) + 1):
        a, b = np.triu_indices(len(members), 1)
        chunks.append(np.stack([members[a], members[b]], axis=1))
    pairs = np.concatenate(chunks)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def _impostor_pairs(inv: np.ndarray, max_impostors: int | None, rng: np.random.Generator) -> np.ndarray:
    """All (i < j, different identity) pairs, or ``max_impostors`` of them drawn without replacement; (M,
    2)."""
    n = len(inv)
    order = np.argsort(inv, kind="stable")
    group_start = np.r_[0, np.flatnonzero(np.diff(inv[order])) + 1]
    group_size = np.diff(np.r_[group_start, n])
    pos = np.arange(n) - np.repeat(group_start, group_size)  # position of order[t] within its identity
    same_after = np.empty(n, dtype=np.int64)
    same_after[order] = np.repeat(group_size, group_size) - 1 - pos
    per_row = (n - 1 - np.arange(n)) - same_after  # (N,) impostor partners j > i of each i
    total = int(per_row.sum())
    if max_impostors is None or max_impostors >= total:
        i, j = np.triu_indices(n, 1)
        keep = inv[i] != inv[j]
        return np.stack([i[keep], j[keep]], axis=1)
    picks = np.sort(rng.choice(total, size=max_impostors, replace=False))
    ends = np.cumsum(per_row)
    rows = np.searchsorted(ends, picks, side="right")
    offsets = picks - (ends[rows] - per_row[rows])
    cols = np.empty_like(rows)
    for r in np.unique(rows):
        sel = rows == r
        partners = np.flatnonzero(inv[r + 1 :] != inv[r]) + r + 1
        cols[sel] = partners[offsets[sel]]
    return np.stack([rows, cols], axis=1)


def pair_scores(
    embeddings: Any,
    identities: Any,
    max_impostors: int | None = None,
    rng: np.random.Generator | None = None,
) -> PairScores:
    """Cosine scores of every genuine pair and of all (or ``max_impostors`` random) impostor pairs.

    ``embeddings`` (N, D) need not be normalised (rows are normalised here; a zero row is an error);
    ``identities`` (N,) are any comparable labels (ints or strings). Impostors are subsampled uniformly
    without replacement with ``rng`` (default ``np.random.default_rng(0)``) and never materialised in full
    when subsampling, so memory stays O(N + M).
    """
    where = "pair_scores"
    e = np.asarray(embeddings.detach().cpu().numpy() if hasattr(embeddings, "detach") else embeddings)
    if e.ndim != 2 or e.shape[0] < 2 or not np.issubdtype(e.dtype, np.number):
        raise ValueError(f"{where}: embeddings must be numeric (N, D) with N >= 2, got shape {e.shape}")
    e = e.astype(np.float64)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError(f"{where}: embeddings contain a zero or non-finite row")
    e = e / norms
    ids = np.asarray(identities.detach().cpu().numpy() if hasattr(identities, "detach") else identities)
    if ids.ndim != 1 or len(ids) != len(e):
        raise ValueError(f"{where}: identities must be 1-D of length {len(e)}, got shape {ids.shape}")
    if max_impostors is not None and (not isinstance(max_impostors, (int, np.integer)) or max_impostors < 1):
        raise ValueError(f"{where}: max_impostors must be a positive int or None, got {max_impostors!r}")
    _, inv = np.unique(ids, return_inverse=True)
    if inv.max() == 0:
        raise ValueError(f"{where}: identities hold a single identity; impostor pairs need at least two")
    genuine = _genuine_pairs(inv)
    if len(genuine) == 0:
        raise ValueError(f"{where}: no identity has two samples, so there are no genuine pairs")
    impostor = _impostor_pairs(inv, max_impostors, rng if rng is not None else np.random.default_rng(0))
    pairs = np.concatenate([genuine, impostor]).astype(np.int64)  # (M, 2)
    scores = np.einsum("md,md->m", e[pairs[:, 0]], e[pairs[:, 1]])  # (M,)
    labels = np.r_[np.ones(len(genuine), np.int64), np.zeros(len(impostor), np.int64)]
    return PairScores(scores, labels, pairs)


def fuse(embeddings: Any) -> np.ndarray:
    """One embedding for several scans of one person (a portal pass, an enrolment): the unit mean of the unit
    embeddings (N, D) -> (D,). The mean direction weighs each scan alike whatever its norm."""
    e = np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 1:
        raise ValueError(f"fuse: embeddings must be (N, D) with N >= 1, got shape {e.shape}")
    norms = np.linalg.norm(e, axis=1, keepdims=True)  # (N, 1)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError("fuse: embeddings contain a zero or non-finite row")
    m = (e / norms).mean(0)  # (D,)
    n = np.linalg.norm(m)
    if n == 0:
        raise ValueError("fuse: the unit embeddings cancel out (their mean is zero)")
    return m / n


def set_embeddings(embeddings: Any, identities: Any, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sets of ``k`` scans of one person, fused: each identity's rows are shuffled with ``rng`` and dealt into
    ``len // k`` disjoint sets (a remainder is left out), each fused by :func:`fuse`. Returns (set embeddings
    (S, D), set identities (S,)); identities with fewer than ``k`` scans give no set."""
    e = np.asarray(embeddings, dtype=np.float64)
    ids = np.asarray(identities)
    if e.ndim != 2 or len(ids) != len(e):
        raise ValueError(f"set_embeddings: embeddings (N, D) and identities (N,) differ: {e.shape} vs {ids.shape}")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"set_embeddings: k must be a positive int, got {k!r}")
    out, owners = [], []
    for person in np.unique(ids):
        rows = rng.permutation(np.flatnonzero(ids == person))
        for s in range(len(rows) // k):
            out.append(fuse(e[rows[s * k : (s + 1) * k]]))
            owners.append(person)
    if not out:
        raise ValueError(f"set_embeddings: no identity has {k} scans")
    return np.stack(out), np.asarray(owners)


def cross_scores(probe: Any, gallery: Any, probe_ids: Any, gallery_ids: Any) -> PairScores:
    """Every probe against every gallery embedding (e.g. fused concealed sets against fused unconcealed ones):
    cosine scores (P*G,), labels (1 when the identities match) and the (probe, gallery) index pairs."""
    p, g = np.asarray(probe, dtype=np.float64), np.asarray(gallery, dtype=np.float64)
    p = p / np.linalg.norm(p, axis=1, keepdims=True)
    g = g / np.linalg.norm(g, axis=1, keepdims=True)
    i = np.repeat(np.arange(len(p)), len(g))  # (P*G,)
    j = np.tile(np.arange(len(g)), len(p))  # (P*G,)
    scores = np.einsum("md,md->m", p[i], g[j])  # (P*G,)
    labels = (np.asarray(probe_ids)[i] == np.asarray(gallery_ids)[j]).astype(np.int64)
    return PairScores(scores, labels, np.stack([i, j], axis=1))
