"""Embedding losses: SupCon (identity labels), triplet, batch-hard triplet, identity loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from thzface.losses import batch_hard_triplet, identity_loss, supcon, supcon_uniform, triplet_margin


def _naive_supcon(z: torch.Tensor, labels: list[int], t: float) -> float:
    """Khosla L_out by explicit loops (float64)."""
    z = F.normalize(z.double(), dim=1)
    total, count = 0.0, 0
    for i in range(len(z)):
        positives = [p for p in range(len(z)) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        denom = sum(math.exp(float(z[i] @ z[a]) / t) for a in range(len(z)) if a != i)
        total += -sum(math.log(math.exp(float(z[i] @ z[p]) / t) / denom) for p in positives) / len(positives)
        count += 1
    return total / count


def test_supcon_golden() -> None:
    # e0 = e1 = [1, 0] (identity 0), e2 = [0, 1] (identity 1, no positive → excluded)
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1])
    assert float(supcon(z, labels, temperature=1.0)) == pytest.approx(math.log(1 + math.e) - 1)
    assert float(supcon(z, labels, temperature=0.5)) == pytest.approx(math.log(1 + math.e**2) - 2)


def test_supcon_matches_naive_loops() -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(10, 6, generator=g, dtype=torch.float64)
    labels = [0, 1, 2, 0, 1, 3, 0, 2, 4, 1]  # identities 3 and 4 have no positive
    assert float(supcon(z, torch.tensor(labels), 0.07)) == pytest.approx(_naive_supcon(z, labels, 0.07), rel=1e-9)


def test_supcon_same_identity_is_not_a_negative() -> None:
    # identity labels: a same-identity copy elsewhere in the batch pulls the anchor; triplet-index labels would push
    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    identity = supcon(z, torch.tensor([0, 0, 1, 1]), 0.1)
    index_labels = supcon(z, torch.tensor([0, 1, 2, 3]), 0.1)  # no positives at all
    assert float(identity) < 0.1 and float(index_labels) == 0.0


def test_supcon_decreases_as_same_identity_moves_together() -> None:
    g = torch.Generator().manual_seed(1)
    z = torch.randn(8, 4, generator=g)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    centres = torch.stack([z[labels == k].mean(0) for k in range(4)])[labels]  # (8, 4)
    losses = [float(supcon((1 - a) * z + a * centres, labels)) for a in (0.0, 0.3, 0.6, 0.9)]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))


def test_supcon_no_positive_is_zero_with_grad() -> None:
    z = torch.randn(4, 3, requires_grad=True)
    loss = supcon(z, torch.arange(4))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))
    one = torch.randn(1, 3, requires_grad=True)
    supcon(one, torch.tensor([0])).backward()
    assert torch.isfinite(one.grad).all()


def test_supcon_gradcheck() -> None:
    z = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2])
    assert torch.autograd.gradcheck(lambda x: supcon(x, labels, 0.5), (z,))


def test_triplet_margin_golden() -> None:
    a, p, n = torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0, 0.0]])
    assert float(triplet_margin(a, p, n, margin=1.0)) == pytest.approx(5.0)  # 5 - 1 + 1
    assert float(triplet_margin(a, n, p, margin=1.0)) == 0.0  # 1 - 5 + 1 < 0
    a, p, n = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]]), torch.tensor([[3.0, 0.0]])
    assert float(triplet_margin(a, p, n, margin=0.5, distance="cosine")) == pytest.approx(1.5)


def test_triplet_margin_finite_grad_at_zero_distance() -> None:
    a = torch.ones(2, 3, requires_grad=True)
    triplet_margin(a, a.detach().clone(), torch.zeros(2, 3), margin=5.0).backward()
    assert torch.isfinite(a.grad).all()


def test_batch_hard_golden() -> None:
    # 1-D points 0, 1 (id 0) and 3, 6 (id 1), margin 3:
    # anchor 0: 1 - 3 + 3 = 1; anchor 1: 1 - 2 + 3 = 2; anchor 3: 3 - 2 + 3 = 4; anchor 6: 3 - 5 + 3 = 1
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0]], requires_grad=True)
    loss = batch_hard_triplet(x, torch.tensor([0, 0, 1, 1]), margin=3.0)
    assert loss.item() == pytest.approx(2.0, abs=1e-5)
    loss.backward()
    assert torch.isfinite(x.grad).all()


def test_batch_hard_skips_anchors_without_positive_or_negative() -> None:
    x = torch.tensor([[0.0], [1.0], [3.0]])
    # anchor 3 (id 1) has no positive: mean over anchors 0, 1 only: (1 - 3 + 3, 1 - 2 + 3) / 2
    assert float(batch_hard_triplet(x, torch.tensor([0, 0, 1]), 3.0)) == pytest.approx(1.5, abs=1e-5)
    z = torch.randn(3, 2, requires_grad=True)
    loss = batch_hard_triplet(z, torch.tensor([0, 0, 0]), 1.0)  # no negatives at all
    assert loss.item() == 0.0 and loss.requires_grad


def test_identity_loss_golden() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    b = torch.tensor([[3.0, 0.0], [-1.0, 0.0], [0.0, 5.0]])
    assert float(identity_loss(a, b)) == pytest.approx((0 + 2 + 1) / 3)


def test_errors() -> None:
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match=r"supcon: labels must have shape \(4,\), got \(3,\)"):
        supcon(z, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="supcon: labels must be an integer tensor"):
        supcon(z, torch.zeros(4))
    with pytest.raises(ValueError, match="supcon: temperature must be finite and > 0"):
        supcon(z, torch.arange(4), temperature=0.0)
    with pytest.raises(ValueError, match="supcon: embeddings must have 2 dims"):
        supcon(z[0], torch.arange(3))
    with pytest.raises(ValueError, match="triplet_margin: distance must be one of"):
        triplet_margin(z, z, z, 1.0, distance="l1")
    with pytest.raises(ValueError, match=r"triplet_margin: anchor and negative shapes differ: \(4, 3\) vs \(4, 2\)"):
        triplet_margin(z, z, z[:, :2], 1.0)
    with pytest.raises(ValueError, match="batch_hard_triplet: margin must be finite and >= 0"):
        batch_hard_triplet(z, torch.arange(4), -1.0)
    with pytest.raises(ValueError, match="identity_loss: emb_a and emb_b shapes differ"):
        identity_loss(z, z[:2])


def test_supcon_uniform_is_the_loss_of_an_embedding_that_learnt_nothing() -> None:
    assert supcon_uniform(8) == pytest.approx(math.log(7))
    same = torch.ones(8, 4)  # every similarity equal
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    assert float(supcon(same, labels, temperature=0.1)) == pytest.approx(supcon_uniform(8), abs=1e-6)
    with pytest.raises(ValueError, match="n=1"):
        supcon_uniform(1)


def test_supcon_is_float32_under_mixed_precision():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(12, 16, generator=g)
    labels = torch.arange(4).repeat_interleave(3)
    ref = supcon(emb, labels, temperature=0.1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = supcon(emb, labels, temperature=0.1)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, ref, atol=1e-6, rtol=0)
