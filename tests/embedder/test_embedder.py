"""The embedder package: which recipes embed (one answer, ``Recipe.embedder`` == the specs it loads), loading any
embedder source once, refusing the others with a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from thzface.data.inputs import expand_inputs
from thzface.embedder import SPECS, Predictor, open_embedder
from thzface.engine.checkpoint import RunError, save_weights
from thzface.recipes import RECIPES, embedder_names, load_config


def test_recipe_embedder_field_names_the_specs_the_embedder_loads() -> None:
    assert embedder_names() == [s.name for s in SPECS] == ["mtl", "distill"]
    assert all(RECIPES[s.name].model is s for s in SPECS)


def _untrained(preset: str, out: Path, *overrides: str) -> Path:
    cfg = load_config(preset, list(overrides))
    torch.manual_seed(0)
    save_weights(RECIPES[cfg.recipe].model.build_model(cfg).state_dict(), cfg, out / "model.safetensors")
    return out


def test_open_embedder_reads_the_run_once_and_refuses_other_models(tmp_path: Path) -> None:
    run = _untrained("mtl-tiny", tmp_path / "mtl")
    info, cfg, model = open_embedder(run)
    assert info.recipe == "mtl" and cfg.data.image_size == 32 and info.threshold is None and info.split is None
    assert Predictor(run).embed(torch.rand(2, 1, 32, 32)).shape == (2, cfg.model.embed_dim)
    with pytest.raises(RunError, match="weights of recipe 'inpaint', expected 'mtl' or 'distill'"):
        open_embedder(_untrained("inpaint-tiny", tmp_path / "inpaint"))
    with pytest.raises(RunError, match="not a MultiTaskModel"):
        open_embedder(_untrained("distill-tiny", tmp_path / "teacher", "model.stage=teacher"))


def test_expand_inputs(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for name in ("b.png", "a.PNG", "notes.txt"):
        (tmp_path / "d" / name).write_bytes(b"")
    assert [p.name for p in expand_inputs([tmp_path / "d"])] == ["a.PNG", "b.png"]
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        expand_inputs([tmp_path / "nope.png"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="folder holds no images"):
        expand_inputs([tmp_path / "empty"])


def test_predict_options_are_per_recipe() -> None:
    from thzface.engine.recipe import PredictOptions

    inpaint = RECIPES["inpaint"].predict_options
    assert inpaint.given("inpaint", {"mask": Path("m.png")}).mask == Path("m.png")  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"--edit, --samples not read by a 'inpaint' run \(its options: --backend, "):
        inpaint.given("inpaint", {"edits": ("x",), "samples": 2})
    with pytest.raises(ValueError, match="predict: --mask not read by a 'mtl' run"):
        RECIPES["mtl"].predict_options.given("mtl", {"mask": Path("m.png")})
    assert RECIPES["distill"].predict_options.given("distill", {"task": "verify"}).task == "verify"  # type: ignore[attr-defined]
    assert RECIPES["twin"].predict_options is PredictOptions


def test_one_backend_check_for_every_recipe() -> None:
    for name in ("inpaint", "twin", "unmask3d"):
        with pytest.raises(ValueError, match="--backend onnx: these runs predict with torch only"):
            RECIPES[name].predict_options.given(name, {"backend": "onnx"})
    assert RECIPES["mtl"].predict_options.given("mtl", {"backend": "onnx"}).backend == "onnx"
