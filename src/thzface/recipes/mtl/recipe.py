"""Recipe ``mtl`` (seeds 000/001): one THz encoder → identity embedding + posture + reconstruction; THz-only inference.

Config: ``models.multitask.MtlModelConfig`` (``model:``) and :class:`~thzface.recipes.mtl.task.LossConfig`
(``loss:``); model and objective in ``task.py``; data: the shared triplet data module; ``evaluate.py`` →
metrics.json + ``report.py``; ``predict.py`` → posture, embedding and reconstruction per image, and ``verify``.
"""

from __future__ import annotations

from functools import partial

from thzface.engine.datamodule import thz_datamodule
from thzface.engine.recipe import Recipe
from thzface.recipes.mtl.evaluate import evaluate
from thzface.recipes.mtl.predict import predict, verify
from thzface.recipes.mtl.task import MODEL, build_task

RECIPE = Recipe(
    model=MODEL,
    build_task=build_task,
    data=thz_datamodule,
    evaluate=partial(evaluate, models=(MODEL,)),
    predict=partial(predict, models=(MODEL,)),
    verify=partial(verify, models=(MODEL,)),
)
