"""A tiny trained mtl run (2 steps on the simulator's tiny preset), shared by the ONNX tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from thzface.recipes import load_config
from thzface.recipes import train as fit


@pytest.fixture(scope="session")
def onnx_run(repo: Path, tiny_data: Path, tmp_path_factory) -> Path:
    """Trained once per session at a fixed path (tests/serve's fixture reuses the same run when it exists)."""
    run = tmp_path_factory.getbasetemp() / "tiny-mtl-run"
    if not (run / "model.safetensors").is_file():
        fit(load_config(repo / "configs" / "mtl-tiny.yaml", ["train.max_steps=2"]), tiny_data, run)
    return run
