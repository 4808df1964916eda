"""Shared fixtures for the simulator tests: a tiny dataset generated once, the Surrey model path."""

from __future__ import annotations

from pathlib import Path

import pytest

from thzface.sim.presets import get_preset
from thzface.sim.world import synthesize

SFM_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "face-models" / "sfm_shape_3448.npz"
FAST = ["face_model.grid_deg=3", "samples=1", "identities.count=3", "identities.twin_pairs=1"]


@pytest.fixture(scope="session")
def fast() -> list[str]:
    """Overrides that make the tiny preset quicker for tests."""
    return list(FAST)


@pytest.fixture(scope="session")
def sfm_path() -> Path:
    if not SFM_PATH.is_file():
        pytest.skip(f"Surrey Face Model not found at {SFM_PATH} (../shared/face-models is optional)")
    return SFM_PATH


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The tiny preset made faster (coarser head grid, one sample, 3 identities incl. a twin pair)."""
    out = tmp_path_factory.mktemp("sim") / "tiny"
    meta = synthesize(get_preset("tiny", FAST), out, seed=5, workers=1, progress=False)
    return out, meta
