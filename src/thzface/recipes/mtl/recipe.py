"""Recipe ``mtl`` (seeds 000/001): one THz encoder → identity embedding + posture + reconstruction; THz-only inference.

Config sections and the deployable model: ``models/mtl_spec.py`` (``MTL``, below the recipes so the embedder loads
mtl runs); model and objective in ``task.py``; data: the shared triplet data module; ``evaluate.py`` → metrics +
``report.py``; predict and verify: the embedder's (:mod:`thzface.embedder`).
"""

from __future__ import annotations

from thzface.embedder import EmbedderOptions, predict, verify
from thzface.engine.datamodule import thz_datamodule
from thzface.engine.recipe import Recipe
from thzface.models.mtl_spec import MTL
from thzface.recipes.mtl.evaluate import collect, compute_metrics, score, summary
from thzface.recipes.mtl.task import build_task

# what scripts/flip_rescore.py uses besides the protocol: collect and score on one loaded model
__all__ = ["RECIPE", "collect", "compute_metrics", "summary"]

RECIPE = Recipe(
    model=MTL,
    build_task=build_task,
    data=thz_datamodule,
    score=score,
    predict=predict,
    predict_options=EmbedderOptions,
    verify=verify,
    embedder=True,
)
