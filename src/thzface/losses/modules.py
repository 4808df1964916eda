"""Thin nn.Module wrappers that hold a loss function's hyperparameters and call it.

For nn.ModuleDict objectives and configs; each ``forward`` calls the function of the same name and nothing else.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from thzface.losses.distillation import logit_distillation
from thzface.losses.embedding import supcon
from thzface.losses.reconstruction import masked_l1, reconstruction_loss, ssim_loss
from thzface.metrics.ssim import SSIM_SIGMA, SSIM_WINDOW


class SupConLoss(nn.Module):
    """:func:`thzface.losses.supcon` with a fixed temperature."""

    def __init__(self, temperature: float = 0.07) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return supcon(embeddings, labels, self.temperature)


class SSIMLoss(nn.Module):
    """:func:`thzface.losses.ssim_loss` (1 - SSIM) with a fixed window."""

    def __init__(self, window: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, data_range: float = 1.0) -> None:
        super().__init__()
        self.window, self.sigma, self.data_range = window, sigma, data_range

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ssim_loss(pred, target, self.window, self.sigma, self.data_range)


class ReconstructionLoss(nn.Module):
    """:func:`thzface.losses.reconstruction_loss` with fixed term weights."""

    def __init__(self, w_charb: float = 1.0, w_ssim: float = 0.8, w_grad: float = 0.2) -> None:
        super().__init__()
        self.w_charb, self.w_ssim, self.w_grad = w_charb, w_ssim, w_grad

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return reconstruction_loss(pred, target, self.w_charb, self.w_ssim, self.w_grad)


class MaskedL1Loss(nn.Module):
    """:func:`thzface.losses.masked_l1` with fixed known / hole weights."""

    def __init__(self, w_known: float = 1.0, w_hole: float = 6.0) -> None:
        super().__init__()
        self.w_known, self.w_hole = w_known, w_hole

    def forward(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_l1(pred, target, mask, self.w_known, self.w_hole)


class LogitDistillationLoss(nn.Module):
    """:func:`thzface.losses.logit_distillation` with a fixed temperature."""

    def __init__(self, T: float = 3.0) -> None:
        super().__init__()
        self.T = T

    def forward(
        self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        return logit_distillation(student_logits, teacher_logits, self.T, weight)
