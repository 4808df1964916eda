"""Metric-learning losses on embeddings: supervised contrastive, triplet (given / batch-hard), identity.

Labels are **identity** ids: samples of the same identity are positives of one another, wherever they sit in
the batch (the seed system labelled each triplet by its index, so same-identity samples counted as negatives).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from thzface.losses.reduce import check_labels, check_pair
from thzface.metrics.checks import check_float_tensor, check_positive

DISTANCES = ("euclidean", "cosine")


def supcon(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, L_out) with identity labels; scalar.

    For anchor i with positives P(i) (same label, j != i):
    L_i = -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p / T) / sum_{a != i} exp(z_i.z_a / T) ),
    averaged over anchors that have at least one positive. Rows are L2-normalised here (a no-op for normalised
    input). With no anchor having a positive the loss is 0, still attached to the graph. Computed in float32, also
    inside a mixed-precision (autocast) region.
    """
    where = "supcon"
    check_float_tensor(embeddings, where, "embeddings", ndim=2)
    n = embeddings.shape[0]
    check_labels(labels, n, where)
    temperature = check_positive(temperature, where, "temperature")
    if n < 2:
        return embeddings.sum() * 0.0
    half = embeddings.dtype in (torch.float16, torch.bfloat16)
    z = F.normalize(embeddings.float() if half else embeddings, dim=1)  # (N, D); float64 stays float64
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)  # (N, N)
    with torch.autocast(z.device.type, enabled=False):  # similarities / T in float32 under mixed precision
        logits = (z @ z.T / temperature).masked_fill(self_mask, float("-inf"))  # (N, N)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # (N, N)
    labels = labels.to(z.device)
    pos = (labels[:, None] == labels[None, :]) & ~self_mask  # (N, N)
    n_pos = pos.sum(dim=1)  # (N,)
    per_anchor = -log_prob.masked_fill(~pos, 0.0).sum(dim=1) / n_pos.clamp_min(1)  # (N,)
    valid = (n_pos > 0).to(per_anchor.dtype)  # (N,)
    return (per_anchor * valid).sum() / valid.sum().clamp_min(1.0)


def supcon_uniform(n: int) -> float:
    """:func:`supcon` of a batch of ``n`` whose similarities are all equal (an embedding that has learnt nothing):
    every positive gets probability 1/(n−1), so the loss is log(n − 1). The value to read the training loss against."""
    if n < 2:
        raise ValueError(f"supcon_uniform: n={n} needs at least 2 samples")
    return math.log(n - 1)


def _rowwise_distance(a: torch.Tensor, b: torch.Tensor, distance: str) -> torch.Tensor:
    """Distance between matching rows of (N, D) tensors → (N,)."""
    if distance == "euclidean":
        return ((a - b) ** 2).sum(dim=1).clamp_min(1e-12).sqrt()  # (N,)
    return 1.0 - F.cosine_similarity(a, b, dim=1)  # (N,)


def _pairwise_distance(x: torch.Tensor, distance: str) -> torch.Tensor:
    """All-pairs distance of (N, D) rows → (N, N); finite gradients even at zero distance."""
    if distance == "euclidean":
        sq = (x * x).sum(dim=1)  # (N,)
        return (sq[:, None] + sq[None, :] - 2.0 * x @ x.T).clamp_min(1e-12).sqrt()  # (N, N)
    z = F.normalize(x, dim=1)  # (N, D)
    return 1.0 - z @ z.T  # (N, N)


def _check_distance(distance: str, where: str) -> None:
    if distance not in DISTANCES:
        raise ValueError(f"{where}: distance must be one of {DISTANCES}, got {distance!r}")


def triplet_margin(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    margin: float,
    distance: str = "euclidean",
) -> torch.Tensor:
    """Mean over triplets of max(0, d(a, p) - d(a, n) + margin); scalar.

    ``distance``: "euclidean" (L2, not squared) or "cosine" (1 - cosine similarity). Inputs (N, D).
    """
    where = "triplet_margin"
    check_pair(anchor, positive, where, ("anchor", "positive"), ndim=2)
    check_pair(anchor, negative, where, ("anchor", "negative"), ndim=2)
    margin = check_positive(margin, where, "margin", allow_zero=True)
    _check_distance(distance, where)
    d_ap = _rowwise_distance(anchor, positive, distance)  # (N,)
    d_an = _rowwise_distance(anchor, negative, distance)  # (N,)
    return F.relu(d_ap - d_an + margin).mean()


def batch_hard_triplet(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float, distance: str = "euclidean"
) -> torch.Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017); scalar.

    Each anchor is paired with its farthest positive (same label, not itself) and its closest negative; the
    loss is the mean of max(0, d_hard_pos - d_hard_neg + margin) over anchors that have both. With no such
    anchor it is 0, still attached to the graph. Use with an identity-balanced P x K batch.
    """
    where = "batch_hard_triplet"
    check_float_tensor(embeddings, where, "embeddings", ndim=2)
    n = embeddings.shape[0]
    check_labels(labels, n, where)
    margin = check_positive(margin, where, "margin", allow_zero=True)
    _check_distance(distance, where)
    d = _pairwise_distance(embeddings, distance)  # (N, N)
    labels = labels.to(d.device)
    same = labels[:, None] == labels[None, :]  # (N, N)
    pos_mask = same & ~torch.eye(n, dtype=torch.bool, device=d.device)  # (N, N)
    neg_mask = ~same  # (N, N)
    hard_pos = d.masked_fill(~pos_mask, float("-inf")).max(dim=1).values  # (N,)
    hard_neg = d.masked_fill(~neg_mask, float("inf")).min(dim=1).values  # (N,)
    valid = (pos_mask.any(dim=1) & neg_mask.any(dim=1)).to(d.dtype)  # (N,)
    per_anchor = F.relu(hard_pos - hard_neg + margin)  # (N,) 0 for invalid anchors (-inf inside)
    return (per_anchor * valid).sum() / valid.sum().clamp_min(1.0)


def identity_loss(emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
    """Mean of 1 - cosine similarity between matching rows of two (N, D) embeddings; scalar in [0, 2]."""
    check_pair(emb_a, emb_b, "identity_loss", ("emb_a", "emb_b"), ndim=2)
    return (1.0 - F.cosine_similarity(emb_a, emb_b, dim=1)).mean()
