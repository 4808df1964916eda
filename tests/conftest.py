"""Shared fixtures: repo paths, a tiny simulated dataset (session-scoped, built once)."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One intra-op torch thread for the test (restored after): tiny networks gain nothing from threads, and on a
    shared 2-core machine two spinning OpenMP workers make many-small-op models many times slower. Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def mtl_fit_task():
    """``make(cfg, tiny_data) -> (task, data module)``: an mtl task set up for fitting on a joint data module (its
    identity loss and the training-only heads its config asks for built, as ``Trainer.fit`` would) without a fit."""
    from thzface.engine.datamodule import JointDataModule
    from thzface.recipes.mtl.task import build_task

    def make(cfg, data: Path):
        dm = JointDataModule(cfg, data)
        task = build_task(cfg)
        task.build_identity_loss(len(dm.classes))

        class Trainer:  # what setup() reads of the fit
            datamodule = dm

        task._trainer = Trainer()  # type: ignore[assignment]
        task.setup("fit")
        return task, dm

    return make
