"""Recipe ``distill`` (seeds 000/001): a THz + visible teacher guides the THz-only ``mtl`` student.

Config and the deployable model in ``models/distill_spec.py`` (stages joint | teacher | student); tasks in
``task.py``. A student run evaluates, predicts and verifies exactly like an ``mtl`` run, on THz images alone (a
folder without ``visible/`` is fine); a ``stage: teacher`` run is evaluated on THz + visible rows by ``evaluate.py``.
"""

from __future__ import annotations

from thzface.embedder import EmbedderOptions, predict, verify
from thzface.engine.evaluate import EvalInput, Scored
from thzface.engine.recipe import Recipe
from thzface.models.distill_spec import DISTILL
from thzface.models.teacher import TeacherModel
from thzface.recipes.distill.data import DistillDataModule
from thzface.recipes.distill.evaluate import score_teacher
from thzface.recipes.distill.task import build_task
from thzface.recipes.mtl import evaluate as mtl_evaluate


def score(ev: EvalInput) -> Scored:
    """Students: the ``mtl`` evaluation on THz alone. Teachers: verification/posture on THz + visible rows."""
    return score_teacher(ev) if isinstance(ev.model, TeacherModel) else mtl_evaluate.score(ev)


RECIPE = Recipe(
    model=DISTILL,
    build_task=build_task,
    data=DistillDataModule,  # triplet rows, the teacher's visible images per data.teacher_visible
    score=score,
    predict=predict,
    predict_options=EmbedderOptions,  # the embedder's: a teacher run is refused (it needs visible images)
    verify=verify,
    embedder=True,  # joint and student runs; a stage=teacher run is refused with a one-line error
)
