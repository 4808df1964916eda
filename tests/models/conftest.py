"""Model tests run single-threaded (see the ``one_torch_thread`` fixture in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread(one_torch_thread: None) -> None:
    """Every test in tests/models gets ``one_torch_thread``."""
