"""A source that never trained on a folder (shipped weights, a weights file, a run of another folder) scores every
person in it as unseen, every CSV's rows, with identity-bootstrap intervals beside the EER."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from thzface.data.csv import read_triplets

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights_file(repo: Path, tmp_path_factory) -> Path:
    from thzface.engine.checkpoint import save_weights
    from thzface.models import build_model
    from thzface.recipes import load_config

    cfg = load_config(repo / "configs" / "mtl-tiny.yaml")
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("zero-shot") / "tiny.safetensors"
    save_weights(build_model(cfg.model).state_dict(), cfg, path)
    return path


def test_weights_file_scores_every_person_of_the_folder_as_unseen(weights_file: Path, tiny_data: Path, tmp_path):
    from thzface.recipes import recipe_of

    metrics = recipe_of(weights_file).evaluate(weights_file, tiny_data, tmp_path / "r")
    assert metrics["run"]["zero_shot"] is True
    assert metrics["run"]["scored_csvs"] == ["train_val.csv", "test.csv"]
    people = {
        r.anchor_name.identity for c in ("train_val.csv", "test.csv") for r in read_triplets(tiny_data / c, tiny_data)
    }
    p = metrics["protocols"]
    v = p["identity-disjoint"]["verification"]
    assert v["identities"] == len(people)  # every person of the folder, none closed-set
    assert "verification" not in p.get("closed-set", {})
    lo, hi = v["eer_ci95"]
    assert lo <= v["eer"] <= hi and 0 < v["ci_replicates"] <= 1000
    assert len(v["tar@far=0.01_ci95"]) == 2
    assert (tmp_path / "r" / "metrics.json").is_file()


def test_weights_trained_on_another_csv_name_still_score_every_seed_csv(
    repo: Path, tiny_data: Path, tmp_path: Path
) -> None:
    """Weights whose run read ``data.train_csv=all.csv`` (a pretraining world's every capture) score the folder's
    train_val.csv and test.csv all the same: a zero-shot source scores every person, whatever its CSV was called."""
    from thzface.engine.checkpoint import save_weights
    from thzface.models import build_model
    from thzface.recipes import load_config, recipe_of

    cfg = load_config(repo / "configs" / "mtl-tiny.yaml", ["data.train_csv=all.csv"])
    path = tmp_path / "all.safetensors"
    save_weights(build_model(cfg.model).state_dict(), cfg, path)
    metrics = recipe_of(path).evaluate(path, tiny_data, tmp_path / "r")
    assert metrics["run"]["scored_csvs"] == ["train_val.csv", "test.csv"]


def test_never_trained_on(tmp_path: Path, weights_file: Path, tiny_data: Path) -> None:
    from thzface.data.identity_split import IdentitySplit
    from thzface.engine.evaluate import never_trained_on
    from thzface.engine.run import Run, save_split

    csvs = ("train_val.csv", "test.csv")
    assert never_trained_on(Run(weights_file), tiny_data, csvs)
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.safetensors").write_bytes(weights_file.read_bytes())
    assert not never_trained_on(Run(run), tiny_data, csvs)  # no recorded split: taken as trained here
    person = next(iter(read_triplets(tiny_data / "test.csv", tiny_data))).anchor_name.identity
    save_split(run, tmp_path / "elsewhere", IdentitySplit((person,), ()))  # a copy of the folder: same people
    assert not never_trained_on(Run(run), tiny_data, csvs)
    save_split(run, tmp_path / "elsewhere", IdentitySplit(("other-world-000",), ("other-world-001",)))
    assert never_trained_on(Run(run), tiny_data, csvs)
