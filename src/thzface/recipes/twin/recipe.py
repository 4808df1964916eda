"""Recipe ``twin`` (seed 003): frozen global embedder + five face-part encoders, triplet loss with twin negatives.

Config and deployable model in ``config.py``; objective in ``task.py``; part boxes and twin-aware rows in
``data.py``; ``evaluate.py`` → metrics + ``report.py``; ``predict.py`` embeds images and verifies pairs.
"""

from __future__ import annotations

from thzface.engine.recipe import Recipe
from thzface.recipes.twin.config import MODEL
from thzface.recipes.twin.data import TwinDataModule
from thzface.recipes.twin.evaluate import collect, compute_metrics, headline, score
from thzface.recipes.twin.predict import predict, verify
from thzface.recipes.twin.task import build_task

# what `thzface bench twin` uses besides the protocol: the twin metrics of the frozen global embedding alone
__all__ = ["RECIPE", "collect", "compute_metrics", "headline"]

RECIPE = Recipe(
    model=MODEL,
    build_task=build_task,
    data=TwinDataModule,
    score=score,
    predict=predict,
    verify=verify,
)
