"""A training-only head that paints the person's *frontal* clean face from the embedding (``loss.w_frontal``).

Why: the shape head asks the embedding for 29 shape coefficients, many of them of the skull's back and sides that a
scan does not show (it explains ≈ 14 % of their variance, docs/benchmarks.md, fourteenth session). The person's
frontal clean face — the simulator's noise-free, unconcealed render, head upright and centred — is what every
capture of the person shares whatever its posture, and it is visible: with the pose held fixed, raw pixels of clean
renders identify every person (#24's probe). So a head that must draw it from the embedding asks the embedding to
keep the person's appearance and to drop the pose, the same target for every capture (pose-invariant by
construction, as the shape target is).

The target of a person is built once from the training bank: of their captures with a clean target and a pose,
the one whose yaw and pitch are nearest zero (all five pose terms in units of
:data:`thzface.losses.geometry.POSE_SCALE` when the bank has no in-plane poses), its clean target warped to undo the
capture's roll and placement (:func:`thzface.models.align.warp_inplane`), area-resized to ``size``. Training only:
the head and its targets are never in the deployed weights (``deployable_state_dict`` is the model's), and the
targets are not saved in checkpoints (rebuilt from the data at ``setup``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from thzface.data.captures import CaptureBank
from thzface.losses.geometry import POSE_SCALE
from thzface.models.align import warp_inplane


def frontal_choice(bank: CaptureBank) -> torch.Tensor:
    """(C,) int64: the bank index of each identity class's most frontal capture with a clean target and a pose
    (-1 where the class has none)."""
    if bank.clean is None or bank.pose is None or bank.has_geometry is None:
        raise ValueError("frontal targets need a bank with clean targets and poses (a simulated folder)")
    terms = 2 if bank.inplane is not None else len(POSE_SCALE)  # roll and placement are undone by the warp
    scale = torch.tensor(POSE_SCALE[:terms])  # (T,)
    cost = ((bank.pose[:, :terms] / scale) ** 2).sum(1)  # (N,)
    usable = bank.has_clean & bank.has_geometry  # (N,)
    if bank.has_inplane is not None and terms == 2:
        usable = usable & bank.has_inplane
    cost = torch.where(usable, cost, torch.full_like(cost, float("inf")))  # (N,)
    n_cls = len(bank.classes)
    best = torch.full((n_cls,), float("inf")).scatter_reduce(0, bank.identity, cost, "amin")  # (C,)
    hit = (cost == best[bank.identity]) & torch.isfinite(cost)  # (N,) the minimum of its class
    n = len(bank.identity)
    idx = torch.nonzero(hit).flatten()  # (M,)
    first = torch.full((n_cls,), n, dtype=torch.long).scatter_reduce(0, bank.identity[idx], idx, "amin")  # (C,)
    return torch.where(first < n, first, torch.full_like(first, -1))  # a tie: the first capture in bank order


def frontal_targets(bank: CaptureBank, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each identity class's frontal clean face (C, 1, size, size) float32 in [0, 1] (zeros where none) and
    ``has`` (C,) bool (:func:`frontal_choice`; the module docstring)."""
    choice = frontal_choice(bank)  # (C,)
    has = choice >= 0  # (C,)
    assert bank.clean is not None
    img = bank.clean[choice.clamp_min(0)].float() / 255.0  # (C, 1, S, S)
    if bank.inplane is not None:
        img = warp_inplane(img, bank.inplane[choice.clamp_min(0)])  # (C, 1, S, S) upright and centred
    if img.shape[-1] != size:
        img = F.interpolate(img, size=(size, size), mode="area")  # (C, 1, s, s)
    return img * has.view(-1, 1, 1, 1), has


class FrontalHead(nn.Module):
    """Embedding (B, D) → the person's frontal clean face (B, 1, size, size): a linear map to 64 × (size/8)², three
    ×2 bilinear-upsample conv3×3-BN-ReLU stages (64 → 32 → 16 → 16), a 1×1 conv and a sigmoid. Holds the targets
    of the training classes as non-persistent buffers (not in checkpoints)."""

    def __init__(self, embed_dim: int, targets: torch.Tensor, has: torch.Tensor) -> None:
        super().__init__()
        size = int(targets.shape[-1])
        if size % 8 or size < 8:
            raise ValueError(f"loss.frontal_size={size}: must be a positive multiple of 8")
        self.start = size // 8
        self.fc = nn.Linear(embed_dim, 64 * self.start * self.start)
        layers: list[nn.Module] = []
        for a, b in ((64, 32), (32, 16), (16, 16)):
            layers += [
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(a, b, 3, padding=1, bias=False),
                nn.BatchNorm2d(b),
                nn.ReLU(inplace=True),
            ]
        self.up = nn.Sequential(*layers, nn.Conv2d(16, 1, 1), nn.Sigmoid())
        self.register_buffer("targets", targets.float(), persistent=False)  # (C, 1, s, s)
        self.register_buffer("has", has.bool(), persistent=False)  # (C,)

    @classmethod
    def from_bank(cls, bank: CaptureBank | None, embed_dim: int, size: int) -> FrontalHead:
        """The head of the training bank's people; a bank without clean targets and poses for anyone (real data,
        triplet rows: ``None``) is a one-line ValueError."""
        need = ValueError(
            "loss.w_frontal needs joint batches over a simulated folder with clean/, identities.json and poses.npz "
            "(thzface synth writes them)"
        )
        if bank is None or bank.clean is None or bank.has_geometry is None:
            raise need
        targets, has = frontal_targets(bank, size)
        if not bool(has.any()):
            raise need
        return cls(embed_dim, targets, has)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        z = self.fc(emb).view(-1, 64, self.start, self.start)  # (B, 64, s/8, s/8)
        return self.up(z)  # (B, 1, s, s)

    def painted(self, emb: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(painted face, target), each (B', 1, s, s), of the rows whose person has a target and whose capture is
        not mirrored (``has_geometry``); None when no row has (the task scores them with its reconstruction loss)."""
        ids = batch["identity"]  # (B,)
        rows = self.get_buffer("has")[ids] & batch["has_geometry"]  # (B,)
        if not bool(rows.any()):
            return None
        return self(emb[rows]).float(), self.get_buffer("targets")[ids[rows]]  # (B', 1, s, s) each
