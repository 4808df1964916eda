"""Score a ``distill`` teacher run (THz + visible) on the test rows that have visible images.

The teacher is training-time only, but its quality bounds what distillation can pass on, so its verification,
posture and separability are reported with the same protocols and functions as the student's
(:mod:`thzface.recipes.mtl.evaluate`). Rows without all three visible images are skipped and counted.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from thzface.data.datasets import TripletDataset, identity_list
from thzface.engine.evaluate import EvalInput, Scored
from thzface.models.teacher import TeacherModel
from thzface.recipes.distill.data import teacher_rows, teacher_visible
from thzface.recipes.mtl.evaluate import posture, separability, verification
from thzface.report.evaluation import Report, headline_row
from thzface.report.html import table


@torch.no_grad()
def collect_teacher(teacher: TeacherModel, ds: TripletDataset, batch_size: int = 64) -> dict:
    """Teacher embeddings of anchors/positives/negatives (each with its visible image) and anchor logits."""
    teacher.eval()
    out: dict[str, list] = {"emb_a": [], "emb_p": [], "emb_n": [], "logits": []}
    for b in DataLoader(ds, batch_size=batch_size, shuffle=False):
        ta = teacher(b["vis_concealed"], thz=b["anchor"])
        out["emb_a"].append(ta.embedding)
        out["logits"].append(ta.posture_logits)
        out["emb_p"].append(teacher(b["vis_unconcealed"], thz=b["positive"]).embedding)
        out["emb_n"].append(teacher(b["vis_negative"], thz=b["negative"]).embedding)
    c = {k: torch.cat(v).float().numpy() for k, v in out.items()}
    c["identity"] = np.array([r.anchor_name.identity for r in ds.rows])
    c["posture"] = np.array([r.anchor_name.posture for r in ds.rows])
    c["sample"] = np.array([r.anchor_name.sample for r in ds.rows])
    return c


def score_teacher(ev: EvalInput) -> Scored:
    """Score a stage=teacher run on the test rows of ``ev.data`` that have their visible images, with the run's
    protocols (closed-set, identity-disjoint, validation-seen, all) like a student's; each member with the visible
    image ``data.teacher_visible`` names (recipes/distill/data.py), as in training."""
    cfg, root = ev.cfg, ev.data
    seen_as = teacher_visible(cfg)
    rows = teacher_rows(ev.rows(visible=True), root, seen_as)  # what the teacher trained on
    usable = [r for r in rows if all(v is not None for v in r.visible)]
    if not usable:
        csv = root / ev.scored_csvs[-1]
        raise ValueError(f"{csv}: no test row has its three visible images; a teacher needs THz + visible")
    ds = TripletDataset(root, usable, cfg.data.image_size, identity_list(usable), use_visible=True)
    c = collect_teacher(ev.model, ds)
    protocols: dict = {}
    for name, m in ev.protocols(c["identity"]).items():
        idx = np.flatnonzero(m)
        if len(idx) >= 2:
            protocols[name] = {
                "rows": int(len(idx)),
                "identities": int(len(np.unique(c["identity"][idx]))),
                "verification": verification(c, idx, seed=cfg.train.seed),
                "posture": posture(c, idx),
                "separability": separability(c, idx),
            }
    summary = {
        name: {
            "eer": p["verification"].get("eer"),
            "roc_auc": p["verification"].get("roc_auc"),
            "tar@far=0.01": p["verification"].get("tar@far=0.01"),
            "posture_acc": p["posture"]["accuracy"],
            "silhouette_identity": p["separability"]["silhouette_identity"],
        }
        for name, p in protocols.items()
    }
    note = (
        f"<p class=note>Teacher (THz + visible, data.teacher_visible={seen_as}): {len(usable)} "
        "test rows with visible images, "
        f"{len(rows) - len(usable)} skipped. A teacher is not deployable; students run on THz alone.</p>"
    )
    name = "identity-disjoint" if "identity-disjoint" in protocols else "all"
    p = protocols.get(name, {"identities": 0, "rows": 0, "verification": {}})
    who = f"{p['identities']} {'unseen people' if name == 'identity-disjoint' else 'people'}, {p['rows']} scans"
    head = {"teacher EER (lower: better)": headline_row(p["verification"].get("eer"), None, "no baseline", who, False)}
    report = Report("thzface distill teacher report", [note, "<h2>Summary</h2>" + table(summary, "protocol")], head)
    run_info = {
        "stage": "teacher",
        "teacher_visible": seen_as,
        "rows_used": len(usable),
        "rows_skipped_no_visible": len(rows) - len(usable),
    }
    return Scored({"protocols": protocols, "summary": summary}, report, run_info, collected=c)
