"""The one recipe contract: what a recipe gives the engine and the CLI (``thzface.recipes.RECIPES`` maps names to it).

A recipe package ``recipes/<name>/`` builds one :class:`Recipe` in its ``recipe.py``. The fields point straight at the
functions that do the work (no shims): :class:`ModelSpec` rebuilds the deployable model of a run from its weights
file; ``build_task`` and ``data`` are what :func:`thzface.engine.train.fit` trains; ``evaluate``, ``predict`` and
``verify`` are the ``thzface eval | predict | verify`` verbs; ``score`` is the recipe's part of the one evaluation
path (:mod:`thzface.engine.evaluate`), which :meth:`Recipe.evaluate` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import lightning as L

from thzface.config import Config
from thzface.engine.evaluate import Score, evaluate_run
from thzface.engine.task import Task
from thzface.models.spec import ModelSpec

FLAGS = {"edits": "--edit", "batch_size": "--batch-size"}  # option field → its ``thzface predict`` flag


@dataclass(frozen=True)
class PredictOptions:
    """``thzface predict`` options every recipe reads; a recipe that reads more subclasses it
    (``Recipe.predict_options``: the embedder's task, inpaint's mask, unmask3d's mask, samples, edits and seed)."""

    backend: str = "torch"  # torch | onnx (THz embedder runs exported with ``thzface export onnx``)
    batch_size: int = 64  # images per forward pass
    BACKENDS: ClassVar[tuple[str, ...]] = ("torch",)  # the backends these runs predict with (the one check)

    def __post_init__(self) -> None:
        if self.backend not in self.BACKENDS:
            raise ValueError(f"--backend {self.backend}: these runs predict with {' or '.join(self.BACKENDS)} only")

    @classmethod
    def given(cls, recipe: str, values: dict[str, Any]) -> PredictOptions:
        """These options from the ones the user set (``values``); an option the recipe does not read is a
        one-line error naming the ones it does."""
        known = [f.name for f in fields(cls)]
        unread = [k for k in values if k not in known]
        if unread:
            flag = lambda k: FLAGS.get(k, f"--{k}")  # noqa: E731
            raise ValueError(
                f"predict: {', '.join(map(flag, unread))} not read by a {recipe!r} run "
                f"(its options: {', '.join(map(flag, known))})"
            )
        return cls(**values)


def no_verification(name: str) -> Callable[..., dict]:
    """``verify`` of a recipe whose model does not compare two faces: a one-line user error."""

    def verify(run: Path, a: Path, b: Path, threshold: float | None = None) -> dict:
        raise ValueError(f"{run}: recipe {name!r} is not a verification model (mtl, distill or twin)")

    return verify


@dataclass(frozen=True)
class Recipe:
    """One trainable system, as the engine and the CLI see it."""

    model: ModelSpec  # config sections + deployable model builder
    build_task: Callable[[Config], Task]  # model + objective (the LightningModule the engine fits)
    data: Callable[[Config, Path], L.LightningDataModule]  # train/validation loaders from one dataset folder
    score: Score  # EvalInput → Scored: collect, pure metrics, report sections (the engine loads, writes, reports)
    predict: Callable[..., dict]  # (run, inputs, out dir, predict_options) → summary
    verify: Callable[..., dict]  # (run, a, b, threshold=None) → {"score", "threshold", "same_person", ...}
    predict_options: type[PredictOptions] = PredictOptions  # what its predict reads (a subclass where it reads more)
    embedder: bool = False  # its runs embed one THz scan: loaded by thzface.embedder (verify/predict --backend onnx)

    @property
    def name(self) -> str:
        return self.model.name

    def evaluate(
        self, run: str | Path, data: Path, out: Path, embedder: str | Path | None = None, adapt: str = "none"
    ) -> dict:
        """``thzface eval``: score ``run`` on ``data``'s test CSV; writes ``out/metrics.json`` + ``out/report.html``
        (:func:`thzface.engine.evaluate.evaluate_run`); ``embedder``: a THz embedder run for identity metrics;
        ``adapt="site"``: scanner adaptation (embedder recipes only: ValueError otherwise)."""
        if adapt != "none" and not self.embedder:
            raise ValueError(f"--adapt {adapt}: recipe {self.name!r} does not embed THz scans (mtl, distill do)")
        return evaluate_run(self.model, self.score, run, data, out, embedder, adapt=adapt)[0]

    def evaluate_collected(
        self, run: str | Path, data: Path, out: Path, embedder: str | Path | None = None
    ) -> tuple[dict, Any]:
        """:meth:`evaluate` that also returns the collected arrays (benchmarks compare methods on the same rows)."""
        metrics, scored = evaluate_run(self.model, self.score, run, data, out, embedder)
        return metrics, scored.collected
