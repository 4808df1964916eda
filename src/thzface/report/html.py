"""Self-contained HTML reports (figures embedded as base64 PNG) written next to metrics.json."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from thzface.config import atomic_write_bytes, atomic_write_text
from thzface.data.naming import POSTURES
from thzface.metrics import verification as V
from thzface.report import figures as F

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
padding:0 1rem}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;
text-align:right}th{background:#f4f6f8}td:first-child,th:first-child{text-align:left}img{max-width:100%}
.note{color:#555;font-size:.85rem}code{background:#f4f6f8;padding:0 .2rem}
"""


def img_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.4f}"
    return html.escape(str(v))


def table(rows: dict[str, dict], first: str) -> str:
    """A dict of dicts as an HTML table (one row per key)."""
    if not rows:
        return "<p class=note>(empty)</p>"
    cols = list(next(iter(rows.values())).keys())
    head = "".join(f"<th>{html.escape(c)}</th>" for c in [first, *cols])
    body = "".join(
        "<tr>" + f"<td>{html.escape(k)}</td>" + "".join(f"<td>{fmt(r.get(c))}</td>" for c in cols) + "</tr>"
        for k, r in rows.items()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, sections: list[str]) -> str:
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>"
    )


def write_page(out: Path, title: str, sections: list[str]) -> Path:
    atomic_write_text(out / "report.html", page(title, sections))
    return out / "report.html"


def write_mtl_report(
    out: Path, metrics: dict, c: dict, seen: set[str], run: Path | None = None, max_grid: int = 8
) -> Path:
    """report.html for an embedder run: headline table, ROC/DET, confusion, grids, tables, curves."""
    from thzface.recipes.mtl.evaluate import cross_pairs

    info = metrics.get("run", {})
    sec = [
        f"<p class=note>run <code>{html.escape(str(info.get('path')))}</code> · recipe {info.get('recipe')} · "
        f"data <code>{html.escape(str(info.get('data')))}</code> · produced by "
        f"<code>thzface eval RUN --data DIR --out REPORT</code></p>"
    ]
    sec.append("<h2>Summary</h2>" + table(metrics["summary"], "protocol"))
    curves = {}
    for name in metrics["protocols"]:
        if name == "all":
            continue
        idx = np.flatnonzero(np.array([(i in seen) == (name == "closed-set") for i in c["identity"]]))
        s, y = cross_pairs(c, idx)
        if 0 < y.sum() < len(y):
            fpr, tpr, _ = V.roc_curve(s, y)
            curves[name] = (fpr, tpr)
    if curves:
        sec.append("<h2>Verification: ROC and DET</h2>" + img_tag(F.roc_det(curves), "ROC and DET"))
    for name, p in metrics["protocols"].items():
        v = {k: val for k, val in p["verification"].items()}
        sec.append(f"<h2>{html.escape(name)} ({p['rows']} rows, {p['identities']} identities)</h2>")
        sec.append("<h3>Verification</h3>" + table({name: v}, "protocol"))
        sec.append("<h3>Reconstruction</h3>" + table(p["reconstruction"], "routing"))
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
