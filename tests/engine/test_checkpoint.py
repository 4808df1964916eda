"""Loading a run's weights: a behaviour added after a run was saved does not change that run."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from thzface.config import to_dict
from thzface.engine.checkpoint import FORMAT, load_run, save_weights
from thzface.models.mtl_spec import MTL as MODEL
from thzface.models.mtl_spec import build_model
from thzface.recipes import find_config, load_config


def tiny_run(tmp_path: Path, drop: tuple[str, ...] = ()) -> Path:
    cfg = load_config(find_config("mtl-tiny"))
    model = build_model(cfg)
    if not drop:
        save_weights(model.state_dict(), cfg, tmp_path / "model.safetensors")
        return tmp_path
    recorded = to_dict(cfg)
    for key in drop:  # what a run saved before the key existed recorded
        del recorded["model"][key]
    meta = {"format": FORMAT, "recipe": "mtl", "config": json.dumps(recorded)}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "model.safetensors"), meta)
    return tmp_path


def test_a_run_recorded_before_flip_test_keeps_its_single_view_embedding(tmp_path: Path) -> None:
    cfg, model, _ = load_run(tiny_run(tmp_path, drop=("flip_test",)), MODEL)
    assert cfg.model.flip_test is False
    x = torch.rand(3, 1, cfg.data.image_size, cfg.data.image_size)
    with torch.no_grad():
        assert torch.equal(model.embed(x), model(x).embedding)


def test_a_run_recorded_with_flip_test_loads_it(tmp_path: Path) -> None:
    cfg, model, _ = load_run(tiny_run(tmp_path), MODEL)
    assert cfg.model.flip_test is True
    x = torch.rand(3, 1, cfg.data.image_size, cfg.data.image_size)
    with torch.no_grad():
        assert not torch.allclose(model.embed(x), model(x).embedding, atol=1e-4)


def test_a_weights_file_carries_its_runs_threshold_in_metadata(tmp_path: Path) -> None:
    """Shipped weights (scripts/ship_weights.py) decide with their run's threshold; a run folder reads
    threshold.json; a bare file without one has none."""
    from thzface.engine.run import Run, save_threshold

    cfg = load_config(find_config("mtl-tiny"))
    state = build_model(cfg).state_dict()
    shipped, bare = tmp_path / "shipped.safetensors", tmp_path / "bare.safetensors"
    save_weights(state, cfg, shipped, extra={"threshold": {"threshold": 0.71, "source": "val people (run r)"}})
    save_weights(state, cfg, bare, extra={"step": 3})
    assert Run(shipped).threshold == 0.71 and Run(shipped).threshold_source == "val people (run r)"
    assert Run(bare).threshold is None
    run = tmp_path / "run"
    save_weights(state, cfg, run / "model.safetensors", extra={"threshold": {"threshold": 0.2, "source": "x"}})
    save_threshold(run, 0.5, "validation")
    assert Run(run).threshold == 0.5  # a run folder: its threshold.json
    shipped_default = Run("pretrained:mtl-default")  # shipped with its validation people's threshold
    assert shipped_default.threshold is not None and 0 < shipped_default.threshold < 1
    assert "validation" in str(shipped_default.threshold_source)
