"""Distillation losses: feature MSE, logit KL with T^2 scaling and sample weights, relation matching."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from thzface.losses import feature_distillation, logit_distillation, relation_distillation

KL_HALF_VS_3_1 = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)  # KL([.5,.5] || [.75,.25])


def test_logit_distillation_zero_for_equal_logits() -> None:
    s = torch.randn(4, 5)
    assert float(logit_distillation(s, s.clone())) == pytest.approx(0.0, abs=1e-6)


def test_logit_distillation_golden_and_t_squared_scaling() -> None:
    teacher = torch.zeros(1, 2, dtype=torch.float64)  # softmax → [0.5, 0.5]
    s1 = torch.tensor([[math.log(3.0), 0.0]], dtype=torch.float64)  # softmax(s / 1) → [0.75, 0.25]
    assert float(logit_distillation(s1, teacher, T=1.0)) == pytest.approx(KL_HALF_VS_3_1)
    # same distributions at T = 2 (logits doubled): the loss is T^2 = 4 times the KL
    assert float(logit_distillation(2 * s1, teacher, T=2.0)) == pytest.approx(4 * KL_HALF_VS_3_1)


def test_logit_distillation_matches_independent_kl() -> None:
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    p_t, p_s = F.softmax(t / 3.0, dim=1), F.softmax(s / 3.0, dim=1)
    kl = (p_t * (p_t.log() - p_s.log())).sum(dim=1).mean()
    assert float(logit_distillation(s, t, T=3.0)) == pytest.approx(9.0 * float(kl))


def test_logit_distillation_skips_samples_without_teacher() -> None:
    g = torch.Generator().manual_seed(1)
    s = torch.randn(4, 3, generator=g, requires_grad=True)
    t = torch.randn(4, 3, generator=g)
    t_missing = t.clone()
    t_missing[[1, 3]] = float("nan")  # no teacher for samples 1 and 3
    mask = torch.tensor([True, False, True, False])
    loss = logit_distillation(s, t_missing, weight=mask)
    assert loss.item() == pytest.approx(logit_distillation(s[[0, 2]], t[[0, 2]]).item(), rel=1e-6)
    loss.backward()
    assert torch.isfinite(s.grad).all()
    assert torch.equal(s.grad[[1, 3]], torch.zeros(2, 3))
    none = logit_distillation(s, t_missing, weight=torch.zeros(4))
    assert none.item() == 0.0 and none.requires_grad


def test_logit_distillation_float_weights() -> None:
    g = torch.Generator().manual_seed(2)
    s, t = torch.randn(2, 3, generator=g, dtype=torch.float64), torch.randn(2, 3, generator=g, dtype=torch.float64)
    per = torch.stack([logit_distillation(s[i : i + 1], t[i : i + 1]) for i in range(2)])
    weighted = logit_distillation(s, t, weight=torch.tensor([3.0, 1.0]))
    assert float(weighted) == pytest.approx(float((3 * per[0] + per[1]) / 4))


def test_teacher_detached_by_default() -> None:
    s, t = torch.randn(3, 4, requires_grad=True), torch.randn(3, 4, requires_grad=True)
    feature_distillation(s, t).backward()
    assert t.grad is None and s.grad is not None
    logit_distillation(s, t, detach_teacher=False).backward()
    assert t.grad is not None


def test_feature_distillation_golden_and_weight() -> None:
    s = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    t = torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    assert float(feature_distillation(s, t)) == pytest.approx((1.0 + 4.0) / 2)
    assert float(feature_distillation(s, t, weight=torch.tensor([1.0, 0.0]))) == pytest.approx(1.0)
    maps = torch.ones(2, 3, 4, 4)
    assert float(feature_distillation(maps, maps * 0.5)) == pytest.approx(0.25)


def test_relation_distillation_golden() -> None:
    s = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # cos 1
    t = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # cos 0, different width is fine
    assert float(relation_distillation(s, t)) == pytest.approx(1.0)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(5, 4, generator=g, dtype=torch.float64)
    rot, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    assert float(relation_distillation(3.0 * x @ rot, x)) == pytest.approx(0.0, abs=1e-12)


def test_errors() -> None:
    s = torch.randn(3, 4)
    with pytest.raises(ValueError, match=r"logit_distillation: student_logits and teacher_logits shapes differ"):
        logit_distillation(s, s[:, :3])
    with pytest.raises(ValueError, match="logit_distillation: T must be finite and > 0"):
        logit_distillation(s, s, T=0.0)
    with pytest.raises(ValueError, match=r"logit_distillation: weight must be a tensor of shape \(3,\), got \(2,\)"):
        logit_distillation(s, s, weight=torch.ones(2))
    with pytest.raises(ValueError, match="feature_distillation: weight must be finite and >= 0"):
        feature_distillation(s, s, weight=torch.tensor([1.0, -1.0, 0.0]))
    with pytest.raises(ValueError, match="relation_distillation: s_emb and t_emb need the same N >= 2"):
        relation_distillation(s, s[:2])
