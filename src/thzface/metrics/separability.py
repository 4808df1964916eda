"""Embedding-space and sample-set statistics: silhouette, sample diversity, Fréchet distance.

``silhouette`` scores how well embeddings cluster by a labelling (use identities for verification quality and
postures to see how much posture leaks into the embedding); ``diversity`` measures how different K samples
drawn for the same input are; ``frechet_distance`` compares two feature distributions as Gaussians.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from thzface.metrics.checks import as_float_tensor, check_mask

_BLOCK = 1024  # rows of the distance matrix held at once by silhouette


def _features(x: Any, where: str, name: str) -> np.ndarray:
    """Array-like or tensor → finite float64 (N, D) numpy array."""
    arr = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1 or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{where}: {name} must be numeric of shape (N, D), got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {name} contains NaN or inf")
    return arr


def silhouette_samples(embeddings: Any, labels: Any, metric: str = "cosine") -> np.ndarray:
    """Silhouette s(i) = (b - a) / max(a, b) of each sample (N,) (Rousseeuw 1987).

    a = mean distance to the other members of i's cluster, b = lowest mean distance to another cluster;
    s(i) = 0 for a sample alone in its cluster. ``metric``: "cosine" (1 - cosine similarity) or "euclidean".
    Needs 2 <= number of clusters <= N - 1. Distances are computed in row blocks (memory O(block * N)).
    """
    where = "silhouette"
    x = _features(embeddings, where, "embeddings")
    labels_arr = np.asarray(labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels)
    if labels_arr.ndim != 1 or len(labels_arr) != len(x):
        raise ValueError(f"{where}: labels must be 1-D of length {len(x)}, got shape {labels_arr.shape}")
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"{where}: metric must be 'cosine' or 'euclidean', got {metric!r}")
    _, inv = np.unique(labels_arr, return_inverse=True)
    k, n = int(inv.max()) + 1, len(x)
    if not 2 <= k <= n - 1:
        raise ValueError(f"{where}: needs 2 <= number of clusters <= N - 1, got {k} clusters for N = {n}")
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ValueError(f"{where}: embeddings contain a zero row (cosine distance undefined)")
        x = x / norms
    sq = np.sum(x * x, axis=1)  # (N,)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), inv] = 1.0  # (N, K)
    sizes = onehot.sum(axis=0)  # (K,)
    sums = np.empty((n, k))  # (N, K) summed distance from each sample to each cluster
    for start in range(0, n, _BLOCK):
        rows = np.arange(start, min(start + _BLOCK, n))
        gram = x[rows] @ x.T  # (B, N)
        if metric == "cosine":
            dist = 1.0 - gram
        else:
            dist = np.sqrt(np.maximum(sq[rows, None] + sq[None, :] - 2.0 * gram, 0.0))
        dist[np.arange(len(rows)), rows] = 0.0  # exact zero self-distance
        sums[rows] = dist @ onehot  # (B, K)
    own = sizes[inv]  # (N,)
    a = np.where(own > 1, sums[np.arange(n), inv] / np.maximum(own - 1, 1), 0.0)  # (N,)
    mean_to = sums / sizes[None, :]  # (N, K)
    mean_to[np.arange(n), inv] = np.inf
    b = mean_to.min(axis=1)  # (N,)
    denom = np.maximum(a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(denom > 0, (b - a) / denom, 0.0)
    return np.where(own > 1, s, 0.0)


def silhouette(embeddings: Any, labels: Any, metric: str = "cosine") -> float:
    """Mean silhouette over all samples (see :func:`silhouette_samples`); in [-1, 1], higher = better
    separated."""
    return float(silhouette_samples(embeddings, labels, metric).mean())


def diversity(samples: Any, mask: Any = None) -> np.ndarray:
    """Mean pairwise L1 distance between K samples of the same input, per input (N,).

    ``samples`` (N, K, C, H, W), K >= 2: K generated outputs for each of N inputs. ``mask`` (N, 1|C, H, W) or
    (N, H, W), 1 where diversity counts (e.g. the hole; known pixels are copied and would dilute it); None
    uses the whole image. Value = mean over pairs k < l of the mask-weighted mean |s_k - s_l|; NaN for an
    empty mask.
    """
    where = "diversity"
    x = as_float_tensor(samples, where, "samples")
    if x.ndim != 5 or x.shape[1] < 2 or min(x.shape) < 1:
        raise ValueError(f"{where}: samples must have shape (N, K, C, H, W) with K >= 2, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{where}: samples contain NaN or inf")
    n, k = x.shape[:2]
    m = check_mask(mask, x[:, 0], where) if mask is not None else x.new_ones((n, 1, *x.shape[3:]))
    ii, jj = torch.triu_indices(k, k, 1)
    diff = (x[:, ii] - x[:, jj]).abs()  # (N, P, C, H, W)
    w = m.unsqueeze(1).expand_as(diff)  # (N, P, C, H, W)
    total = w.flatten(1).sum(dim=1)  # (N,)
    value = (diff * w).flatten(1).sum(dim=1) / total.clamp_min(1e-300)  # (N,)
    return torch.where(total > 0, value, torch.full_like(value, float("nan"))).cpu().numpy()


def frechet_distance(feats_a: Any, feats_b: Any, allow_singular: bool = False) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N_a, D) and (N_b, D).

    FD = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}), covariances with ddof=1 (as in FID). The trace
    of the matrix square root is computed as the sum of sqrt(eigenvalues) of S_a^{1/2} S_b S_a^{1/2}
    (symmetric, so no complex round-off). A covariance from N <= D samples is singular and the estimate is
    dominated by sampling noise: that raises unless ``allow_singular=True``.
    """
    where = "frechet_distance"
    a, b = _features(feats_a, where, "feats_a"), _features(feats_b, where, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{where}: feature dims differ: {a.shape[1]} vs {b.shape[1]}")
    d = a.shape[1]
    for name, f in (("feats_a", a), ("feats_b", b)):
        if len(f) < 2:
            raise ValueError(f"{where}: {name} needs at least 2 samples, got {len(f)}")
        if len(f) <= d and not allow_singular:
            raise ValueError(
                f"{where}: {name} has N={len(f)} <= D={d}, so its covariance is singular; "
                "use more samples, fewer dims, or allow_singular=True"
            )
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))  # (D, D)
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))  # (D, D)
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T  # (D, D) S_a^{1/2}
    inner = root_a @ cov_b @ root_a  # (D, D)
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None)).sum()
    fd = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr_sqrt
    return float(max(fd, 0.0))  # a squared distance; round-off can dip it just below 0
