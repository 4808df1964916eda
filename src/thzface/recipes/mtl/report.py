"""report.html of a THz embedder run (``mtl``, ``distill`` student): headline table, ROC/DET, confusion, grids."""

from __future__ import annotations

import html

import numpy as np

from thzface.data.naming import POSTURES
from thzface.metrics import reconstruction as R
from thzface.metrics import verification as V
from thzface.report import figures as F
from thzface.report.evaluation import Report, headline_row
from thzface.report.html import img_tag, reconstruction_table, table


def probe_gallery_pairs(c: dict, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scored pairs inside subset ``idx``: every concealed probe ``i`` × unconcealed gallery image ``j``
    (positions in ``idx``) except the probe's own counterpart (same identity, posture and sample) and, where ``c``
    has a ``site`` per row (a multi-site simulated world), impostor pairs across sites (a deployment compares scans
    of one scanner; across scanners the scanner alone tells people apart); returns ``(i, j, same_posture)``, each
    (M,), in row-major order."""
    ids, post, smp = c["identity"][idx], c["posture"][idx], c["sample"][idx]
    same_post = post[:, None] == post[None, :]  # (n, n)
    keep = ~((ids[:, None] == ids[None, :]) & same_post & (smp[:, None] == smp[None, :]))  # (n, n)
    site = None if c.get("site") is None else c["site"][idx]
    keep &= V.scored_pairs(ids, ids, site, site)  # (n, n) impostors within a site (multi-site worlds)
    i, j = np.nonzero(keep)  # (M,) each
    return i, j, same_post[keep]


def cross_pairs(c: dict, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, labels and same-posture flags of the probe (concealed) × gallery (unconcealed) pairs of
    :func:`probe_gallery_pairs`; each (M,)."""
    i, j, same_posture = probe_gallery_pairs(c, idx)
    ea, ep = c["emb_a"][idx], c["emb_p"][idx]  # (n, D) each, L2-normalised
    ids = c["identity"][idx]
    return np.einsum("md,md->m", ea[i], ep[j]), (ids[i] == ids[j]).astype(np.int64), same_posture  # (M,) each


def tables(c: dict, idx: np.ndarray) -> dict:
    """Per-identity and per-posture tables: posture accuracy, SSIM, mean genuine/impostor score."""
    ssim = R.ssim(c["rec"][idx], c["target"][idx])
    correct = (c["logits"][idx].argmax(1) == c["posture"][idx]).astype(float)
    ea, ep = c["emb_a"][idx], c["emb_p"][idx]
    ids = c["identity"][idx]
    s = ea @ ep.T
    gen = np.array(
        [
            s[i][(ids == ids[i]) & (np.arange(len(ids)) != i)].mean() if (ids == ids[i]).sum() > 1 else np.nan
            for i in range(len(ids))
        ]
    )
    imp = np.array([s[i][ids != ids[i]].mean() if (ids != ids[i]).any() else np.nan for i in range(len(ids))])
    out: dict = {}
    for by, keys in (("identity", ids), ("posture", np.array([POSTURES[p] for p in c["posture"][idx]]))):
        rows = {}
        for k in sorted(set(keys.tolist())):
            m = keys == k
            rows[str(k)] = {
                "n": int(m.sum()),
                "posture_acc": float(correct[m].mean()),
                "ssim": float(ssim[m].mean()),
                "genuine_score": float(np.nanmean(gen[m])),
                "impostor_score": float(np.nanmean(imp[m])),
            }
        out[f"per_{by}"] = rows
    return out


def mtl_report(metrics: dict, c: dict, subsets: dict[str, np.ndarray], max_grid: int = 8) -> Report:
    """The report of an embedder run: summary, ROC/DET, confusion, grids, tables; ``subsets``: row mask per
    protocol."""
    sec = [
        "<p class=note><em>deployed_*</em> columns are at the run's deployed threshold, EER is the oracle fit on the "
        "scored pairs. Baselines on the same rows and pairs: raw-pixel cosine (verification), copy-the-input "
        "(reconstruction), majority class (posture).</p>",
    ]
    sec.append("<h2>Summary</h2>" + table(metrics["summary"], "protocol"))
    report_headline = headline(metrics)
    curves = {}
    for name in metrics["protocols"]:
        if name == "all":
            continue
        s, y, _ = cross_pairs(c, np.flatnonzero(subsets[name]))
        if 0 < y.sum() < len(y):
            fpr, tpr, _ = V.roc_curve(s, y)
            curves[name] = (fpr, tpr)
    if curves:
        sec.append("<h2>Verification: ROC and DET</h2>" + img_tag(F.roc_det(curves), "ROC and DET"))
    for name, p in metrics["protocols"].items():
        apart = ("deployed", "by_posture", "by_scans", "by_site")  # tables of their own below
        v = {k: val for k, val in p["verification"].items() if k not in apart}
        v = {k: (f"{val[0]:.3f}–{val[1]:.3f}" if isinstance(val, list) else val) for k, val in v.items()}  # CIs
        v.update({f"deployed_{k}": val for k, val in p["verification"].get("deployed", {}).items()})
        sec.append(f"<h2>{html.escape(name)} ({p['rows']} rows, {p['identities']} identities)</h2>")
        sec.append("<h3>Verification</h3>" + table({name: v}, "protocol"))
        pixel = p["baselines"].get("pixel_verification", {}).get("by_posture", {})
        rows = {f"{g}-posture pairs": d for g, d in p["verification"].get("by_posture", {}).items()}
        rows.update({f"{g}-posture pairs, raw pixels": d for g, d in pixel.items()})
        if rows:
            sec.append("<h4>Same vs cross posture (oracle EER of each group)</h4>" + table(rows, "group"))
        scans = {f"{k} a side": d for k, d in p["verification"].get("by_scans", {}).items()}
        if scans:
            sec.append("<h4>Several scans a side (each person's captures halved into probe and gallery scans; K of a "
                       "half fused into one embedding)</h4>" + table(scans, "scans"))  # fmt: skip
        sites = p["verification"].get("by_site", {})
        if sites:
            sec.append("<h4>Per scanner (site; impostors within a site)</h4>" + table(sites, "site"))
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
    grid = F.image_grid(grid_columns(c, pick), [c["names"][i] for i in pick])
    note = (
        "Clean target: the noise-free unconcealed face at the concealed scan's pose, what the decoder is asked for."
        if c.get("clean") is not None
        else "No clean target in this folder (real captures have none): the unconcealed capture, another pose, "
        "is the only reference."
    )
    sec.append(f"<h2>Reconstructions</h2><p>{note}</p>" + img_tag(grid, "reconstruction grid"))
    return Report("thzface evaluation report", sec, report_headline, figures={"reconstructions.png": grid})


def grid_columns(c: dict, pick: np.ndarray) -> dict[str, np.ndarray]:
    """The reconstruction grid's columns (N, C, H, W) each: the concealed scan, the decoder's outputs, the
    unconcealed capture (another pose) and, where the folder has one, the clean target at the concealed pose."""
    cols = {
        "concealed": c["anchor"][pick],
        "reconstructed": c["rec"][pick],
        "oracle-routed": c["rec_oracle"][pick],
        "unconcealed (other pose)": c["target"][pick],
    }
    if c.get("clean") is not None:
        cols["clean target"] = c["clean"][pick]
    return cols


def headline(metrics: dict) -> dict[str, dict]:
    """First-screen rows: verification EER, posture accuracy and reconstruction SSIM of the identity-disjoint
    protocol (else all test rows) beside their baselines on the same rows."""
    name = "identity-disjoint" if "identity-disjoint" in metrics["protocols"] else "all"
    p = metrics["protocols"][name]
    v, b = p["verification"], p["baselines"]
    who = f"{p['identities']} {'unseen people' if name == 'identity-disjoint' else 'people'}, {p['rows']} scans"
    rec = p["reconstruction"]
    rows = {
        "verification EER (lower: better)": headline_row(v.get("eer"), b.get("pixel_verification", {}).get("eer"),
                                         "raw pixels", f"{who}, {v.get('pairs', 0)} pairs", False),
        "posture accuracy": headline_row(p["posture"]["accuracy"], b.get("majority_posture_accuracy"),
                                         "majority class", who),
        "reconstruction SSIM": headline_row(rec["predicted"].get("ssim"), rec["copy_input"].get("ssim"),
                                            "copy the input", who),
    }  # fmt: skip
    key = "clean_head_ssim" if "clean_head_ssim" in rec["predicted"] else "clean_ssim"  # simulated folders only
    for route, what in (("copy_input", "copy the input"), ("mean_face", "mean face at the predicted posture")):
        if key in rec["predicted"] and key in rec.get(route, {}):
            label = f"{'head ' if key == 'clean_head_ssim' else ''}SSIM vs clean target, vs {what}"
            rows[label] = headline_row(rec["predicted"][key], rec[route][key], what, who)
    return rows
