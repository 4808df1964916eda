"""mtl on joint P×K batches: identity-disjoint validation, one forward pass, the margin head outside the deployed
model, the threshold fit on validation identities and kept by eval, eval on the run's own world, --init-from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from thzface.cli import main
from thzface.data.csv import read_triplets
from thzface.engine.checkpoint import RunError, save_weights
from thzface.engine.datamodule import JointDataModule, pk_shape, thz_datamodule
from thzface.engine.train import fit, init_from
from thzface.recipes import get_recipe, load_config
from thzface.recipes.mtl.task import MtlTask, build_task, identity_weights, rec_target

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(repo: Path, *overrides: str):
    return load_config(repo / "configs" / "mtl-tiny.yaml", list(overrides))


@pytest.fixture(scope="module")
def run(repo: Path, tiny_data: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("joint") / "run"
    fit(get_recipe("mtl"), tiny(repo), tiny_data, out)
    return out


def test_validation_identities_appear_in_no_training_batch(repo, tiny_data):
    dm = JointDataModule(tiny(repo), tiny_data)
    train, val = set(dm.split.train), set(dm.split.val)
    assert len(val) == 2 and not train & val  # mtl-tiny: data.val_identities = 2
    assert set(dm.bank.classes) == train and {dm.val_bank.classes[i] for i in dm.val_bank.identity.tolist()} == val
    roles = {n.identity for r in dm.train_rows for n in (r.anchor_name, r.positive_name, r.negative_name)}
    assert roles == train  # redrawn negatives never point at a validation person
    seen = set()
    for b in dm.train_dataloader():
        assert b["thz"].shape[0] == 8 and b["identity"].unique().numel() == 4  # P = 4 people x K = 2 captures
        seen |= {dm.bank.classes[i] for i in b["identity"].tolist()}
    assert seen <= train
    all_ids = {r.anchor_name.identity for r in read_triplets(tiny_data / "train_val.csv", tiny_data)}
    assert train | val == all_ids


def test_too_few_identities_and_bad_batch_shapes_are_one_line_errors(repo, tiny_data):
    with pytest.raises(ValueError, match=r"[67] identities cannot give 4 validation identities and keep 4"):
        JointDataModule(tiny(repo, "data.val_identities=4"), tiny_data)  # P = 4 must stay for training
    with pytest.raises(ValueError, match="multiple of train.pk_k=2"):
        pk_shape(tiny(repo, "train.batch_size=7"))
    assert isinstance(thz_datamodule(tiny(repo, "train.sampler=pk"), tiny_data).split.val, tuple)


def test_joint_step_is_one_forward_and_the_margin_head_is_not_deployed(repo, tiny_data):
    cfg = tiny(repo)
    dm = JointDataModule(cfg, tiny_data)
    task = build_task(cfg)
    task.build_identity_loss(len(dm.classes))
    calls = []
    task.model.register_forward_hook(lambda *_: calls.append(1))
    batch = next(iter(dm.train_dataloader()))
    terms = task.compute_losses(batch)
    assert len(calls) == 1 and {"supcon", "arcface", "posture", "rec"} <= set(terms)
    terms["loss"].backward()
    head = task.identity_loss.heads["arcface"].weight
    assert len(dm.classes) == 5  # tiny: 9 people, 7 in train_val at seed 0, 2 held out for validation
    assert head.shape == (len(dm.classes), cfg.model.embed_dim) and head.grad is not None and head.grad.abs().sum() > 0
    assert not any("identity_loss" in k or "heads" in k for k in task.deployable_state_dict())
    assert identity_weights(cfg.loss) == {"supcon": 1.0, "arcface": 0.5}
    with pytest.raises(ValueError, match="triplet rows"):
        MtlTask(tiny(repo, "loss.metric=triplet"), task.model)


def test_reconstruction_target_is_the_clean_one_only_where_present():
    scan, clean = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    batch = {"target": scan, "clean": clean, "has_clean": torch.tensor([True, False])}
    assert rec_target(batch, "positive") is scan
    got = rec_target(batch, "clean")  # (2, 1, 2, 2)
    assert got[0].eq(1).all() and got[1].eq(0).all()
    with pytest.raises(ValueError, match="unknown target"):
        rec_target(batch, "visible")


def test_training_fits_the_threshold_on_validation_and_eval_changes_nothing(run, tiny_data, tmp_path):
    split = json.loads((run / "split.json").read_text())
    assert split["data"] == str(tiny_data.resolve()) and not set(split["train"]) & set(split["val"])
    thr = json.loads((run / "threshold.json").read_text())
    assert thr["source"].startswith("validation identities") and np.isfinite(thr["threshold"])
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert main(["eval", str(run), "--out", str(tmp_path / "report")]) == 0  # no --data: the run's own world
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == before
    m = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert m["run"]["data"] == str(tiny_data.resolve()) and m["run"]["threshold"] == thr["threshold"]
    assert set(m["protocols"]) == {"closed-set", "identity-disjoint", "validation-seen", "all"}
    val_ids = {r.anchor_name.identity for r in read_triplets(tiny_data / "test.csv", tiny_data)} & set(split["val"])
    assert m["protocols"]["validation-seen"]["identities"] == len(val_ids)
    dep = m["protocols"]["all"]["verification"]["deployed"]
    assert dep["threshold"] == thr["threshold"] and 0 <= dep["far"] <= 1 and 0 <= dep["tar"] <= 1
    assert m["summary"]["identity-disjoint"]["deployed_far"] == m["protocols"]["identity-disjoint"]["verification"][
        "deployed"]["far"]  # fmt: skip


def test_eval_without_data_needs_a_recorded_world(run, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("model.safetensors", "config.yaml"):
        (bare / name).write_bytes((run / name).read_bytes())
    assert main(["eval", str(bare), "--out", str(tmp_path / "r")]) == 2
    assert "no split.json recording the training data; pass --data DIR" in capsys.readouterr().err


def test_init_from_a_weights_file_and_unknown_pretrained_names(repo, run, tiny_data, tmp_path, capsys):
    summary = fit(get_recipe("mtl"), tiny(repo, "train.max_steps=1"), tiny_data, tmp_path / "ft",
                  init_run=run / "model.safetensors")  # fmt: skip
    assert summary["init_from"]["copied"] == summary["init_from"]["of"] > 10
    code = main(["train", "mtl-tiny", "--data", str(tiny_data), "--out", str(tmp_path / "x"),
                 "--init-from", "pretrained:nobody"])  # fmt: skip
    assert code == 2 and "pretrained:nobody: no shipped weights of that name" in capsys.readouterr().err
    task = build_task(tiny(repo))
    save_weights({"other.weight": torch.zeros(3)}, tiny(repo), tmp_path / "other.safetensors")
    with pytest.raises(RunError, match="no tensor fits the model"):
        init_from(task, tmp_path / "other.safetensors")
    foreign = tiny(repo)
    foreign.recipe = "inpaint"
    save_weights(task.model.state_dict(), foreign, tmp_path / "inpaint.safetensors")
    with pytest.raises(RunError, match="weights of recipe 'inpaint', cannot initialise a 'mtl' model"):
        init_from(task, tmp_path / "inpaint.safetensors")


def test_train_identities_keeps_a_seeded_subset_and_the_same_validation_people(repo, tiny_data):
    full = JointDataModule(tiny(repo, "train.batch_size=4"), tiny_data)  # P = 2
    part = JointDataModule(tiny(repo, "train.batch_size=4", "data.train_identities=2"), tiny_data)
    again = JointDataModule(tiny(repo, "train.batch_size=4", "data.train_identities=2"), tiny_data)
    assert part.split.val == full.split.val and part.split.train == again.split.train
    assert len(part.split.train) == 2 and set(part.split.train) < set(full.split.train)
    roles = {n.identity for r in part.train_rows for n in (r.anchor_name, r.positive_name, r.negative_name)}
    assert roles == set(part.split.train) and set(part.bank.classes) == roles
    with pytest.raises(ValueError, match="train_identities=1 is below the 2 a training batch needs"):
        JointDataModule(tiny(repo, "train.batch_size=4", "data.train_identities=1"), tiny_data)


def test_predict_task_verify_writes_the_embeddings_of_the_full_forward(run, tiny_data, tmp_path):
    scans = sorted((tiny_data / "thz").glob("*_b*b_*.png"))[:3]
    assert main(["predict", str(run), *map(str, scans), "--out", str(tmp_path / "v"), "--task", "verify"]) == 0
    assert main(["predict", str(run), *map(str, scans), "--out", str(tmp_path / "a")]) == 0
    emb = json.loads((tmp_path / "v" / "embeddings.json").read_text())
    full = json.loads((tmp_path / "a" / "predictions.json").read_text())
    assert [e["image"] for e in emb] == [f["image"] for f in full] == list(map(str, scans))
    assert np.allclose([e["embedding"] for e in emb], [f["embedding"] for f in full], atol=2e-6)
    assert not list((tmp_path / "v").glob("*_recon.png"))  # no decoder ran


@pytest.mark.parametrize("gallery", [False, True])
def test_gallery_views_put_the_unconcealed_counterparts_in_the_identity_loss(repo, tiny_data, gallery):
    cfg = tiny(repo, f"loss.gallery_views={str(gallery).lower()}")
    dm = JointDataModule(cfg, tiny_data)
    task = build_task(cfg)
    task.build_identity_loss(len(dm.classes))
    seen: list = []
    task.identity_loss.register_forward_pre_hook(lambda _m, args: seen.append(args))
    batch = next(iter(dm.train_dataloader()))
    b, ids = batch["thz"].shape[0], batch["identity"]
    torch.manual_seed(0)
    terms = task.compute_losses(batch)
    emb, labels = seen[-1]
    assert emb.shape[0] == (2 * b if gallery else b)
    assert torch.equal(labels, torch.cat([ids, ids]) if gallery else ids)
    assert terms["supcon_uniform"].item() == pytest.approx(np.log(emb.shape[0] - 1))
    if gallery:  # the second half is the embedding of the unconcealed counterparts, and only of them
        torch.manual_seed(0)
        task.compute_losses({**batch, "target": batch["target"].flip(-1)})
        other = seen[-1][0]
        assert torch.equal(other[:b], emb[:b]) and not torch.allclose(other[b:], emb[b:])
        terms["loss"].backward()
        assert task.model.encoder.parameters().__next__().grad is not None
