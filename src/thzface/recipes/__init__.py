"""The recipe registry: ``kind:`` (a config's ``recipe:``) → :class:`~thzface.engine.recipe.Recipe`, in one glance.

Each recipe is a package ``recipes/<name>/`` whose ``recipe.py`` builds its ``RECIPE``. This module also turns a
config file, a shipped preset name or a run folder into what the CLI needs; nothing below it imports it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from thzface.config import Config, ConfigError, read_config_dict
from thzface.engine.checkpoint import load_run as _load_run
from thzface.engine.recipe import Recipe
from thzface.engine.run import Run
from thzface.engine.train import fit
from thzface.recipes.distill.recipe import RECIPE as DISTILL
from thzface.recipes.inpaint.recipe import RECIPE as INPAINT
from thzface.recipes.mtl.recipe import RECIPE as MTL
from thzface.recipes.twin.recipe import RECIPE as TWIN
from thzface.recipes.unmask3d.recipe import RECIPE as UNMASK3D

RECIPES: dict[str, Recipe] = {
    "mtl": MTL,
    "distill": DISTILL,
    "inpaint": INPAINT,
    "twin": TWIN,
    "unmask3d": UNMASK3D,
}


def embedder_names() -> list[str]:
    """The recipes whose runs embed one THz scan (``Recipe.embedder``; :data:`thzface.embedder.SPECS` loads them)."""
    return [name for name, r in RECIPES.items() if r.embedder]


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; ConfigError naming the known ones otherwise."""
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; known: {sorted(RECIPES)}")
    return RECIPES[name]


def config_from_dict(data: dict, where: str = "config") -> Config:
    """Plain dict → validated Config of the recipe named by ``data["recipe"]`` (default mtl)."""
    try:
        recipe = get_recipe(str(data.get("recipe", "mtl")))
    except ConfigError as e:
        raise ConfigError(f"{where}.recipe: {e}") from e
    return recipe.model.config(data, where)


def preset_names() -> list[str]:
    """Names of the shipped config presets (``<recipe>-<size>``), from the package data."""
    root = resources.files("thzface") / "configs"
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def find_config(name: str) -> Path:
    """Path of the shipped preset ``name`` (e.g. ``mtl-tiny``); ConfigError listing the presets otherwise."""
    path = Path(str(resources.files("thzface") / "configs" / f"{name}.yaml"))
    if not path.is_file():
        raise ConfigError(f"{name}: no such config file or preset; presets: {', '.join(preset_names())}")
    return path


def load_config(path_or_preset: str | Path, overrides: list[str] | None = None) -> Config:
    """A YAML config file, or a shipped preset name, with dotted overrides, validated strictly."""
    path = Path(path_or_preset)
    if not path.is_file() and path.suffix == "" and path.parent == Path("."):
        path = find_config(str(path_or_preset))
    return config_from_dict(read_config_dict(path, overrides), where=str(path))


def recipe_of(run: str | Path) -> Recipe:
    """The recipe that trained ``run`` (a run folder or weights file), read from the weights' metadata."""
    return get_recipe(Run(run).recipe)


def load_run(run: str | Path, names: tuple[str, ...] | None = None, map_location: str = "cpu"):
    """``(cfg, model, extra)`` of a run of any recipe (or of ``names``); see :func:`.engine.checkpoint.load_run`."""
    specs = tuple(RECIPES[n].model for n in (names or tuple(RECIPES)))
    return _load_run(run, specs, map_location=map_location)


def train(cfg: Config, data_dir: str | Path, run_dir: str | Path, **kwargs) -> dict:
    """:func:`thzface.engine.train.fit` with the recipe named by ``cfg.recipe`` (keyword arguments pass through)."""
    return fit(get_recipe(cfg.recipe), cfg, data_dir, run_dir, **kwargs)
