"""Twin-aware verification metrics (numpy): genuine vs twin impostors and genuine vs random impostors, with
decision thresholds chosen on held-out identity folds.

Pairs are probe × gallery scores (similarities, higher = same person). A pair is **genuine** (same identity),
a **twin** impostor (the gallery identity is the probe identity's twin) or a **random** impostor (any other).
Threshold-free numbers (ROC AUC, EER, TAR@FAR) are computed per comparison. Operating points are honest: the
identities (twin pairs kept together) are dealt into k folds; for fold f the threshold is chosen on pairs whose
probe and gallery identities both lie outside f and applied to the pairs whose probe lies in f, so a threshold
never saw the people it decides on (seed 003 tuned it on the pairs it scored). Decisions are pooled over folds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from thzface.metrics import verification as V

RANDOM, GENUINE, TWIN = 0, 1, 2  # pair kinds
KIND_NAMES = {RANDOM: "random", TWIN: "twin"}


def pair_kinds(probe_ids: Sequence[str], gallery_ids: Sequence[str], twins: Mapping[str, str]) -> np.ndarray:
    """(P, G) int array: GENUINE (same identity), TWIN (gallery is the probe's twin) or RANDOM."""
    p = np.asarray([str(i) for i in probe_ids])
    g = np.asarray([str(i) for i in gallery_ids])
    twin_of_p = np.asarray([twins.get(i, "\0") for i in p])  # "\0" matches no identity
    kinds = np.full((len(p), len(g)), RANDOM, dtype=np.int64)
    kinds[twin_of_p[:, None] == g[None, :]] = TWIN
    kinds[p[:, None] == g[None, :]] = GENUINE
    return kinds


def identity_folds(identities: Iterable[str], twins: Mapping[str, str], k: int, seed: int = 0) -> dict[str, int]:
    """Deal identities into ``min(k, units)`` folds, a twin pair being one unit; ValueError with < 2 units."""
    ids = sorted({str(i) for i in identities})
    units = sorted({tuple(sorted({i, twins[i]} & set(ids))) if i in twins else (i,) for i in ids})
    if len(units) < 2 or k < 2:
        raise ValueError(f"identity_folds: need k >= 2 and >= 2 identity units, got k={k}, {len(units)} unit(s)")
    order = np.random.default_rng(seed).permutation(len(units))
    return {i: int(rank % min(k, len(units))) for rank, u in enumerate(order) for i in units[u]}


def comparison(scores: np.ndarray, kinds: np.ndarray, impostor: int, fars: Sequence[float]) -> dict:
    """Threshold-free numbers of genuine vs one impostor kind (flat arrays of pairs)."""
    sel = (kinds == GENUINE) | (kinds == impostor)
    s, y = scores[sel], (kinds[sel] == GENUINE).astype(np.int64)
    out: dict = {"genuine": int(y.sum()), "impostor": int(len(y) - y.sum())}
    if y.all() or not y.any():
        return {**out, "error": "needs both genuine and impostor pairs"}
    eer, thr = V.eer(s, y)
    out.update(roc_auc=V.roc_auc(s, y), eer=eer, eer_threshold_in_sample=thr)
    for far in fars:
        out[f"tar@far={far:g}"] = V.tar_at_far(s, y, far).tar
    out["mean_genuine_score"] = float(s[y == 1].mean())
    out["mean_impostor_score"] = float(s[y == 0].mean())
    return out


def heldout(
    scores: np.ndarray, kinds: np.ndarray, probe_fold: np.ndarray, gallery_fold: np.ndarray, calibrate: int
) -> dict:
    """Pooled held-out error rates when each fold's threshold is the EER threshold of genuine vs ``calibrate``
    impostors on the other folds; also held-out accuracy (genuine + calibrate pairs) at the best-accuracy threshold.
    """
    counts = {"genuine": 0, "twin": 0, "random": 0, "calib_pairs": 0}
    errors = {"genuine": 0, "twin": 0, "random": 0, "calib_correct": 0}
    thresholds = []
    for f in np.unique(probe_fold):
        train = (probe_fold != f) & (gallery_fold != f) & ((kinds == GENUINE) | (kinds == calibrate))
        y_train = kinds[train] == GENUINE
        if y_train.all() or not y_train.any():
            continue  # this fold's complement lacks one class: no threshold can be chosen
        thr = V.eer(scores[train], y_train)[1]
        thr_acc = V.best_threshold(scores[train], y_train)[0]
        thresholds.append(thr)
        held = probe_fold == f
        s, kd = scores[held], kinds[held]
        accept = s >= thr
        for name, code in (("genuine", GENUINE), ("twin", TWIN), ("random", RANDOM)):
            m = kd == code
            counts[name] += int(m.sum())
            errors[name] += int((~accept[m]).sum() if code == GENUINE else accept[m].sum())
        cal = (kd == GENUINE) | (kd == calibrate)
        counts["calib_pairs"] += int(cal.sum())
        errors["calib_correct"] += int(((s[cal] >= thr_acc) == (kd[cal] == GENUINE)).sum())

    def rate(name: str) -> float:
        return errors[name] / counts[name] if counts[name] else float("nan")

    frr, far_twin, far_random = rate("genuine"), rate("twin"), rate("random")
    far = far_twin if calibrate == TWIN else far_random
    return {
        "folds_used": len(thresholds),
        "threshold_mean": float(np.mean(thresholds)) if thresholds else float("nan"),
        "frr": frr,
        "far_twin": far_twin,
        "far_random": far_random,
        "hter": 0.5 * (frr + far),
        "accuracy": errors["calib_correct"] / counts["calib_pairs"] if counts["calib_pairs"] else float("nan"),
    }


def twin_verification(
    scores: np.ndarray,
    probe_ids: Sequence[str],
    gallery_ids: Sequence[str],
    twins: Mapping[str, str],
    exclude: np.ndarray | None = None,
    k: int = 5,
    seed: int = 0,
    fars: Sequence[float] = (1e-1, 1e-2),
) -> dict:
    """Every twin-aware number for a (P, G) score matrix; ``exclude`` (P, G) bool drops pairs (e.g. a probe's
    own counterpart). Returns pair counts, ``twin`` and ``random`` comparisons (threshold-free + ``heldout``)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(probe_ids), len(gallery_ids)):
        raise ValueError(f"twin_verification: scores {scores.shape} != (probes, gallery) "
                         f"({len(probe_ids)}, {len(gallery_ids)})")  # fmt: skip
    keep = np.ones(scores.shape, bool) if exclude is None else ~np.asarray(exclude, bool)
    kinds = pair_kinds(probe_ids, gallery_ids, twins)
    s, kd = scores[keep], kinds[keep]
    out: dict = {"pairs": {"genuine": int((kd == GENUINE).sum()), "twin": int((kd == TWIN).sum()),
                           "random": int((kd == RANDOM).sum())}}  # fmt: skip
    units = {str(i) for i in probe_ids} | {str(i) for i in gallery_ids}
    n_units = len({frozenset((i, twins[i])) if twins.get(i) in units else i for i in units})
    for code, name in KIND_NAMES.items():
        out[name] = comparison(s, kd, code, fars)
    if n_units >= 2 and k >= 2:  # held-out thresholds need identities on both sides of a fold
        folds = identity_folds(units, twins, k, seed)
        pf = np.array([folds[str(i)] for i in probe_ids])[:, None].repeat(len(gallery_ids), 1)[keep]  # (M,)
        gf = np.array([folds[str(i)] for i in gallery_ids])[None, :].repeat(len(probe_ids), 0)[keep]  # (M,)
        for code, name in KIND_NAMES.items():
            if "error" not in out[name]:
                out[name]["heldout"] = heldout(s, kd, pf, gf, calibrate=code)
    return out
