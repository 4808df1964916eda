"""Recipe ``inpaint`` (seed 002): attention-gated U-Net on image + mask with curriculum occlusion.

Config and deployable model in ``config.py``; objective in ``task.py``; masked-image data in ``data.py``;
``evaluate.py`` (with ``baselines.py`` and the identity embedder of :mod:`thzface.embedder`) → metrics and
``report.py``; ``predict.py`` fills the holes of ``--mask``. Inference needs the image and its mask only.
"""

from __future__ import annotations

from thzface.engine.recipe import Recipe, no_verification
from thzface.recipes.inpaint.baselines import BASELINES, fitted_baselines
from thzface.recipes.inpaint.config import MODEL
from thzface.recipes.inpaint.data import InpaintDataModule, split_dataset
from thzface.recipes.inpaint.evaluate import HEADLINE, SPEED_MIN_S, evaluate_method, full_batch, score, summary
from thzface.recipes.inpaint.predict import InpaintOptions, predict
from thzface.recipes.inpaint.task import build_task

# what `thzface bench inpaint` uses besides the protocol: fills on the same masks, the test batch, scoring
__all__ = [
    "BASELINES",
    "HEADLINE",
    "RECIPE",
    "SPEED_MIN_S",
    "evaluate_method",
    "fitted_baselines",
    "full_batch",
    "split_dataset",
    "summary",
]

RECIPE = Recipe(
    model=MODEL,
    build_task=build_task,
    data=InpaintDataModule,
    score=score,
    predict=predict,
    predict_options=InpaintOptions,
    verify=no_verification("inpaint"),
)
