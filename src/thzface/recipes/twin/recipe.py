"""Recipe ``twin`` (seed 003): frozen global embedder + five face-part encoders, triplet loss with twin negatives.

Config and deployable model in ``config.py``; objective in ``task.py``; part boxes and twin-aware rows in
``data.py``; ``evaluate.py`` → metrics.json + ``report.py``; ``predict.py`` embeds images and verifies pairs.
"""

from __future__ import annotations

from thzface.engine.recipe import Recipe
from thzface.recipes.twin.config import MODEL
from thzface.recipes.twin.data import TwinDataModule
from thzface.recipes.twin.evaluate import evaluate
from thzface.recipes.twin.predict import predict, verify
from thzface.recipes.twin.task import build_task

RECIPE = Recipe(
    model=MODEL,
    build_task=build_task,
    data=TwinDataModule,
    evaluate=evaluate,
    predict=predict,
    verify=verify,
)
