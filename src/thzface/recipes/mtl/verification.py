"""Verification metrics of an embedder's collected outputs: probe × gallery pairs scored per protocol, with
identity-bootstrap intervals, same- and cross-posture pairs apart, and the several-scans table (K scans a side,
fused)."""

from __future__ import annotations

from typing import Any

import numpy as np

from thzface.metrics import bootstrap as B
from thzface.metrics import pairs as P
from thzface.metrics import verification as V
from thzface.recipes.mtl.report import cross_pairs, probe_gallery_pairs

FARS = (1e-2, 1e-3)
N_BOOT = 1000  # identity-bootstrap replicates of the verification intervals


def intervals(scores: np.ndarray, labels: np.ndarray, pair_ids: np.ndarray, seed: int) -> dict:
    """95 % intervals of EER and TAR@FAR from a bootstrap over the identities of the pairs (pairs of one person are
    not independent; :func:`thzface.metrics.bootstrap.identity_bootstrap`)."""
    ci = B.identity_bootstrap(scores, labels, pair_ids, n_boot=N_BOOT, seed=seed, fars=FARS)
    out: dict[str, Any] = {"eer_ci95": list(ci.eer), "ci_replicates": ci.replicates}
    out.update({f"tar@far={k}_ci95": list(v) for k, v in ci.tar_at_far.items()})
    return out


SCANS = (1, 2, 3, 5)  # scans a side of the several-scans table (a portal pass, an enrolment)


