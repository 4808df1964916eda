"""Privileged geometry on joint batches: the bank reads each capture's person shape and scan pose from the
simulator's identities.json / poses.npz; training-only shape and pose heads get gradients and stay out of the
deployed weights; a folder without geometry is a one-line error when the loss asks for it; the pose curriculum
reads the same poses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from thzface.data.augment import PROFILES, Augment
from thzface.data.geometry import folder_geometry, folder_inplane, inplane_pose
from thzface.engine.datamodule import JointDataModule, thz_datamodule
from thzface.engine.train import fit
from thzface.recipes import get_recipe, load_config
from thzface.recipes.mtl.task import build_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")
GEO = ("loss.w_shape=1.0", "loss.w_pose=1.0")


def tiny(repo: Path, *overrides: str):
    return load_config(repo / "configs" / "mtl-tiny.yaml", list(overrides))


def test_reader_matches_the_simulator_records(tiny_data: Path) -> None:
    read = folder_geometry(tiny_data)
    assert read is not None
    people = json.loads((tiny_data / "identities.json").read_text())
    with np.load(tiny_data / "poses.npz") as z:
        files, poses = list(z["files"]), z["pose"]
    name = next(f for f in files if "_b" in f)
    shape, pose = read(name)
    np.testing.assert_array_equal(shape, np.asarray(people[name.rsplit("_", 2)[0]]["shape"], np.float32))
    np.testing.assert_array_equal(pose, poses[files.index(name)])
    assert read("nobody_b1b_1.png") is None


def test_heads_train_and_stay_out_of_the_deployed_weights(repo: Path, tiny_data: Path, mtl_fit_task) -> None:
    task, dm = mtl_fit_task(tiny(repo, *GEO), tiny_data)
    assert dm.bank.has_geometry is not None and bool(dm.bank.has_geometry.all())
    batch = next(iter(dm.train_dataloader()))
    terms = task.compute_losses(batch)
    assert {"shape", "pose"} <= set(terms) and torch.isfinite(terms["loss"])
    terms["loss"].backward()
    assert task.geometry is not None
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in task.geometry.parameters())
    assert not any("geometry" in k for k in task.deployable_state_dict())
    off = build_task(tiny(repo))
    off.build_identity_loss(len(dm.classes))
    assert "shape" not in off.compute_losses(batch)  # weights 0: no heads, no terms


def test_a_folder_without_geometry_is_a_one_line_error(repo: Path, tiny_data: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(tiny_data, bare, ignore=shutil.ignore_patterns("identities.json", "poses.npz"))
    with pytest.raises(ValueError, match="loss.w_shape / loss.w_pose need joint batches over a simulated folder"):
        fit(get_recipe("mtl"), tiny(repo, *GEO, "train.max_steps=1"), bare, tmp_path / "run")


def test_pose_curriculum_from_the_simulated_poses(repo: Path, tiny_data: Path, tmp_path: Path) -> None:
    loader = JointDataModule(tiny(repo, "train.pose_curriculum=2"), tiny_data).train_dataloader()
    assert loader.difficulty is not None and loader.curriculum[0] == 2
    sampler, members = loader.epoch_members(0)
    assert len(members) < len(loader.members) and next(iter(loader))["thz"].shape[0] == len(next(iter(sampler)))
    assert loader.epoch_members(2)[1] == loader.members
    bare = tmp_path / "bare"
    shutil.copytree(tiny_data, bare, ignore=shutil.ignore_patterns("identities.json", "poses.npz"))
    with pytest.raises(ValueError, match="pose_curriculum needs every training capture's pose"):
        JointDataModule(tiny(repo, "train.pose_curriculum=2"), bare).train_dataloader()
    with pytest.raises(ValueError, match="train.pose_curriculum=2: needs joint batches"):
        thz_datamodule(tiny(repo, "train.pose_curriculum=2", "train.sampler=pk"), tiny_data)


def test_inplane_pose_by_hand_and_the_reader_matches_the_records(tiny_data: Path) -> None:
    got = inplane_pose(np.array([20.0, -5.0, 3.0, 10.0, -5.0], np.float32), 200.0)
    np.testing.assert_allclose(got, [3.0, 0.1, 0.05], rtol=1e-6)  # roll; 10 / 100; -(-5) / 100 (image y down)
    read = folder_inplane(tiny_data)
    assert read is not None
    meta = json.loads((tiny_data / "meta.json").read_text())
    fov = {i: s["fov_mm"] for s in meta["sites"] for i in s["identities"]}
    with np.load(tiny_data / "poses.npz") as z:
        files, poses = list(z["files"]), z["pose"]
    for name in (next(f for f in files if "_b" in f), next(f for f in files if "_n" in f)):
        yaw, pitch, roll, dx, dy = poses[files.index(name)]
        half = fov[name.rsplit("_", 2)[0]] / 2
        np.testing.assert_allclose(read(name), [roll, dx / half, -dy / half], rtol=1e-6)
    assert read("nobody_b1b_1.png") is None


def test_the_aligner_trains_on_the_simulated_poses_and_only_from_its_own_loss(repo: Path, tiny_data: Path) -> None:
    cfg = tiny(repo, "model.align=inplane", "aug.profile=scan", "aug.p=1.0")
    dm = JointDataModule(cfg, tiny_data)
    bank = dm.bank
    assert bank.has_inplane is not None and bool(bank.has_inplane.all())
    loader = dm.train_dataloader()
    assert loader.augment is not None and loader.augment.profile.rotation_deg == 0.0  # no warp beside the aligner
    assert loader.augment.profile.noise_sigma == PROFILES["scan"].noise_sigma  # photometric kept
    assert (
        JointDataModule(tiny(repo, "aug.profile=scan", "model.align=none"), tiny_data)
        .train_dataloader()
        .augment.profile.rotation_deg
    )
    flip = bank.batch(torch.arange(4), Augment(PROFILES["none"], mirror=1.0), torch.Generator().manual_seed(0))
    torch.testing.assert_close(flip["inplane"], bank.inplane[:4] * torch.tensor([-1.0, -1.0, 1.0]))
    batch = next(iter(loader))
    for w_align, learns in ((1.0, True), (0.0, False)):
        torch.manual_seed(0)
        task = build_task(tiny(repo, "model.align=inplane", f"loss.w_align={w_align}"))
        task.build_identity_loss(len(dm.classes))
        terms = task.compute_losses(batch)
        assert ("align" in terms) is learns and (("align_px" in terms) is learns)
        terms["loss"].backward()
        aligner = task.model.aligner
        grads = [p.grad for p in aligner.parameters() if p.requires_grad]
        assert any(g is not None and float(g.abs().sum()) > 0 for g in grads) is learns  # identity never trains it
        assert task.model.encoder.stem[0].weight.grad is not None
