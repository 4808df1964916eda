"""Verbs that use a trained run: ``thzface predict``, ``verify``, ``export onnx`` and ``serve``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from thzface.report import dumps

if TYPE_CHECKING:
    from thzface.engine.recipe import Recipe


def _need_embedder(run: str, recipe: Recipe, option: str) -> None:
    """A one-line error when ``option`` is used on a run whose recipe is not an embedder (``Recipe.embedder``)."""
    if not recipe.embedder:
        from thzface.recipes import embedder_names

        raise ValueError(
            f"{run}: {option} needs an embedder run ({' or '.join(embedder_names())}), not {recipe.name!r}"
        )


def cmd_predict(a: argparse.Namespace) -> int:
    from thzface.recipes import recipe_of

    if a.samples < 1:
        raise ValueError(f"--samples {a.samples}: must be >= 1")
    recipe = recipe_of(a.run)
    if a.task == "verify":
        _need_embedder(a.run, recipe, "--task verify")
    values = {"backend": a.backend, "mask": Path(a.mask) if a.mask else None, "samples": a.samples,
              "edits": tuple(a.edit), "seed": a.seed, "task": a.task}  # fmt: skip
    unset = {"backend": "torch", "mask": None, "samples": 1, "edits": (), "seed": 0, "task": "all"}  # the defaults
    opts = recipe.predict_options.given(recipe.name, {k: v for k, v in values.items() if v != unset[k]})
    print(dumps(recipe.predict(Path(a.run), [Path(p) for p in a.inputs], Path(a.out), opts)))
    return 0


def cmd_adapt(a: argparse.Namespace) -> int:
    from thzface.embedder import adapt_weights
    from thzface.recipes import recipe_of

    _need_embedder(a.run, recipe_of(a.run), "adapt")
    print(dumps(adapt_weights(a.run, [Path(p) for p in a.scans], Path(a.out), seed=a.seed)))
    return 0


def cmd_verify(a: argparse.Namespace) -> int:
    from thzface.recipes import recipe_of

    recipe = recipe_of(a.run)
    backend = {}
    if a.backend != "torch":  # the embedders' verify takes a backend; twin's and the others' do not
        _need_embedder(a.run, recipe, f"--backend {a.backend}")
        backend["backend"] = a.backend
    if a.against is not None:  # several scans a side, fused
        from thzface.embedder import verify_sets

        _need_embedder(a.run, recipe, "--against")
        side_a, side_b = [Path(p) for p in a.scans], [Path(p) for p in a.against]
        print(dumps(verify_sets(Path(a.run), side_a, side_b, threshold=a.threshold, backend=a.backend)))
        return 0
    if len(a.scans) != 2:
        raise ValueError(f"verify: give two scans (A B), or A [A2 ...] --against B [B2 ...]; got {len(a.scans)}")
    a_, b_ = (Path(p) for p in a.scans)
    print(dumps(recipe.verify(Path(a.run), a_, b_, threshold=a.threshold, **backend)))
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from thzface.export.onnx import export_onnx
    from thzface.recipes import recipe_of

    models = (recipe_of(a.run).model,)
    print(dumps(export_onnx(Path(a.run), models, Path(a.out) if a.out else None, check=a.check, task=a.task)))
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    from thzface.serve import serve

    given = {k: v for k, v in (("batch", a.batch), ("threads", a.threads)) if v is not None}  # else serve's defaults
    serve(Path(a.run), host=a.host, port=a.port, backend=a.backend, **given)
    return 0
