"""Shared fixtures: repo paths, a tiny simulated dataset (session-scoped, built once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

os.environ.setdefault("THZFACE_CACHE", str(REPO / ".pytest_cache" / "thzface"))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """The simulator's ``tiny`` preset with its mixed split, written once per test session."""
    from thzface.sim.dataset import synth

    out = tmp_path_factory.mktemp("tiny") / "data"
    synth("tiny", out, seed=0, workers=1, overrides=[], progress=False)
    return out
