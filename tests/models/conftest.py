"""Model tests run single-threaded: tiny networks gain nothing from intra-op threads, and on a shared 2-core
machine spinning OpenMP workers make many-small-op models (hard expert dispatch) many times slower."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
