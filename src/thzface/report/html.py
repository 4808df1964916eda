"""Self-contained HTML reports (figures embedded as base64 PNG) written next to metrics.json."""

from __future__ import annotations

import base64
import html
import math
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


PAGE_PX = 1100  # the body's max-width: no table may be wider (a 1300 px window shows all of it)
CHAR_PX, CELL_PAD_PX = 7.5, 18  # width of a character at the table's font size, and a cell's padding + border
UNDEFINED = "n/a"  # a NaN / inf / missing number, always with the reason under its table
WHY: dict[str, str] = {  # column-name fragment → why a value can be undefined there
    "threshold": "no threshold separates the pairs (the best one accepts none: +inf)",
    "silhouette": "needs two or more groups, each with two or more rows",
    "eer": "needs both genuine and impostor pairs",
    "roc_auc": "needs both genuine and impostor pairs",
    "tar": "needs both genuine and impostor pairs",
    "far": "needs both genuine and impostor pairs",
    "frechet": "needs more images than feature dimensions",
    "ssim": "no pixel of that region in these rows",
    "psnr": "no pixel of that region in these rows (or an exact copy: infinite)",
    "identity": "no identity embedder given (loss.identity_run or an embedder run)",
    "baseline": "no baseline is scored in this evaluation",
    "beats": "the model's or the baseline's number is n/a",
    "model": "not measured on these rows",
}


def defined(v) -> bool:
    """False for None and non-finite floats (cells shown as n/a with a reason)."""
    return v is not None and v != UNDEFINED and not (isinstance(v, float) and not math.isfinite(v))


def fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return UNDEFINED
    if isinstance(v, float):
        return f"{v:.4f}"
    return html.escape(str(v))


def why(column: str) -> str:
    """The reason a value of ``column`` can be undefined (a generic one when no known fragment matches)."""
    return next((r for k, r in WHY.items() if k in column.lower()), "not measured on these rows")


def width_px(grid: list[list[str]]) -> float:
    """Estimated rendered width of a table of cell texts (first row: the header)."""
    cols = max(len(r) for r in grid)
    widest = [max(len(r[j]) for r in grid if j < len(r)) for j in range(cols)]
    return sum(CHAR_PX * w + CELL_PAD_PX for w in widest)


def _grid(rows: dict[str, dict], first: str, cols: list[str]) -> list[list[str]]:
    return [[first, *cols]] + [[k, *(fmt(r.get(c)) for c in cols)] for k, r in rows.items()]


def _html(grid: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in grid[0])
    body = "".join(
        "<tr>" + f"<td>{html.escape(r[0])}</td>" + "".join(f"<td>{c}</td>" for c in r[1:]) + "</tr>" for r in grid[1:]
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def table(rows: dict[str, dict], first: str) -> str:
    """A dict of dicts as HTML that fits the page: one row per key; transposed (one column per key) when that is
    narrower and the rows do not fit; split into column groups when neither fits. Undefined numbers show as n/a
    with the reason under the table."""
    if not rows:
        return "<p class=note>(empty)</p>"
    cols = list(dict.fromkeys(c for r in rows.values() for c in r))
    grid = _grid(rows, first, cols)
    if width_px(grid) > PAGE_PX:
        flipped = _grid({c: {k: r.get(c) for k, r in rows.items()} for c in cols}, "metric", list(rows))
        if width_px(flipped) < width_px(grid):
            grid = flipped
    parts, j = [], 1
    while j < len(grid[0]):  # column groups that fit, each repeating the first column
        k = j + 1
        while k < len(grid[0]) and width_px([[r[0], *r[j : k + 1]] for r in grid]) <= PAGE_PX:
            k += 1
        parts.append(_html([[r[0], *r[j:k]] for r in grid]))
        j = k
    missing = sorted({c for r in rows.values() for c in cols if not defined(r.get(c))})
    if missing:
        reasons: dict[str, list[str]] = {}
        for c in missing:
            reasons.setdefault(why(c), []).append(c)
        parts.append(
            f"<p class=note>{UNDEFINED}: "
            + "; ".join(f"{html.escape(', '.join(cs))}: {html.escape(r)}" for r, cs in reasons.items())
            + "</p>"
        )
    return "".join(parts)


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
