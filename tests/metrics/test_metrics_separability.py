"""Silhouette, diversity and Fréchet distance: golden values, naive references, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from thzface.metrics import diversity, frechet_distance, silhouette, silhouette_samples


def _naive_silhouette(x: np.ndarray, labels: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cosine":
        u = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = 1 - u @ u.T
    else:
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
    out = np.zeros(len(x))
    for i in range(len(x)):
        own = (labels == labels[i]) & (np.arange(len(x)) != i)
        if not own.any():
            continue
        a = d[i, own].mean()
        b = min(d[i, labels == c].mean() for c in set(labels.tolist()) - {labels[i]})
        out[i] = (b - a) / max(a, b)
    return out


def test_silhouette_hand_value() -> None:
    x = np.array([[0.0], [2.0], [10.0], [12.0]])
    # s = 9/11 for the outer points, 7/9 for the inner ones
    np.testing.assert_allclose(silhouette_samples(x, [0, 0, 1, 1], "euclidean"), [9 / 11, 7 / 9, 7 / 9, 9 / 11])
    assert silhouette(x, [0, 0, 1, 1], "euclidean") == pytest.approx((9 / 11 + 7 / 9) / 2)


def test_two_tight_far_clusters_near_one() -> None:
    rng = np.random.default_rng(0)
    a = np.array([1.0, 0, 0]) + 1e-3 * rng.normal(size=(10, 3))
    b = np.array([0, 1.0, 0]) + 1e-3 * rng.normal(size=(10, 3))
    x, y = np.r_[a, b], np.r_[np.zeros(10), np.ones(10)]
    assert silhouette(x, y) > 0.99
    assert silhouette(x, y, "euclidean") > 0.99
    assert silhouette(x, rng.permutation(y)) < 0.2  # labels that ignore the clusters


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_silhouette_matches_naive_reference(metric: str, monkeypatch) -> None:
    import thzface.metrics.separability as sep

    monkeypatch.setattr(sep, "_BLOCK", 7)  # exercise the row blocking
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 5))
    labels = rng.integers(0, 4, 30)
    labels[0] = 9  # a singleton cluster scores 0
    ref = _naive_silhouette(x, labels, metric)
    np.testing.assert_allclose(silhouette_samples(torch.from_numpy(x), labels, metric), ref, atol=1e-12)
    assert ref[0] == 0.0


def test_silhouette_errors() -> None:
    x = np.random.default_rng(2).normal(size=(4, 2))
    with pytest.raises(ValueError, match="silhouette: needs 2 <= number of clusters <= N - 1, got 1"):
        silhouette(x, [0, 0, 0, 0])
    with pytest.raises(ValueError, match="got 4 clusters for N = 4"):
        silhouette(x, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="silhouette: metric must be 'cosine' or 'euclidean'"):
        silhouette(x, [0, 0, 1, 1], metric="l1")
    with pytest.raises(ValueError, match=r"silhouette: labels must be 1-D of length 4, got shape \(3,\)"):
        silhouette(x, [0, 0, 1])


def test_diversity_golden() -> None:
    samples = np.stack([np.full((1, 2, 2), v) for v in (0.0, 0.2, 0.6)])[None]  # (1, 3, 1, 2, 2)
    np.testing.assert_allclose(diversity(samples), [(0.2 + 0.6 + 0.4) / 3])
    samples[0, 2, 0, 0, 0] = 1.0
    mask = np.zeros((1, 1, 2, 2))
    mask[..., 0, 0] = 1.0  # only pixel (0, 0): values 0, 0.2, 1.0
    np.testing.assert_allclose(diversity(samples, mask), [(0.2 + 1.0 + 0.8) / 3])
    np.testing.assert_allclose(diversity(samples, np.zeros((1, 2, 2))), [np.nan])


def test_diversity_errors() -> None:
    with pytest.raises(ValueError, match=r"diversity: samples must have shape \(N, K, C, H, W\) with K >= 2"):
        diversity(np.zeros((1, 1, 1, 2, 2)))


def test_frechet_golden() -> None:
    # 1-D: mean 1 var 2 vs mean 3 var 8 → (1 - 3)^2 + 2 + 8 - 2 sqrt(16) = 6
    assert frechet_distance([[0.0], [2.0]], [[1.0], [5.0]]) == pytest.approx(6.0)
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 3))
    shift = np.array([1.0, -2.0, 0.5])
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), abs=1e-9)


def test_frechet_matches_sqrtm_formula() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(100, 4)), rng.normal(size=(120, 4)) @ rng.normal(size=(4, 4)) + 0.3
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca + cb - 2 * np.real(sqrtm(ca @ cb)))
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-8)


def test_frechet_small_n_flag() -> None:
    a = np.random.default_rng(5).normal(size=(3, 4))
    with pytest.raises(ValueError, match="frechet_distance: feats_a has N=3 <= D=4, so its covariance is singular"):
        frechet_distance(a, a)
    assert frechet_distance(a, a, allow_singular=True) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="frechet_distance: feature dims differ: 4 vs 3"):
        frechet_distance(a, a[:, :3])
