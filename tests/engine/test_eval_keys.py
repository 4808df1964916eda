"""Every recipe's ``eval`` keeps its metrics.json keys: a short run of each tiny preset on the tiny world,
evaluated, has every key recorded in ``eval_keys.json`` (written from the evaluations before the one evaluation
path existed, scripts/eval_snapshot.py); the same seed gives the same metrics; every report reads at a glance (no
table wider than the page, no undefined cell without its reason, the headline first)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

KEYS = json.loads((Path(__file__).parent / "eval_keys.json").read_text())
ARMS = {  # name -> (preset, overrides); {mtl}: the mtl run (twin's frozen global branch)
    "mtl": ("mtl-tiny", []),
    "distill": ("distill-tiny", []),
    "distill-teacher": ("distill-tiny", ["model.stage=teacher"]),
    "twin": ("twin-tiny", ["model.global_run={mtl}"]),
    "inpaint": ("inpaint-tiny", []),
    "unmask3d": ("unmask3d-tiny", []),
}
TIMING = ("_per_s", "ms_per_image", "seconds")


def flat(d: object, prefix: str = "") -> dict[str, object]:
    if isinstance(d, dict):
        out: dict[str, object] = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def train_arm(name: str, data: Path, runs: Path) -> Path:
    from thzface.recipes import load_config
    from thzface.recipes import train as fit

    preset, extra = ARMS[name]
    over = [o.replace("{mtl}", str(runs / "mtl")) for o in ["train.max_steps=3", "train.max_epochs=3", *extra]]
    fit(load_config(preset, over), data, runs / name, resume=False)
    return runs / name


@pytest.fixture(scope="module")
def reports(tiny_data: Path, tmp_path_factory) -> Path:
    """Every arm trained and evaluated: ``reports/<arm>/{metrics.json,report.html}``."""
    import torch

    from thzface.recipes import recipe_of

    root = tmp_path_factory.mktemp("eval-keys")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the same-seed rerun (module fixtures are set up before one_torch_thread)
    try:
        for name in ARMS:
            run = train_arm(name, tiny_data, root / "runs")
            recipe_of(run).evaluate(run, tiny_data, root / "reports" / name)
    finally:
        torch.set_num_threads(before)
    return root / "reports"


@pytest.fixture(scope="module")
def evaluations(reports: Path) -> dict[str, dict]:
    return {name: json.loads((reports / name / "metrics.json").read_text()) for name in ARMS}  # what eval wrote


@pytest.mark.parametrize("name", list(ARMS))
def test_eval_keeps_every_key(evaluations: dict[str, dict], name: str) -> None:
    keys = {re.sub(r"per_identity\.[^.]+\.", "per_identity.*.", k) for k in flat(evaluations[name])}  # any people
    missing = sorted(set(KEYS[name]) - keys)
    assert not missing, f"{name}: {len(missing)} keys lost, e.g. {missing[:5]}"


def test_same_seed_same_metrics(tiny_data: Path, tmp_path: Path, evaluations: dict[str, dict]) -> None:
    from thzface.recipes import recipe_of

    run = train_arm("mtl", tiny_data, tmp_path / "runs")
    recipe_of(run).evaluate(run, tiny_data, tmp_path / "report")
    again = flat(json.loads((tmp_path / "report" / "metrics.json").read_text()))
    first = flat(evaluations["mtl"])
    numbers = [k for k, v in first.items() if isinstance(v, float) and not any(t in k for t in TIMING)]
    assert len(numbers) > 100
    assert {k: again[k] for k in numbers} == {k: first[k] for k in numbers}


class Tables(HTMLParser):
    """The tables of a report page (cell texts per row), each with the text of the paragraph right after it, and
    the order of the h2 headings."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.after: list[str] = []
        self.h2: list[str] = []
        self.tag, self.cell, self.in_p = "", "", False

    def handle_starttag(self, tag: str, attrs) -> None:
        self.tag = tag
        if tag == "table":
            self.tables.append([])
            self.after.append("")
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = ""
        elif tag == "p":
            self.in_p = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self.cell)
        elif tag == "p":
            self.in_p = False

    def handle_data(self, data: str) -> None:
        if self.tag in ("td", "th"):
            self.cell += data
        if self.tag == "h2":
            self.h2.append(data)
        if self.in_p and self.tables and len(self.after[-1]) < 2000:
            self.after[-1] += data


@pytest.mark.parametrize("name", list(ARMS))
def test_report_reads_at_a_glance(reports: Path, name: str) -> None:
    from thzface.report.html import PAGE_PX, UNDEFINED, width_px

    page = Tables()
    page.feed((reports / name / "report.html").read_text())
    assert page.tables and page.h2[0] == "Headline", page.h2[:3]
    headline = page.tables[0]
    assert headline[0][:5] == ["task", "model", "baseline", "baseline is", "beats baseline"]
    assert all(len(row) == len(headline[0]) for row in headline)
    notes = list(page.after)
    for i in range(len(notes) - 2, -1, -1):  # a table split into column groups: its note follows the last group
        notes[i] = notes[i] or notes[i + 1]
    for grid, note in zip(page.tables, notes, strict=True):
        assert width_px(grid) <= PAGE_PX, f"{name}: a table of {len(grid[0])} columns runs off the page"
        header = grid[0]
        for row in grid[1:]:
            for j, cell in enumerate(row):
                assert cell.strip().lower() not in ("nan", "inf", "-inf", "none"), f"{name}: {cell!r} in {row[0]}"
                if cell == UNDEFINED:  # the reason is under the table, naming the column (or the transposed row)
                    assert f"{UNDEFINED}:" in note and (header[j] in note or row[0] in note), (name, row[0], note)
