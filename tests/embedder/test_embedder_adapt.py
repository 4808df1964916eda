"""``thzface adapt``: an embedder adapted to a scanner's unlabeled scans is a weights file every command reads; only
BatchNorm buffers change, the threshold travels, nothing is overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from thzface.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def weights(repo: Path, tmp_path: Path) -> Path:
    from thzface.engine.checkpoint import save_weights
    from thzface.models import build_model
    from thzface.recipes import load_config

    cfg = load_config(repo / "configs" / "mtl-tiny.yaml")
    torch.manual_seed(0)
    path = tmp_path / "src.safetensors"
    save_weights(build_model(cfg.model).state_dict(), cfg, path, {"threshold": {"threshold": 0.5, "source": "t"}})
    return path


def test_adapt_writes_weights_with_new_batchnorm_statistics_only(weights, tiny_data, tmp_path, capsys) -> None:
    from thzface.engine.run import Run

    out = tmp_path / "adapted.safetensors"
    assert main(["adapt", str(weights), str(tiny_data / "thz"), "--out", str(out)]) == 0
    before, after = load_file(str(weights)), load_file(str(out))
    assert before.keys() == after.keys()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in changed)
    run = Run(out)
    assert run.threshold == 0.5 and run.extra["adapted"]["scans"] == len(list((tiny_data / "thz").glob("*.png")))
    scans = sorted((tiny_data / "thz").glob("*.png"))
    assert main(["verify", str(out), str(scans[0]), str(scans[1])]) == 0  # every command reads it
    capsys.readouterr()
    assert main(["adapt", str(weights), str(tiny_data / "thz"), "--out", str(out)]) == 2  # never overwritten
    assert "never overwrites" in capsys.readouterr().err
    assert load_file(str(out)).keys() == after.keys()


def test_adapt_is_seeded(weights, tiny_data, tmp_path) -> None:
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    for p in (a, b):
        assert main(["adapt", str(weights), str(tiny_data / "thz"), "--out", str(p)]) == 0
    ta, tb = load_file(str(a)), load_file(str(b))
    assert all(torch.equal(ta[k], tb[k]) for k in ta)


def test_adapt_needs_scans(weights, tmp_path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["adapt", str(weights), str(empty), "--out", str(tmp_path / "o.safetensors")]) == 2
    assert "holds no images" in capsys.readouterr().err
    assert not (tmp_path / "o.safetensors").exists()


def test_bench_mtl_adapted_arm_scores_the_trained_arms_unseen_people(weights, tiny_data, tmp_path) -> None:
    import csv
    import json

    from thzface.bench.mtl import adapt_and_eval

    row = adapt_and_eval(tiny_data, tmp_path / "arm", 0, str(weights))
    people = {r["anchor"].rsplit("_", 2)[0] for r in csv.DictReader((tiny_data / "train_val.csv").open())}
    test = {r["anchor"].rsplit("_", 2)[0] for r in csv.DictReader((tiny_data / "test.csv").open())}
    split = json.loads((tmp_path / "arm" / "run" / "split.json").read_text())
    assert set(split["train"]) == people and split["val"] == []  # seen: the adapting people, no label read
    m = json.loads((tmp_path / "arm" / "report" / "metrics.json").read_text())
    assert not m["run"]["zero_shot"] and m["run"]["scored_csvs"] == ["test.csv"]
    assert m["protocols"]["identity-disjoint"]["identities"] == len(test - people)  # the trained arms' unseen people
    assert m["run"]["threshold"] == 0.5  # the start's deployed threshold, carried
    scans = {r[k] for r in csv.DictReader((tiny_data / "train_val.csv").open()) for k in ("anchor", "positive")}
    assert row["steps"] == row["exported_step"] == 0 and row["adapt_scans"] == len(scans)
    assert adapt_and_eval(tiny_data, tmp_path / "arm", 0, str(weights))["idd_eer"] == row["idd_eer"]  # a rerun replaces
