"""Recipe ``unmask3d`` (seed 004): garment mask + face-model coefficients → render → generator + PatchGAN.

Config and deployable model in ``config.py``; two-phase GAN objective in ``task.py``; data in ``data.py``; the
numpy renderer in ``render.py`` and the inference chain in ``pipeline.py``; ``evaluate.py`` → metrics +
``report.py``; ``predict.py`` samples completions with optional coefficient edits.
"""

from __future__ import annotations

from thzface.engine.recipe import Recipe, no_verification
from thzface.recipes.unmask3d.config import MODEL
from thzface.recipes.unmask3d.data import Unmask3DDataModule
from thzface.recipes.unmask3d.evaluate import score, scores
from thzface.recipes.unmask3d.predict import Unmask3DOptions, predict
from thzface.recipes.unmask3d.task import build_task

# what `thzface bench unmask3d` uses besides the protocol: the completion scores of another method's outputs
__all__ = ["RECIPE", "scores"]

RECIPE = Recipe(
    model=MODEL,
    build_task=build_task,
    data=Unmask3DDataModule,
    score=score,
    predict=predict,
    predict_options=Unmask3DOptions,
    verify=no_verification("unmask3d"),
)
