"""Recipe registry: name → module holding that recipe's config dataclasses and entry points.

A recipe module defines ``ModelConfig`` and ``LossConfig`` dataclasses and the functions the CLI calls
(``build_model(cfg)``, ``build_task(cfg)`` for training; ``evaluate``, ``predict``, ``bench`` where they
exist). Modules are imported lazily so that importing the registry costs nothing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

RECIPES: dict[str, str] = {
    "mtl": "thzface.recipes.mtl.recipe",
    "inpaint": "thzface.recipes.inpaint.recipe",
    "twin": "thzface.recipes.twin.recipe",
    "distill": "thzface.recipes.distill.recipe",
    "unmask3d": "thzface.recipes.unmask3d.recipe",
}


def get_recipe(name: str) -> ModuleType:
    """Import and return the recipe module ``name``; KeyError with the known names otherwise."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; known: {sorted(RECIPES)}")
    return importlib.import_module(RECIPES[name])
