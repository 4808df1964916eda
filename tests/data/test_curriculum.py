"""The pose curriculum (train.pose_curriculum): difficulty as a within-posture rank of the distance from the
posture's median pose, a linear level schedule, every person keeping K captures, and joint batches that draw only
the level's captures until the curriculum ends."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from thzface.data.captures import CaptureBank, clean_folder
from thzface.data.curriculum import curriculum_level, curriculum_members, pose_difficulty
from thzface.data.joint import PKJointBatches
from thzface.data.naming import format_name


def test_difficulty_is_the_within_posture_rank_of_the_scaled_distance_from_the_median() -> None:
    # posture 0: yaw 0, 1, 2, 10 (median 1.5, MAD 1.0): distances 1.5, 0.5, 0.5, 8.5 -> ranks 3, 1, 2, 4 (stable)
    # posture 1: a single capture -> rank 1 of 1
    pose = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [10.0, 5.0], [30.0, 0.0]])  # (5, 2); pitch constant
    posture = np.array([0, 0, 0, 0, 1])
    np.testing.assert_allclose(pose_difficulty(pose, posture), [0.75, 0.25, 0.5, 1.0, 1.0])
    # each term in its own spread: a 10x larger unit on the second term does not change the ranks
    pose2 = np.array([[0.0, 0.0], [1.0, 30.0], [2.0, 0.0], [3.0, 10.0]])
    np.testing.assert_allclose(pose_difficulty(pose2 * [1.0, 10.0], np.zeros(4)), pose_difficulty(pose2, np.zeros(4)))
    with pytest.raises(ValueError, match="NaN"):
        pose_difficulty(np.array([[np.nan]]), np.array([0]))
    with pytest.raises(ValueError, match=r"pose \(N, P\) and posture \(N,\)"):
        pose_difficulty(np.zeros((3, 2)), np.zeros(2))


def test_level_rises_linearly_from_start_to_all() -> None:
    assert [curriculum_level(e, 4, 0.2) for e in (0, 1, 2, 4, 9)] == pytest.approx([0.2, 0.4, 0.6, 1.0, 1.0])
    assert curriculum_level(0, 0, 0.3) == 1.0  # no curriculum
    with pytest.raises(ValueError, match="pose_curriculum_start=0"):
        curriculum_level(0, 3, 0.0)
    with pytest.raises(ValueError, match="pose_curriculum=-1"):
        curriculum_level(0, -1, 0.5)


def test_members_keep_the_level_and_every_groups_k_easiest() -> None:
    difficulty = np.array([0.9, 0.1, 0.8, 0.95, 0.7, 0.2])
    group = np.array(["a", "a", "a", "b", "b", "b"])
    assert curriculum_members(difficulty, group, k=2, level=0.15).tolist() == [1, 2, 4, 5]  # a: 0.1, 0.8; b: 0.2, 0.7
    assert curriculum_members(difficulty, group, k=1, level=0.85).tolist() == [1, 2, 4, 5]
    assert curriculum_members(difficulty, group, k=2, level=1.0).tolist() == list(range(6))


def test_joint_batches_draw_the_easy_captures_first_then_all(make_ds) -> None:
    ids = ("ida", "idb", "idc", "idd")
    root = make_ds(identities=ids, postures=2, samples=4, size=16)
    names = [format_name(i, p, True, k) for i in ids for p in range(2) for k in range(4)]
    bank = CaptureBank.from_names(root, names, 16, clean=clean_folder(root))
    yaw = torch.tensor([[0.0, 1.0, 2.0, 40.0]]).repeat(8, 1).reshape(-1)  # sample 3 of every person is far off
    pose = torch.stack([yaw, torch.zeros_like(yaw), torch.zeros_like(yaw)], 1)  # (32, 3) in bank order
    with pytest.raises(ValueError, match="pose_curriculum needs every training capture's pose"):
        PKJointBatches(bank, p=2, k=2, curriculum=(3, 0.4))
    bank = dataclasses.replace(bank, pose=pose, has_geometry=torch.ones(32, dtype=torch.bool))
    far = {i for i, n in enumerate(bank.names) if n.endswith("_3.png")}

    def drawn(batches: PKJointBatches, epoch: int) -> set[int]:
        sampler, members = batches.epoch_members(epoch)
        sampler.set_epoch(epoch)
        return {members[i] for b in sampler for i in b}

    batches = PKJointBatches(bank, p=2, k=2, num_batches=40, curriculum=(3, 0.4))
    assert not drawn(batches, 0) & far and not drawn(batches, 2) & far  # level 0.4, 0.8: the far yaw (0.81+) waits
    assert drawn(batches, 3) & far  # the curriculum is over: every capture
    first = next(iter(batches.epoch_batches(0)))
    assert first["thz"].shape == (4, 1, 16, 16)
    plain = PKJointBatches(bank, p=2, k=2, num_batches=40)
    assert drawn(plain, 0) & far
