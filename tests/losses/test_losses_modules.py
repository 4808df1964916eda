"""The nn.Module wrappers return exactly what their pure functions return."""

from __future__ import annotations

import torch

from thzface.losses import (
    LogitDistillationLoss,
    MaskedL1Loss,
    ReconstructionLoss,
    SSIMLoss,
    SupConLoss,
    logit_distillation,
    masked_l1,
    reconstruction_loss,
    ssim_loss,
    supcon,
)


def test_wrappers_agree_with_functions() -> None:
    g = torch.Generator().manual_seed(0)
    p, t = torch.rand(2, 1, 16, 16, generator=g), torch.rand(2, 1, 16, 16, generator=g)
    mask = (torch.rand(2, 1, 16, 16, generator=g) > 0.5).float()
    emb, labels = torch.randn(6, 4, generator=g), torch.tensor([0, 0, 1, 1, 2, 2])
    s, te = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    w = torch.tensor([1.0, 0.0, 1.0])
    pairs = [
        (SupConLoss(0.2)(emb, labels), supcon(emb, labels, 0.2)),
        (SSIMLoss(7, 1.0)(p, t), ssim_loss(p, t, 7, 1.0)),
        (ReconstructionLoss(0.5, 0.3, 0.1)(p, t), reconstruction_loss(p, t, 0.5, 0.3, 0.1)),
        (MaskedL1Loss(2.0, 3.0)(p, t, mask), masked_l1(p, t, mask, 2.0, 3.0)),
        (LogitDistillationLoss(2.0)(s, te, w), logit_distillation(s, te, 2.0, w)),
    ]
    for module_value, function_value in pairs:
        assert torch.equal(module_value, function_value)
    assert float(SSIMLoss(7, 1.0)(p, t)) != float(SSIMLoss()(p, t))  # the held hyperparameters are used
