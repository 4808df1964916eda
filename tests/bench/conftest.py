"""An untrained tiny mtl run shared by the bench tests (speed does not depend on the weights)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_run(repo: Path, tmp_path_factory) -> Path:
    """An untrained tiny mtl run (weights + config): speed does not depend on the weights."""
    from thzface.engine.checkpoint import save_weights
    from thzface.models import build_model
    from thzface.recipes import load_config

    cfg = load_config(repo / "configs" / "mtl-tiny.yaml")
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("untrained-tiny")
    save_weights(build_model(cfg.model).state_dict(), cfg, run / "model.safetensors")
    return run
