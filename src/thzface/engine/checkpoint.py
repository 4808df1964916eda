"""Deployable weights: ``model.safetensors`` carrying the resolved config, so loading needs no other flag.

The run folder layout is ``RUN/config.yaml`` (resolved config), ``RUN/model.safetensors`` (weights + config in the
metadata), ``RUN/checkpoints/{last,best}.ckpt`` (Lightning resume state, loaded with ``weights_only=True``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from thzface.config import Config, to_dict
from thzface.models.spec import ModelSpec

WEIGHTS = "model.safetensors"
FORMAT = "thzface-weights-1"


class RunError(ValueError):
    """A run folder or weights file is missing, corrupt or of another recipe."""


def save_weights(state_dict: dict[str, torch.Tensor], cfg: Config, path: str | Path, extra: dict | None = None) -> None:
    """Write weights + config metadata atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "recipe": cfg.recipe, "config": json.dumps(to_dict(cfg))}
    if extra:
        meta["extra"] = json.dumps(extra)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


PRETRAINED = "pretrained:"  # prefix naming weights shipped inside the package (``pretrained:mtl-default``)
PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "weights"  # thzface/weights/<name>.safetensors


def pretrained_names() -> list[str]:
    """Names of the weights shipped in the package (usable as ``pretrained:NAME``)."""
    return sorted(p.stem for p in PRETRAINED_DIR.glob("*.safetensors"))


def weights_path(run: str | Path) -> Path:
    """``RUN/model.safetensors`` (or RUN itself when it is a weights file, or the shipped weights for
    ``pretrained:NAME``); RunError when absent."""
    if str(run).startswith(PRETRAINED):
        name = str(run)[len(PRETRAINED) :]
        path = PRETRAINED_DIR / f"{name}.safetensors"
        if not path.is_file():
            shipped = ", ".join(pretrained_names()) or "none"
            raise RunError(f"{run}: no shipped weights of that name (shipped: {shipped})")
        return path
    run = Path(run)
    if run.is_file():
        return run
    if not run.exists():
        raise RunError(f"{run}: run folder not found")
    p = run / WEIGHTS
    if not p.is_file():
        raise RunError(f"{run}: no {WEIGHTS} in the run folder (train it first, or point at another run)")
    return p


def read_metadata(path: str | Path) -> dict:
    """Metadata of a thzface weights file: {'recipe', 'config' (dict), 'extra' (dict)}."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises several exception types on corrupt files
        raise RunError(f"{path}: not a readable safetensors file ({str(e).splitlines()[0]})") from e
    if meta.get("format") != FORMAT:
        raise RunError(f"{path}: not a thzface weights file (metadata format {meta.get('format')!r})")
    return {
        "recipe": meta.get("recipe"),
        "config": json.loads(meta["config"]),
        "extra": json.loads(meta.get("extra", "{}")),
    }


def recorded_config(data: dict, spec: ModelSpec) -> dict:
    """A run's recorded config with the keys it lacks set to what it ran with: the model config's
    ``RECORDED_BEFORE`` (a behaviour added later with another default must not change an older run)."""
    before = getattr(spec.model_config, "RECORDED_BEFORE", {})
    model = data.get("model") or {}
    return {**data, "model": {**before, **model}} if before else data


def build_from(
    path: Path,
    meta: dict,
    models: ModelSpec | tuple[ModelSpec, ...],
    map_location: str = "cpu",
    expect: type[nn.Module] | None = None,
):  # (cfg, model, extra); untyped: each caller knows its model class
    """The model of the weights file ``path`` whose metadata is ``meta`` (:func:`read_metadata`): see
    :func:`load_run`."""
    allowed = (models,) if isinstance(models, ModelSpec) else models
    spec = next((m for m in allowed if m.name == meta["recipe"]), None)
    if spec is None:
        names = " or ".join(repr(m.name) for m in allowed)
        raise RunError(f"{path}: weights of recipe {meta['recipe']!r}, expected {names}")
    cfg = spec.config(recorded_config(meta["config"], spec), where=str(path))
    model = spec.build_model(cfg)
    if expect is not None and not isinstance(model, expect):
        raise RunError(
            f"{path}: a {type(model).__name__} ({cfg.recipe}), not a {expect.__name__}; "
            "a distill stage=teacher run needs visible images, use a THz-only student run"
        )
    state = load_file(str(path), device=map_location)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RunError(f"{path}: weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.eval()
    return cfg, model, meta["extra"]


def load_run(
    run: str | Path,
    models: ModelSpec | tuple[ModelSpec, ...],
    map_location: str = "cpu",
    expect: type[nn.Module] | None = None,
):
    """Rebuild the model of a run from its weights file alone.

    Returns ``(cfg, model, extra)`` with the model in eval mode. ``models`` (one :class:`ModelSpec` or a tuple of
    them) are the recipes accepted; a weights file of another recipe, or (with ``expect``) a model of another class
    (e.g. a distill ``stage: teacher`` run where a THz-only model is needed), is a :class:`RunError`.
    """
    path = weights_path(run)
    return build_from(path, read_metadata(path), models, map_location, expect)
