"""The one evaluation path: load the run, build the protocols from the run's split, let the recipe collect and
score, write metrics.json and the report (detectron2's evaluator, arcface's pure verification module).

A recipe supplies one function, ``score(EvalInput) -> Scored``: it collects with :func:`thzface.engine.infer.collect`
and computes its metrics with pure functions, and returns them with its report sections. Everything around it is
here, once: loading the run (:class:`~thzface.engine.run.Run`), the identities that make a test row closed-set or
validation-seen, the ``run`` entry of metrics.json, writing metrics.json and report.html
(:func:`thzface.report.evaluation.write_evaluation`). Evaluation never writes into the run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from thzface.config import Config
from thzface.data.csv import TripletRow, read_triplets, training_identities
from thzface.data.identity_split import identity_protocols
from thzface.engine.run import Run
from thzface.models.spec import ModelSpec
from thzface.report.evaluation import Report, write_evaluation

ADAPT_MODES = ("none", "site")  # ``thzface eval --adapt``: as trained, or each scanner's BatchNorm statistics
SEED_CSVS = ("train_val.csv", "test.csv")  # the seed format's CSVs: a zero-shot source scores every one present


@dataclass
class EvalInput:
    """What the engine hands a recipe's ``score``: the loaded run and the identities of the protocols."""

    run: Run  # the run folder (threshold, split, metadata), read once
    cfg: Config  # the run's recorded config
    model: Any  # the deployable model, in eval mode (its class is the recipe's)
    data: Path  # the data folder scored (the CSVs of ``csvs`` in it)
    seen: set[str]  # training identities: a test row of one is closed-set
    val: set[str]  # validation identities: a test row of one is validation-seen
    embedder: str | Path | None = None  # a THz embedder run for identity metrics (inpaint, unmask3d), else the run's
    csvs: tuple[str, ...] = ()  # the CSVs whose rows are scored: the run's test CSV, or every CSV of a folder the
    # source never trained on (zero-shot: every person in it is unseen); empty means (cfg.data.test_csv,)
    adapt: str = "none"  # "site": BatchNorm statistics re-estimated per scanner, cross-fitted by people (embedders)

    @property
    def scored_csvs(self) -> tuple[str, ...]:
        return self.csvs or (self.cfg.data.test_csv,)

    def rows(self, visible: bool = False) -> list[TripletRow]:
        """The rows the recipe scores: those of :attr:`scored_csvs`, each concealed scan once (the first row that
        anchors it); ValueError naming the CSV when there are none."""
        rows: dict[str, TripletRow] = {}
        for name in self.scored_csvs:
            for r in read_triplets(self.data / name, self.data, visible=visible):
                rows.setdefault(r.anchor, r)
        if not rows:
            raise ValueError(f"{self.data / self.scored_csvs[-1]}: no test rows")
        return list(rows.values())

    def protocols(self, identities: np.ndarray) -> dict[str, np.ndarray]:
        """Row masks (N,) per protocol: closed-set, identity-disjoint, validation-seen, all."""
        return identity_protocols(identities, self.seen, self.val)


@dataclass
class Scored:
    """A recipe's evaluation result: its metrics (without ``run``), report and what it adds to ``metrics["run"]``."""

    metrics: dict  # protocols, summary, ... (pure functions of the collected outputs)
    report: Report  # the page's title, headline, sections and figures
    run_info: dict = field(default_factory=dict)  # recipe-specific entries of metrics["run"]
    collected: Any = None  # the collected arrays, for benchmarks that compare methods on the same rows


Score = Callable[[EvalInput], Scored]


def never_trained_on(run: Run, data: Path, csvs: tuple[str, ...]) -> bool:
    """True when ``run`` cannot have seen the people of ``data``'s ``csvs``: shipped weights or a bare weights file
    (no run folder), or a run whose recorded training and validation identities include none of them (a run of
    another world). A run folder without a recorded split (trained before it was recorded) is taken to have
    trained on ``data``, as before."""
    if run.folder is None:
        return True
    split = run.split
    if split is None:
        return False
    people = set().union(*(training_identities(data, c) for c in csvs))
    return not people & (set(split.train) | set(split.val))


def evaluate_run(
    spec: ModelSpec,
    score: Score,
    run: str | Path,
    data: Path,
    out: Path,
    embedder: str | Path | None = None,
    expect: type[nn.Module] | None = None,
    adapt: str = "none",
) -> tuple[dict, Scored]:
    """Evaluate ``run`` (a run of ``spec``'s recipe) on ``data``'s test CSV with ``score``; write
    ``out/metrics.json`` and ``out/report.html``; return the metrics and the recipe's :class:`Scored`.
    ``adapt="site"``: the scanner adaptation of embedder recipes (``EvalInput.adapt``)."""
    if adapt not in ADAPT_MODES:
        raise ValueError(f"adapt={adapt!r}: expected one of {ADAPT_MODES}")
    info = Run(run)
    cfg, model, extra = info.load(spec, expect=expect)
    data = Path(data)
    split = info.split
    named = (cfg.data.train_csv, SEED_CSVS[0], cfg.data.test_csv, SEED_CSVS[1])  # the run's CSVs, the seed format's
    every = tuple(dict.fromkeys(c for c in named if (data / c).is_file()))  # zero-shot: every person of the folder
    zero_shot = never_trained_on(info, data, every)
    csvs: tuple[str, ...] = (cfg.data.test_csv,)
    if zero_shot:  # pretrained:NAME, a weights file, or a run of other people: every person here is unseen
        seen, val = set(), set()
        csvs = every
    elif split is not None:
        seen, val = set(split.train), set(split.val)
    else:  # runs trained before identity splits were recorded: the training CSV's identities are closed-set
        seen, val = training_identities(data, cfg.data.train_csv), set()
    scored = score(EvalInput(info, cfg, model, data, seen, val, embedder, csvs, adapt))
    metrics = dict(scored.metrics)
    metrics["run"] = {
        "path": str(run),
        "recipe": cfg.recipe,
        "preset": cfg.preset,
        "trained": extra,
        "data": str(data),
        "trained_on": str(info.data),
        "test_csv": cfg.data.test_csv,
        "scored_csvs": list(csvs),
        "zero_shot": zero_shot,  # the source never trained on this folder: every person in it is unseen
        "adapt": adapt,  # "site": scored with BatchNorm statistics of each scanner, cross-fitted by people
        "threshold": info.threshold,  # deployed: fit on validation identities in training
        "threshold_source": info.threshold_source,
        "validation_identities": sorted(val),
        **scored.run_info,
    }
    curves = info.folder / "curves.png" if info.folder is not None else None
    write_evaluation(Path(out), metrics, scored.report, curves if curves is not None and curves.is_file() else None)
    return metrics, scored
