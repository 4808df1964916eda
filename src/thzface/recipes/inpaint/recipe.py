"""Recipe ``inpaint`` (seed 002): attention-gated U-Net on image + mask with curriculum occlusion.

Config and deployable model in ``config.py``; objective in ``task.py``; masked-image data in ``data.py``;
``evaluate.py`` (with ``baselines.py`` and the identity embedder of ``identity.py``) → metrics.json + ``report.py``;
``predict.py`` fills the holes of ``--mask``. Inference needs the image and its mask only.
"""

from __future__ import annotations

from thzface.engine.recipe import Recipe, no_verification
from thzface.recipes.inpaint.config import MODEL
from thzface.recipes.inpaint.data import InpaintDataModule
from thzface.recipes.inpaint.evaluate import evaluate
from thzface.recipes.inpaint.predict import predict
from thzface.recipes.inpaint.task import build_task

RECIPE = Recipe(
    model=MODEL,
    build_task=build_task,
    data=InpaintDataModule,
    evaluate=evaluate,
    predict=predict,
    verify=no_verification("inpaint"),
)
