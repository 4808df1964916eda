"""Recipe ``distill`` (seeds 000/001): a THz + visible teacher guides the THz-only ``mtl`` student.

Config and the deployable model in ``config.py`` (stages joint | teacher | student); tasks in ``task.py``. A
student run evaluates, predicts and verifies exactly like an ``mtl`` run, on THz images alone (a folder without
``visible/`` is fine); a ``stage: teacher`` run is evaluated on THz + visible rows by ``evaluate.py``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from thzface.engine.checkpoint import RunError, read_metadata, weights_path
from thzface.engine.datamodule import TripletDataModule
from thzface.engine.recipe import Recipe
from thzface.recipes.distill.config import MODEL
from thzface.recipes.distill.evaluate import evaluate_teacher
from thzface.recipes.distill.task import build_task
from thzface.recipes.mtl import evaluate as mtl_evaluate
from thzface.recipes.mtl import predict as mtl_predict


def run_stage(run: Path) -> str:
    """``model.stage`` of a distill run, read from its weights' metadata."""
    meta = read_metadata(weights_path(run))
    if meta["recipe"] != "distill":
        raise RunError(f"{run}: weights of recipe {meta['recipe']!r}, expected 'distill'")
    return str(meta["config"].get("model", {}).get("stage", "joint"))


def evaluate(run: Path, root: Path, out: Path) -> dict:
    """Students: the ``mtl`` evaluation on THz alone. Teachers: verification/posture on THz + visible rows."""
    if run_stage(run) == "teacher":
        return evaluate_teacher(run, root, out)
    return mtl_evaluate.evaluate(run, root, out, models=(MODEL,))


RECIPE = Recipe(
    model=MODEL,
    build_task=build_task,
    data=TripletDataModule,
    evaluate=evaluate,
    predict=partial(mtl_predict.predict, models=(MODEL,)),  # a teacher run is refused (it needs visible images)
    verify=partial(mtl_predict.verify, models=(MODEL,)),
)
