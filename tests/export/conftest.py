"""A tiny trained mtl run (2 steps on the simulator's tiny preset), shared by the ONNX tests; a fresh copy of it,
its scans, and a way to make its exports stale."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from thzface.engine.checkpoint import save_weights
from thzface.recipes import load_config, load_run
from thzface.recipes import train as fit

TINY_RUN = ["train.max_steps=2", "train.val_every=2"]  # validated at its last step: RUN/threshold.json exists


@pytest.fixture(scope="session")
def onnx_run(repo: Path, tiny_data: Path, tmp_path_factory) -> Path:
    """Trained once per session at a fixed path (tests/serve's fixture reuses the same run when it exists)."""
    run = tmp_path_factory.getbasetemp() / "tiny-mtl-run"
    if not (run / "model.safetensors").is_file():
        fit(load_config(repo / "configs" / "mtl-tiny.yaml", TINY_RUN), tiny_data, run)
    return run


@pytest.fixture
def run_copy(onnx_run: Path, tmp_path: Path) -> Path:
    """A fresh copy of the tiny run's weights and config: exports written into it stay in this test."""
    dst = tmp_path / "run"
    dst.mkdir()
    for name in ("model.safetensors", "config.yaml"):
        shutil.copy(onnx_run / name, dst / name)
    return dst


@pytest.fixture(scope="session")
def real_scans(tiny_data: Path) -> list[Path]:
    """The tiny dataset's THz scans, sorted."""
    return sorted((tiny_data / "thz").glob("*.png"))


@pytest.fixture(scope="session")
def new_weights() -> Callable[[Path], None]:
    """``new_weights(RUN)`` saves other weights into RUN (every float tensor moved by seeded noise): its ONNX
    exports become stale."""

    def save_other(run: Path) -> None:
        cfg, model, extra = load_run(run)
        g = torch.Generator().manual_seed(1)
        state = {k: v + 0.05 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
                 for k, v in model.state_dict().items()}  # fmt: skip
        save_weights(state, cfg, run / "model.safetensors", extra=extra)

    return save_other
