"""Score a THz embedder run (``mtl``, ``distill`` student) on a dataset's test CSV for the engine's evaluation path.

Protocols come from the run's recorded identity split (``RUN/split.json``): a test row of a training identity is
closed-set, of a validation identity ``validation-seen`` (reported apart), of neither identity-disjoint — the number
that matters. (Runs without a split file: the training CSV's identities are closed-set. A source that never trained
on the folder — ``pretrained:NAME``, a weights file, a run of another folder — scores every row of every CSV, and
every person is identity-disjoint.) Verification is scored on
pairs: every concealed probe (anchor) against every unconcealed gallery image (positive) of the subset, except its
own counterpart (same identity, posture and sample), so genuine pairs differ in sample or posture. Each protocol
reports the oracle EER (threshold fit on the scored pairs) with a 95 % interval from a bootstrap over identities,
beside the metrics at the run's *deployed* threshold, which training fit on validation identities; evaluation never
changes the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from thzface.config import Config
from thzface.data.csv import TripletRow, read_triplets
from thzface.data.datasets import TripletDataset, identity_list, load_aux_mask
from thzface.data.geometry import person_sites
from thzface.data.identity_split import identity_protocols
from thzface.data.naming import POSTURES
from thzface.data.targets import load_clean_targets
from thzface.engine.checkpoint import RunError
from thzface.engine.evaluate import EvalInput, Scored
from thzface.engine.infer import collect as run_collect
from thzface.metrics import classification as C
from thzface.metrics import reconstruction as R
from thzface.metrics import separability as S
from thzface.metrics import verification as V
from thzface.models.multitask import MultiTaskModel
from thzface.recipes.mtl.mean_face import training_mean_faces
from thzface.recipes.mtl.report import mtl_report, probe_gallery_pairs, tables
from thzface.recipes.mtl.site_adapt import collect_site_adapted
from thzface.recipes.mtl.verification import FARS, by_posture, verification


def collect(model: MultiTaskModel, cfg: Config, root: Path, rows: list[TripletRow], batch_size: int = 64) -> dict:
    """Run the model over the test rows; numpy arrays of embeddings, posture predictions, reconstructions."""
    ds = TripletDataset(
        root,
        rows,
        image_size=cfg.data.image_size,
        identities=identity_list(rows),
        augment=None,
        target=cfg.data.target,
    )
    model.eval()

    def step(b: dict) -> dict[str, torch.Tensor]:
        pred = model.infer(b["anchor"])  # the deployed embedding (MultiTaskModel.embed)
        oracle = model(b["anchor"], posture=b["posture"], route="oracle")
        return {
            "emb_a": pred.embedding,  # (n, D)
            "emb_p": model.embed(b["positive"]),  # (n, D)
            "emb_n": model.embed(b["negative"]),  # (n, D)
            "logits": pred.posture_logits,  # (n, P)
            "rec": pred.reconstruction,  # (n, C, S, S)
            "rec_oracle": oracle.reconstruction,  # (n, C, S, S)
            "target": b["target"],
            "anchor": b["anchor"],
            "positive": b["positive"],  # (n, 1, S, S) the unconcealed counterpart (the gallery image)
            "mask": b["garment_mask"],
            "has_mask": b["has_mask"],
        }

    res: dict[str, Any] = run_collect(step, DataLoader(ds, batch_size=batch_size, shuffle=False))
    res["has_mask"] = res["has_mask"].astype(bool).reshape(-1)
    res["identity"] = np.array([r.anchor_name.identity for r in rows])
    res["posture"] = np.array([r.anchor_name.posture for r in rows])
    res["sample"] = np.array([r.anchor_name.sample for r in rows])
    res["names"] = [r.anchor for r in rows]
    sites = person_sites(root)  # multi-site worlds: impostor pairs are scored within a site (probe_gallery_pairs)
    res["site"] = None if sites is None else np.array([sites.get(i, "") for i in res["identity"]])
    res["clean"] = load_clean_targets(root, res["names"], cfg.data.image_size)  # (N, 1, S, S) or None
    heads = [
        load_aux_mask(root / "aux" / (Path(n).stem + ".npz"), cfg.data.image_size, "face_mask") for n in res["names"]
    ]
    found = [h.numpy() for h in heads if h is not None]  # (1, S, S) each
    res["region"] = np.stack(found) if found and len(found) == len(heads) else None  # (N, 1, S, S)
    return res


def baselines(c: dict, idx: np.ndarray, posture_train: np.ndarray | None = None) -> dict:
    """What a skeptic asks for, on the same rows and pairs as the model: raw-pixel cosine verification over the
    same probe × gallery pairs as :func:`cross_pairs`, raw-pixel nearest-neighbour identification of the concealed
    probes among the other probes (own capture excluded), majority-class posture (majority of ``posture_train``)."""
    from thzface.metrics.baselines import majority_accuracy, nearest_neighbour_accuracy, pixel_pair_scores

    n = len(idx)
    images = np.concatenate([c["anchor"][idx], c["positive"][idx]])  # (2n, 1, S, S) probes, then gallery
    i, j, same_posture = probe_gallery_pairs(c, idx)  # (M,) each
    ids, post, smp = c["identity"][idx], c["posture"][idx], c["sample"][idx]
    scores = pixel_pair_scores(images, np.stack([i, n + j], axis=1))  # (M,)
    labels = (ids[i] == ids[j]).astype(np.int64)  # (M,)
    out: dict = {}
    if 0 < labels.sum() < labels.size:
        out["pixel_verification"] = {
            "eer": V.eer(scores, labels)[0],
            "roc_auc": V.roc_auc(scores, labels),
            **{f"tar@far={f:g}": V.tar_at_far(scores, labels, f).tar for f in FARS},
            "by_posture": by_posture(scores, labels, same_posture),
        }
    captures = np.array([f"{a}|{b}|{k}" for a, b, k in zip(ids, post, smp, strict=True)])
    nn = nearest_neighbour_accuracy(c["anchor"][idx], ids, captures)
    chance = 1.0 / max(1, len(np.unique(ids)))
    out["pixel_nearest_neighbour"] = {"accuracy": nn.accuracy, "queries": nn.queries, "chance": chance}
    out["majority_posture_accuracy"] = majority_accuracy(post, posture_train)
    return out


def reconstruction(c: dict, idx: np.ndarray) -> dict:
    """SSIM/PSNR/L1 of both decoder routes and of copying the input, against the unconcealed scan and (simulated
    folders) against the clean target rendered at the concealed scan's pose; ``concealed_*`` inside the garment
    mask (:func:`thzface.metrics.reconstruction.reconstruction_scores`); with ``c["mean_face"]`` (P, 1, S, S) also
    the route ``mean_face`` (:mod:`thzface.recipes.mtl.mean_face`)."""
    clean = c.get("clean")
    routes = {"predicted": c["rec"][idx], "oracle": c["rec_oracle"][idx], "copy_input": c["anchor"][idx]}
    if c.get("mean_face") is not None:  # classical baseline: the training mean face at the predicted posture
        routes[R.MEAN_FACE] = R.mean_face_at(c["mean_face"], c["logits"][idx].argmax(1))  # (n, 1, S, S)
    mask = np.where(c["has_mask"][idx][:, None, None, None], c["mask"][idx], 0.0)  # (n, 1, S, S)
    region = c.get("region")  # (N, 1, S, S) head region of the concealed scan (simulated folders)
    return R.reconstruction_scores(
        routes, c["target"][idx], None if clean is None else clean[idx], mask=mask,
        region=None if region is None else region[idx],
    )  # fmt: skip


def posture(c: dict, idx: np.ndarray) -> dict:
    y, yp = c["posture"][idx], c["logits"][idx].argmax(1)
    return {
        "accuracy": C.accuracy(y, yp),
        "macro_f1": C.macro_f1(y, yp, num_classes=len(POSTURES)),
        "confusion": C.confusion_matrix(y, yp, num_classes=len(POSTURES)).tolist(),
    }


def separability(c: dict, idx: np.ndarray) -> dict:
    out = {}
    for by in ("identity", "posture"):
        labels = c[by][idx]
        ok = 1 < len(np.unique(labels)) < len(labels)
        out[f"silhouette_{by}"] = S.silhouette(c["emb_a"][idx], labels) if ok else float("nan")
    return out


def compute_metrics(
    c: dict,
    seen: set[str],
    seed: int = 0,
    posture_train: np.ndarray | None = None,
    val: set[str] | None = None,
    threshold: float | None = None,
) -> dict:
    """Every metric per protocol subset present (:func:`~thzface.data.identity_split.identity_protocols`: closed-set,
    identity-disjoint, validation-seen, all); ``threshold``: the deployed one."""
    out: dict = {"protocols": {}}
    for name, m in identity_protocols(c["identity"], seen, val or ()).items():
        idx = np.flatnonzero(m)
        if len(idx) < 2:
            continue
        out["protocols"][name] = {
            "rows": int(len(idx)),
            "identities": int(len(np.unique(c["identity"][idx]))),
            "verification": verification(c, idx, seed, threshold),
            "posture": posture(c, idx),
            "reconstruction": reconstruction(c, idx),
            "separability": separability(c, idx),
            "baselines": baselines(c, idx, posture_train),
            **tables(c, idx),
        }
    return out


def summary(metrics: dict) -> dict:
    """A flat headline view: EER/AUC per protocol, posture accuracy, reconstruction SSIM/PSNR."""
    s: dict = {}
    for name, p in metrics["protocols"].items():
        v = p["verification"]
        s[name] = {
            "eer": v.get("eer"),
            "roc_auc": v.get("roc_auc"),
            "tar@far=0.01": v.get("tar@far=0.01"),
            "deployed_accuracy": v.get("deployed", {}).get("accuracy"),
            "deployed_tar": v.get("deployed", {}).get("tar"),
            "deployed_far": v.get("deployed", {}).get("far"),
            "posture_acc": p["posture"]["accuracy"],
            **R.headline(p["reconstruction"], "predicted"),  # ssim, clean_ssim, head_ssim, ... beside copy-the-input
            "same_posture_eer": v.get("by_posture", {}).get("same", {}).get("eer"),
            "cross_posture_eer": v.get("by_posture", {}).get("cross", {}).get("eer"),
            "baseline_pixel_eer": p["baselines"].get("pixel_verification", {}).get("eer"),
            "baseline_majority_posture_acc": p["baselines"]["majority_posture_accuracy"],
            "silhouette_identity": p["separability"]["silhouette_identity"],
        }
    return s


def score(ev: EvalInput) -> Scored:
    """Score an embedder run (mtl, distill student) on ``ev.data``'s test CSV, THz only; the run is only read (its
    deployed threshold comes from training)."""
    cfg, root = ev.cfg, ev.data
    if not isinstance(ev.model, MultiTaskModel):
        raise RunError(f"{ev.run.where}: a {type(ev.model).__name__}, not a THz embedder (MultiTaskModel)")
    test_rows = ev.rows(visible=False)  # THz-only inference
    if ev.adapt == "site":  # each scanner's BatchNorm statistics, from other people's scans (site_adapt)
        c = collect_site_adapted(collect, ev.model, cfg, root, test_rows, cfg.train.seed)
    else:
        c = collect(ev.model, cfg, root, test_rows)
    train_rows = (
        read_triplets(root / cfg.data.train_csv, root, visible=False) if (root / cfg.data.train_csv).is_file() else []
    )
    posture_train = np.array([r.anchor_name.posture for r in train_rows]) if train_rows else None
    c["mean_face"] = training_mean_faces(root, train_rows, cfg.data.image_size)  # (P, 1, S, S) or None
    metrics = compute_metrics(c, ev.seen, cfg.train.seed, posture_train, ev.val, ev.run.threshold)
    metrics["summary"] = summary(metrics)
    return Scored(metrics, mtl_report(metrics, c, ev.protocols(c["identity"])), collected=c)
