"""report.html of a THz embedder run (``mtl``, ``distill`` student): headline table, ROC/DET, confusion, grids."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from thzface.config import atomic_write_bytes
from thzface.data.naming import POSTURES
from thzface.metrics import verification as V
from thzface.report import figures as F
from thzface.report.html import img_tag, reconstruction_table, table, write_page


def cross_pairs(c: dict, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores/labels of probe (concealed) × gallery (unconcealed) pairs inside subset ``idx``."""
    ea, ep = c["emb_a"][idx], c["emb_p"][idx]  # (n, D) each, L2-normalised
    s = ea @ ep.T  # (n, n)
    ids, post, smp = c["identity"][idx], c["posture"][idx], c["sample"][idx]
    same = (ids[:, None] == ids[None, :]) & (post[:, None] == post[None, :]) & (smp[:, None] == smp[None, :])
    keep = ~same
    return s[keep], (ids[:, None] == ids[None, :])[keep].astype(np.int64)


def write_mtl_report(
    out: Path, metrics: dict, c: dict, subsets: dict[str, np.ndarray], run: Path | None = None, max_grid: int = 8
) -> Path:
    """report.html for an embedder run: headline table, ROC/DET, confusion, grids, tables, curves; ``subsets``:
    row mask per protocol."""
    info = metrics.get("run", {})
    thr = info.get("threshold")
    sec = [
        f"<p class=note>run <code>{html.escape(str(info.get('path')))}</code> · recipe {info.get('recipe')} · "
        f"data <code>{html.escape(str(info.get('data')))}</code> · produced by "
        f"<code>thzface eval RUN --data DIR --out REPORT</code></p>",
        "<p class=note>deployed threshold "
        + (f"{thr:.4f} ({html.escape(str(info.get('threshold_source')))})" if thr is not None else "none")
        + "; <em>deployed_*</em> columns are at that threshold, EER is the oracle fit on the scored pairs. "
        "Baselines on the same rows and pairs: raw-pixel cosine (verification), copy-the-input "
        "(reconstruction), majority class (posture).</p>",
    ]
    sec.append("<h2>Summary</h2>" + table(metrics["summary"], "protocol"))
    curves = {}
    for name in metrics["protocols"]:
        if name == "all":
            continue
        s, y = cross_pairs(c, np.flatnonzero(subsets[name]))
        if 0 < y.sum() < len(y):
            fpr, tpr, _ = V.roc_curve(s, y)
            curves[name] = (fpr, tpr)
    if curves:
        sec.append("<h2>Verification: ROC and DET</h2>" + img_tag(F.roc_det(curves), "ROC and DET"))
    for name, p in metrics["protocols"].items():
        v = {k: val for k, val in p["verification"].items() if k != "deployed"}
        v.update({f"deployed_{k}": val for k, val in p["verification"].get("deployed", {}).items()})
        sec.append(f"<h2>{html.escape(name)} ({p['rows']} rows, {p['identities']} identities)</h2>")
        sec.append("<h3>Verification</h3>" + table({name: v}, "protocol"))
        scored = f"decoder outputs of the {p['rows']} concealed scans"
        sec.append("<h3>Reconstruction</h3>" + reconstruction_table(p["reconstruction"], "routing", scored))
        sec.append(
            "<h3>Posture</h3>"
            + img_tag(F.confusion(np.array(p["posture"]["confusion"]), list(POSTURES)), "confusion")
            + table(
                {
                    name: {
                        "accuracy": p["posture"]["accuracy"],
                        "macro_f1": p["posture"]["macro_f1"],
                        **p["separability"],
                    }
                },
                "protocol",
            )
        )
        sec.append("<h3>Per posture</h3>" + table(p["per_posture"], "posture"))
        sec.append("<details><summary>Per identity</summary>" + table(p["per_identity"], "identity") + "</details>")
    n = min(max_grid, len(c["names"]))
    pick = np.linspace(0, len(c["names"]) - 1, n).round().astype(int)
    grid = F.image_grid(
        {
            "concealed": c["anchor"][pick],
            "reconstructed": c["rec"][pick],
            "oracle-routed": c["rec_oracle"][pick],
            "target": c["target"][pick],
        },
        [c["names"][i] for i in pick],
    )
    atomic_write_bytes(out / "reconstructions.png", grid)
    sec.append("<h2>Reconstructions</h2>" + img_tag(grid, "reconstruction grid"))
    if run is not None and (run / "curves.png").is_file():
        sec.append("<h2>Training curves</h2>" + img_tag((run / "curves.png").read_bytes(), "curves"))
    return write_page(out, "thzface evaluation report", sec)
