"""The training-only frontal-face head (``loss.w_frontal``): each person's target is their most frontal capture's
clean face, upright and centred; the head trains the embedding and stays out of the deployed weights and the
checkpoints; a folder without clean targets is a one-line error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from thzface.data.captures import CaptureBank
from thzface.engine.train import fit
from thzface.recipes import get_recipe, load_config
from thzface.recipes.mtl.frontal import FrontalHead, frontal_choice, frontal_targets
from thzface.recipes.mtl.task import build_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def hand_bank(inplane: bool) -> CaptureBank:
    """Three people: 0 with captures at yaw 20 and 5 (and a closer one without a clean target), 1 with one at
    pitch -10 (roll 90 and a shift when ``inplane``), 2 with no clean target at all."""
    n, s = 5, 8
    clean = torch.zeros(n, 1, s, s, dtype=torch.uint8)
    clean[:, :, 2, 1] = torch.arange(1, n + 1, dtype=torch.uint8)[:, None] * 40  # one bright pixel, its index
    pose = torch.tensor(
        [[20.0, 0, 0, 0, 0], [5.0, 0, 0, 0, 0], [0.0, 0, 0, 0, 0], [0.0, -10, 90, 0, 0], [0.0, 0, 0, 0, 0]]
    )
    extra = {}
    if inplane:
        ip = torch.zeros(n, 3)
        ip[3] = torch.tensor([90.0, 0.0, 0.0])
        extra = {"inplane": ip, "inplane_open": ip.clone(), "has_inplane": torch.ones(n, dtype=torch.bool)}
    return CaptureBank(
        names=tuple(f"p{i}" for i in range(n)),
        thz=clean.clone(),
        target=clean.clone(),
        clean=clean,
        has_clean=torch.tensor([True, True, False, True, False]),
        region=None,
        identity=torch.tensor([0, 0, 0, 1, 2]),
        posture=torch.zeros(n, dtype=torch.long),
        classes=("a", "b", "c"),
        shape=torch.zeros(n, 4),
        pose=pose,
        has_geometry=torch.ones(n, dtype=torch.bool),
        **extra,
    )


def test_the_most_frontal_capture_with_a_clean_target_is_chosen() -> None:
    assert frontal_choice(hand_bank(inplane=False)).tolist() == [1, 3, -1]  # yaw 5 beats 20; 2 has no clean
    assert frontal_choice(hand_bank(inplane=True)).tolist() == [1, 3, -1]


def test_targets_are_the_chosen_clean_faces_with_roll_undone() -> None:
    t, has = frontal_targets(hand_bank(inplane=False), 8)
    assert has.tolist() == [True, True, False]
    assert float(t[0, 0, 2, 1]) == pytest.approx(80 / 255) and float(t[0].sum()) == pytest.approx(80 / 255)
    assert float(t[2].abs().sum()) == 0.0
    rolled, _ = frontal_targets(hand_bank(inplane=True), 8)
    assert float(rolled[1, 0, 2, 1]) < float(t[1, 0, 2, 1])  # the 90° roll moved the bright pixel away
    assert float(rolled[1].max()) == pytest.approx(160 / 255, abs=1e-6)  # a quarter turn: an exact resample
    small, _ = frontal_targets(hand_bank(inplane=False), 4)
    assert small.shape == (3, 1, 4, 4) and float(small[0, 0, 1, 0]) == pytest.approx(80 / 255 / 4)  # 2x2 area mean


def tiny(repo: Path, *overrides: str):
    return load_config(repo / "configs" / "mtl-tiny.yaml", list(overrides))


def test_the_head_trains_the_embedding_and_stays_out_of_saved_weights(
    repo: Path, tiny_data: Path, mtl_fit_task
) -> None:
    task, dm = mtl_fit_task(tiny(repo, "loss.w_frontal=1.0", "loss.frontal_size=16"), tiny_data)
    assert isinstance(task.frontal, FrontalHead) and bool(task.frontal.has.all())
    batch = next(iter(dm.train_dataloader()))
    terms = task.compute_losses(batch)
    assert "frontal" in terms and torch.isfinite(terms["loss"])
    terms["frontal"].backward()
    assert all(p.grad is not None for p in task.frontal.parameters())
    assert float(task.model.encoder.stem[0].weight.grad.abs().sum()) > 0  # through the embedding into the trunk
    assert not any("frontal" in k for k in task.deployable_state_dict())
    assert not any("targets" in k for k in task.state_dict())  # checkpoints: the head's weights, not its targets
    off = build_task(tiny(repo))
    off.build_identity_loss(len(dm.classes))
    assert "frontal" not in off.compute_losses(batch)


def test_a_folder_without_clean_targets_is_a_one_line_error(repo: Path, tiny_data: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(tiny_data, bare, ignore=shutil.ignore_patterns("clean"))
    with pytest.raises(ValueError, match="loss.w_frontal needs joint batches over a simulated folder with clean/"):
        fit(get_recipe("mtl"), tiny(repo, "loss.w_frontal=1.0", "train.max_steps=1"), bare, tmp_path / "run")
