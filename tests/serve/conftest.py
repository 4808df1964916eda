"""A tiny trained and evaluated mtl run (so RUN/threshold.json exists), shared by the web-app tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from thzface.recipes import MTL, load_config
from thzface.recipes import train as fit

TINY_RUN = ["train.max_steps=2", "train.val_every=2"]  # as tests/export's run (the same folder): validated at step 2


@pytest.fixture(scope="session")
def serve_run(repo: Path, tiny_data: Path, tmp_path_factory) -> Path:
    """Trained once per session at a fixed path (tests/export's fixture reuses the same run), then evaluated (which
    must leave the run's threshold, fit on validation identities in training, as it was)."""
    run = tmp_path_factory.getbasetemp() / "tiny-mtl-run"
    if not (run / "model.safetensors").is_file():
        fit(load_config(repo / "configs" / "mtl-tiny.yaml", TINY_RUN), tiny_data, run)
    assert (run / "threshold.json").is_file(), "training wrote no validation threshold for the tiny run"
    before = (run / "threshold.json").read_bytes()
    MTL.evaluate(run, tiny_data, tmp_path_factory.mktemp("serve-report"))
    assert (run / "threshold.json").read_bytes() == before, "eval changed the run's threshold"
    return run