def by_scans(c: dict, idx: np.ndarray, seed: int = 0) -> dict:
    """EER when each side fuses K scans (:func:`thzface.metrics.pairs.set_embeddings`): each person's captures are
    halved at random (``seed``) into a probe half (their concealed scans) and a gallery half (their unconcealed
    scans), so no set pair shares a capture; K runs over :data:`SCANS` while both halves hold K captures."""
    rng = np.random.default_rng(seed)
    ids = c["identity"][idx]
    probe, gallery = [], []
    for person in np.unique(ids):
        rows = rng.permutation(np.flatnonzero(ids == person))
        probe.append(rows[: len(rows) // 2])
        gallery.append(rows[len(rows) // 2 :])
    pr, ga = np.concatenate(probe), np.concatenate(gallery)
    out: dict[str, Any] = {}
    for k in SCANS:
        try:
            ps, pid = P.set_embeddings(c["emb_a"][idx][pr], ids[pr], k, rng)
            gs, gid = P.set_embeddings(c["emb_p"][idx][ga], ids[ga], k, rng)
        except ValueError:  # no person has k captures in a half
            break
        sc = P.cross_scores(ps, gs, pid, gid)
        if c.get("site") is not None:  # a multi-site world: impostor sets within a site (probe_gallery_pairs)
            site = dict(zip(ids, c["site"][idx], strict=True))
            ps_site, gs_site = [site[p] for p in pid], [site[g] for g in gid]
            keep = V.scored_pairs(pid, gid, ps_site, gs_site)[sc.pairs[:, 0], sc.pairs[:, 1]]  # (P*G,)
            sc = P.PairScores(sc.scores[keep], sc.labels[keep], sc.pairs[keep])
        if sc.labels.all() or not sc.labels.any():
            break
        out[str(k)] = {"eer": V.eer(sc.scores, sc.labels)[0], "genuine": int(sc.labels.sum()),
                       "pairs": int(len(sc.labels)), "identities": int(len(np.intersect1d(pid, gid)))}  # fmt: skip
    return out


def verification(c: dict, idx: np.ndarray, seed: int = 0, threshold: float | None = None) -> dict:
    """Pair metrics of the subset ``idx``: oracle EER, AUC, TAR@FAR, k-fold accuracies and, given the run's
    deployed ``threshold``, TAR/FAR/accuracy at it (``deployed``)."""
    scores, labels, same_posture = cross_pairs(c, idx)
    if labels.all() or not labels.any():
        return {"error": "needs both genuine and impostor pairs", "pairs": int(len(labels))}
    i, j, _ = probe_gallery_pairs(c, idx)
    ids = c["identity"][idx]
    pair_ids = np.stack([ids[i], ids[j]], axis=1)  # (M, 2)
    eer, eer_thr = V.eer(scores, labels)
    k = min(10, max(2, int(labels.sum())))
    kf = V.kfold_accuracy(scores, labels, k=k, seed=seed)
    kb = V.kfold_accuracy(scores, labels, k=k, seed=seed, balanced=True)  # the deployed threshold
    d_ap = np.linalg.norm(c["emb_a"][idx] - c["emb_p"][idx], axis=1)
    d_an = np.linalg.norm(c["emb_a"][idx] - c["emb_n"][idx], axis=1)
    out: dict[str, Any] = {
        "pairs": int(len(labels)),
        "genuine": int(labels.sum()),
        "impostor": int((1 - labels).sum()),
        "roc_auc": V.roc_auc(scores, labels),
        "eer": eer,
        "eer_threshold": eer_thr,
        "kfold_accuracy": kf.mean,
        "kfold_accuracy_std": kf.std,
        "kfold_threshold": float(np.mean(kf.thresholds)),
        "kfold_balanced_accuracy": kb.mean,
        "kfold_balanced_accuracy_std": kb.std,
        "kfold_balanced_threshold": float(np.mean(kb.thresholds)),
        "triplet_accuracy": V.triplet_accuracy(d_ap, d_an),
        "by_posture": by_posture(scores, labels, same_posture),
        "identities": int(len(np.unique(ids))),
        "sites": 1 if c.get("site") is None else int(len(np.unique(c["site"][idx]))),  # impostors within each
        **intervals(scores, labels, pair_ids, seed),
        "by_scans": by_scans(c, idx, seed),
        "by_site": by_site(c, idx, scores, labels, threshold),
    }
    for far in FARS:
        op = V.tar_at_far(scores, labels, far)
        out[f"tar@far={far:g}"] = op.tar
    if threshold is not None:
        out["deployed"] = V.at_threshold(scores, labels, threshold)._asdict()
    return out


def group_metrics(scores: np.ndarray, labels: np.ndarray, groups: dict[str, np.ndarray],
                  threshold: float | None = None) -> dict:  # fmt: skip
    """Oracle EER, AUC and TAR@FAR of each group of pairs (``groups``: name → boolean mask over the pairs) and,
    given the deployed ``threshold``, its false-accept rate there; a group without both genuine and impostor pairs
    is left out."""
    out = {}
    for name, m in groups.items():
        s, y = scores[m], labels[m]
        if 0 < y.sum() < y.size:
            out[name] = {
                "pairs": int(y.size),
                "genuine": int(y.sum()),
                "eer": V.eer(s, y)[0],
                "roc_auc": V.roc_auc(s, y),
                **{f"tar@far={f:g}": V.tar_at_far(s, y, f).tar for f in FARS},
            }
            if threshold is not None:
                out[name]["deployed_far"] = V.at_threshold(s, y, threshold).far
    return out


def by_posture(scores: np.ndarray, labels: np.ndarray, same_posture: np.ndarray) -> dict:
    """The same-posture and the cross-posture pairs apart (:func:`group_metrics`; a pose-robustness view, as face
    verification's frontal-profile protocols give)."""
    return group_metrics(scores, labels, {"same": same_posture, "cross": ~same_posture})


def by_site(c: dict, idx: np.ndarray, scores: np.ndarray, labels: np.ndarray, threshold: float | None = None) -> dict:
    """Each scanner's pairs apart in a multi-site world (:func:`group_metrics` keyed by site, plus its number of
    identities); every impostor pair is within a site (:func:`probe_gallery_pairs`), so a site's pairs are those of
    its probes. Empty for a folder of one scanner."""
    if c.get("site") is None:
        return {}
    i, _, _ = probe_gallery_pairs(c, idx)
    site, ids = c["site"][idx], c["identity"][idx]
    out = group_metrics(scores, labels, {str(s): site[i] == s for s in np.unique(site)}, threshold)
    for s, d in out.items():
        d["identities"] = int(len(np.unique(ids[site == s])))
    return out
