"""Margin-softmax heads: hand-computed 2-class logits, AdaFace statistics, gradients, the combined builder."""

from __future__ import annotations

import math

import pytest
import torch

from thzface.losses.margin import (
    MarginHead,
    adaface_logits,
    adaface_scaler,
    arcface_logits,
    build_identity_loss,
    cosface_logits,
    cosine_logits,
    update_norm_stats,
)

W = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # two classes along the axes
E60 = torch.tensor([[0.5, math.sqrt(3) / 2]])  # 60° from class 0, 30° from class 1
LABEL0 = torch.tensor([0])


def test_cosine_logits_normalise_both_sides() -> None:
    cos = cosine_logits(3.0 * E60, 2.0 * W)
    assert torch.allclose(cos, torch.tensor([[0.5, math.sqrt(3) / 2]]))


def test_cosface_two_classes() -> None:
    out = cosface_logits(torch.tensor([[0.5, 0.866]]), LABEL0, s=10.0, m=0.2)
    assert torch.allclose(out, torch.tensor([[3.0, 8.66]]))  # 10·(0.5 − 0.2), 10·0.866


def test_arcface_two_classes_and_fallbacks() -> None:
    cos = torch.tensor([[0.5, 0.866]])
    out = arcface_logits(cos, LABEL0, s=10.0, m=0.5)
    assert torch.allclose(out, torch.tensor([[10 * math.cos(math.pi / 3 + 0.5), 8.66]]), atol=1e-5)  # 0.2359
    assert abs(float(out[0, 0]) - 0.23588) < 1e-4
    far = torch.tensor([[-0.95, 0.3]])  # θ + m would pass π: cos(π − 0.5) = −0.8776 > −0.95
    out = arcface_logits(far, LABEL0, s=1.0, m=0.5)
    assert torch.allclose(out, torch.tensor([[-0.95 - 0.5 * math.sin(0.5), 0.3]]))  # −1.1897
    assert torch.allclose(arcface_logits(far, LABEL0, 1.0, 0.5, easy_margin=True), far)  # cos <= 0: no margin
    near = arcface_logits(torch.tensor([[0.5, 0.1]]), LABEL0, 1.0, 0.5, easy_margin=True)
    assert abs(float(near[0, 0]) - math.cos(math.pi / 3 + 0.5)) < 1e-6


def test_adaface_scaler_logits_and_ema() -> None:
    g = adaface_scaler(torch.tensor([30.0, 20.0, 5.0, 1000.0]), mean=20.0, std=10.0, h=0.333)
    assert torch.allclose(g, torch.tensor([0.333 * 10 / 10.001, 0.0, -0.333 * 15 / 10.001, 1.0]))  # 1000 → 100
    cos = torch.tensor([[0.5, 0.866]])
    out = adaface_logits(cos, LABEL0, g[:1], s=10.0, m=0.4)
    g0 = 0.333 * 10 / 10.001
    want = 10 * (math.cos(math.pi / 3 - 0.4 * g0) - (0.4 + 0.4 * g0))
    assert torch.allclose(out, torch.tensor([[want, 8.66]]), atol=1e-4)
    plain = adaface_logits(cos, LABEL0, torch.zeros(1), s=10.0, m=0.4)  # ĝ = 0: CosFace with m
    assert torch.allclose(plain, cosface_logits(cos, LABEL0, 10.0, 0.4), atol=1e-5)
    mean, std = update_norm_stats(torch.tensor([1.0, 3.0]), 20.0, 100.0, t_alpha=0.01)
    assert mean == pytest.approx(0.01 * 2 + 0.99 * 20) and std == pytest.approx(0.01 * math.sqrt(2) + 99.0)
    assert update_norm_stats(torch.tensor([4.0]), 20.0, 100.0)[1] == 100.0  # one sample: std kept


def test_adaface_head_updates_statistics_only_in_training() -> None:
    head = MarginHead(3, 4, "adaface")
    emb, lab = torch.randn(6, 4) * 5, torch.tensor([0, 1, 2, 0, 1, 2])
    head(emb, lab)
    assert head.norm_stats.tolist() != [20.0, 100.0]
    before = head.norm_stats.tolist()
    head.eval()
    head(emb, lab)
    assert head.norm_stats.tolist() == before


def test_margin_lowers_the_target_logit_and_raises_the_loss() -> None:
    torch.manual_seed(0)
    emb, lab = torch.randn(8, 4), torch.randint(0, 3, (8,))
    for kind in ("cosface", "arcface", "adaface"):
        head = MarginHead(3, 4, kind, s=8.0)
        no_margin = MarginHead(3, 4, kind, s=8.0, m=0.0)
        no_margin.weight.data.copy_(head.weight.data)
        with torch.no_grad():
            assert float(head(emb * 30, lab)) > float(no_margin(emb * 30, lab)), kind


@pytest.mark.parametrize("kind", ["cosface", "arcface", "adaface"])
def test_gradients_reach_embeddings_and_class_weights(kind: str) -> None:
    torch.manual_seed(0)
    emb = (torch.randn(6, 5) * 10).requires_grad_()
    head = MarginHead(3, 5, kind, s=16.0)
    head(emb, torch.tensor([0, 1, 2, 0, 1, 2])).backward()
    for name, t in (("embeddings", emb), ("weight", head.weight)):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0, name


def test_builder_combines_supcon_and_a_margin_head() -> None:
    torch.manual_seed(0)
    loss = build_identity_loss({"supcon": 1.0, "arcface": 0.5, "cosface": 0.0}, num_classes=3, embedding_dim=4)
    assert set(loss.heads) == {"arcface"}  # weight 0: not built
    emb, lab = torch.randn(6, 4, requires_grad=True), torch.tensor([0, 0, 1, 1, 2, 2])
    out = loss(emb, lab)
    assert set(out) == {"loss", "supcon", "arcface"}
    assert torch.allclose(out["loss"], out["supcon"] + 0.5 * out["arcface"])
    out["loss"].backward()
    assert emb.grad is not None and loss.heads["arcface"].weight.grad is not None
    with pytest.raises(ValueError, match=r"unknown kinds \['sphereface'\]"):
        build_identity_loss({"sphereface": 1.0})
    with pytest.raises(ValueError, match="no positive weight"):
        build_identity_loss({"supcon": 0.0})
    with pytest.raises(ValueError, match="num_classes=0 must be >= 2"):
        build_identity_loss({"cosface": 1.0})
    with pytest.raises(ValueError, match=r"labels must be class ids in \[0, 2\)"):
        cosface_logits(torch.zeros(1, 2), torch.tensor([2]), 1.0, 0.1)
