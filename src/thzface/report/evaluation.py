"""The one writer of an evaluation's files: ``metrics.json`` (strict JSON), the figures and ``report.html``.

A recipe describes its page as a :class:`Report` (title, headline rows, sections, figures); the engine's evaluation
path (:func:`thzface.engine.evaluate.evaluate_run`) hands it here with the metrics. The page opens with the
headline: each task's number beside its baseline and the people it was measured on, so the first screen says
whether the model beat its baselines.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from thzface.config import atomic_write_bytes, atomic_write_text
from thzface.report import dumps
from thzface.report.html import defined, img_tag, table, write_page

METRICS = "metrics.json"


@dataclass
class Report:
    """A report page: title, headline rows (task → {number, baseline, measured on, ...}), sections, figures."""

    title: str
    sections: list[str]  # HTML pieces, in order
    headline: dict[str, dict] = field(default_factory=dict)  # first screen: one row per task
    figures: dict[str, bytes] = field(default_factory=dict)  # PNG files written next to report.html


def headline_row(value, baseline, baseline_is: str, measured_on: str, higher_is_better: bool = True) -> dict:
    """One first-screen row: the model's number beside its baseline's, whether it beat it (``higher_is_better``:
    the direction, which the task's name says), and on whom."""
    if defined(value) and defined(baseline):
        beats = "yes" if (value > baseline if higher_is_better else value < baseline) else "no"
    else:
        beats = "n/a"  # explained under the table with the undefined number
    return {"model": value, "baseline": baseline, "baseline is": baseline_is, "beats baseline": beats,
            "measured on": measured_on}  # fmt: skip


def run_line(info: dict) -> str:
    """One line naming the run, its recipe, the data scored and the deployed threshold."""
    thr = info.get("threshold")
    threshold = f"{thr:.4f} ({html.escape(str(info.get('threshold_source')))})" if thr is not None else "none"
    return (
        f"<p class=note>run <code>{html.escape(str(info.get('path')))}</code> · recipe {info.get('recipe')} · "
        f"data <code>{html.escape(str(info.get('data')))}</code> · deployed threshold {threshold} · produced by "
        "<code>thzface eval RUN --data DIR --out REPORT</code></p>"
    )


def write_metrics(out: Path, metrics: dict) -> Path:
    """``out/metrics.json``: strict JSON (NaN/inf written as null), written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / METRICS, dumps(metrics))
    return out / METRICS


def write_evaluation(out: Path, metrics: dict, report: Report, curves: Path | None = None) -> Path:
    """Write ``out/metrics.json``, the report's figures and ``out/report.html`` (training curves appended when
    ``curves`` names the run's curves.png)."""
    write_metrics(out, metrics)
    for name, png in report.figures.items():
        atomic_write_bytes(out / name, png)
    first = [run_line(metrics.get("run", {}))]
    if report.headline:
        first.append("<h2>Headline</h2>" + table(report.headline, "task"))
    sections = first + report.sections
    if curves is not None:
        sections.append("<h2>Training curves</h2>" + img_tag(curves.read_bytes(), "curves"))
    return write_page(out, report.title, sections)
