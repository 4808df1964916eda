"""Self-contained HTML reports (figures embedded as base64 PNG) written next to metrics.json."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from thzface.config import atomic_write_text

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


def reconstruction_table(routes: dict[str, dict], first: str, scored: str) -> str:
    """The routes of :func:`thzface.metrics.reconstruction.reconstruction_scores` as a table, with a note of what
    was ``scored`` and against which targets (or that the data folder has no clean targets)."""
    clean = any("clean_ssim" in r for r in routes.values())
    against = (
        "the unconcealed scan (psnr, ssim, l1) and the clean target rendered at the concealed scan's pose (clean_*)"
        if clean
        else "the unconcealed scan only: no clean targets in this data folder (real scans have none)"
    )
    return table(routes, first) + (
        f"<p class=note>{html.escape(scored)}, scored against {against}; copy_input (input_as_is) is the input "
        "copied, the baseline on the same rows; a region prefix (concealed_/mask_: the garment, head_: the head) "
        "scores inside that region only.</p>"
    )
