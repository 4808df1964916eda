"""The baselines a skeptic asks for, on the same pairs / images as the model: pure numpy / torch functions.

* verification: raw-pixel cosine similarity of the two input images of each pair (:func:`pixel_pair_scores`),
  scored like the model's scores (:func:`thzface.metrics.verification.verification_summary`);
* identification: nearest-neighbour accuracy on raw pixels (or any features) with the query's own capture left
  out of the gallery (:func:`nearest_neighbour_accuracy`);
* reconstruction: copy-the-input (the concealed scan itself as the "reconstruction") against the unconcealed
  scan and against the clean target, with the shared SSIM / PSNR (:func:`copy_baseline`);
* posture: always answer the training set's majority class (:func:`majority_accuracy`).

:func:`skeptic_baselines` gathers whichever of these its inputs allow into the ``baselines`` block of
metrics.json.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from thzface.metrics.checks import as_labels, check_lengths
from thzface.metrics.reconstruction import reconstruction_scores
from thzface.metrics.verification import verification_summary


class NearestNeighbour(NamedTuple):
    accuracy: float  # fraction of scored queries whose nearest gallery item has the query's identity
    queries: int  # queries scored (those with a same-identity item left in the gallery)


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


def flatten_pixels(images: Any) -> np.ndarray:
    """Images (N, ...) → float64 rows (N, D), one per image."""
    a = _numpy(images).astype(np.float64)
    if a.ndim < 2 or len(a) == 0:
        raise ValueError(f"flatten_pixels: expected a batch of images (N, ...), got shape {a.shape}")
    return a.reshape(len(a), -1)  # (N, D)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; an all-zero row stays zero (its cosine with anything is 0)."""
    n = np.linalg.norm(x, axis=1, keepdims=True)  # (N, 1)
    return x / np.where(n > 0, n, 1.0)


CHUNK = 16384  # pairs scored at once by pixel_pair_scores


def pixel_pair_scores(images: Any, pairs: Any) -> np.ndarray:
    """Cosine similarity (M,) of the flattened images of each pair ``pairs`` (M, 2) of indices."""
    x = _unit_rows(flatten_pixels(images))  # (N, D)
    p = _numpy(pairs).astype(np.int64)
    if p.ndim != 2 or p.shape[1] != 2 or (p.size and (p.min() < 0 or p.max() >= len(x))):
        raise ValueError(f"pixel_pair_scores: pairs must be (M, 2) indices into {len(x)} images, got {p.shape}")
    out = np.empty(len(p))
    for s in range(0, len(p), CHUNK):  # in chunks: a probe x gallery set of 1e6 pairs never holds (M, D) at once
        q = p[s : s + CHUNK]
        out[s : s + CHUNK] = np.einsum("md,md->m", x[q[:, 0]], x[q[:, 1]])  # (m,)
    return out  # (M,)


def nearest_neighbour_accuracy(features: Any, identities: Any, captures: Any | None = None) -> NearestNeighbour:
    """Leave-one-out identification by cosine nearest neighbour over ``features`` (N, D) (raw pixels: pass
    :func:`flatten_pixels`). A query's gallery is every other item except those of its own capture
    (``captures`` (N,) ids, e.g. a concealed scan and its unconcealed counterpart share one); queries whose
    identity has no item left in the gallery are not scored. Ties go to the lowest index."""
    where = "nearest_neighbour_accuracy"
    x = _unit_rows(flatten_pixels(features))  # (N, D)
    ids = _numpy(identities)
    cap = np.arange(len(x)) if captures is None else _numpy(captures)
    if ids.shape != (len(x),) or cap.shape != (len(x),):
        raise ValueError(f"{where}: identities and captures must be 1-D of length {len(x)}")
    sim = x @ x.T  # (N, N)
    excluded = cap[:, None] == cap[None, :]  # (N, N) own capture (and the query itself)
    np.fill_diagonal(excluded, True)
    same = ids[:, None] == ids[None, :]  # (N, N)
    scored = (same & ~excluded).any(axis=1)  # (N,)
    if not scored.any():
        raise ValueError(f"{where}: no query has another item of its identity outside its own capture")
    nearest = np.where(excluded, -np.inf, sim).argmax(axis=1)  # (N,)
    hit = ids[nearest] == ids
    return NearestNeighbour(float(hit[scored].mean()), int(scored.sum()))


def copy_baseline(
    inputs: Any, scan: Any, clean: Any | None = None, mask: Any | None = None, max_val: float = 1.0
) -> dict[str, dict[str, float]]:
    """Copy-the-input reconstruction: mean SSIM and PSNR of ``inputs`` (N, C, H, W) against the unconcealed
    ``scan`` and, when given, the ``clean`` target; with a ``mask`` (1 in the region, e.g. the head) SSIM is the
    region's mean (:func:`thzface.metrics.reconstruction.reconstruction_scores`). PSNR of identical images is
    +inf."""
    r = reconstruction_scores({"copy": inputs}, scan, clean, region=mask, region_name="region", max_val=max_val)
    s = r["copy"]
    out = {"vs_scan": {"ssim": s.get("region_ssim", s["ssim"]), "psnr": s["psnr"]}}
    if clean is not None:
        out["vs_clean"] = {"ssim": s.get("clean_region_ssim", s["clean_ssim"]), "psnr": s["clean_psnr"]}
    return out


def majority_accuracy(y_true: Any, y_train: Any | None = None) -> float:
    """Accuracy on ``y_true`` of always predicting the most frequent class of ``y_train`` (ties: the smallest
    id); without ``y_train`` the majority of ``y_true`` itself (an optimistic bound)."""
    t = as_labels(y_true, "majority_accuracy", "y_true")
    ref = t if y_train is None else as_labels(y_train, "majority_accuracy", "y_train")
    if len(t) == 0 or len(ref) == 0:
        raise ValueError("majority_accuracy: empty labels")
    return float(np.mean(t == int(np.bincount(ref).argmax())))


def skeptic_baselines(
    thz: Any,
    identities: Any,
    pairs: Any | None = None,
    pair_labels: Any | None = None,
    captures: Any | None = None,
    scan: Any | None = None,
    clean: Any | None = None,
    mask: Any | None = None,
    posture: Any | None = None,
    posture_train: Any | None = None,
    fars: tuple[float, ...] = (1e-3, 1e-2, 1e-1),
) -> dict[str, Any]:
    """The ``baselines`` block of metrics.json for the evaluated images ``thz`` (N, C, H, W) in [0, 1].

    ``pairs`` (M, 2) / ``pair_labels`` (M,): the very pairs the model was scored on → raw-pixel cosine
    verification; always: raw-pixel nearest-neighbour identification (``captures`` as in
    :func:`nearest_neighbour_accuracy`); ``scan`` (and ``clean``, ``mask``) → copy-the-input reconstruction;
    ``posture`` (N,) (and ``posture_train``) → majority-class posture accuracy.
    """
    ids = _numpy(identities)
    out: dict[str, Any] = {}
    if pairs is not None:
        if pair_labels is None:
            raise ValueError("skeptic_baselines: pairs given without pair_labels")
        scores = pixel_pair_scores(thz, pairs)
        check_lengths(scores, _numpy(pair_labels), "skeptic_baselines", "pairs and pair_labels")
        out["raw_pixel_cosine"] = verification_summary(scores, pair_labels, fars=fars)
    out["raw_pixel_nearest_neighbour"] = nearest_neighbour_accuracy(flatten_pixels(thz), ids, captures)._asdict()
    if scan is not None:
        out["copy_input"] = copy_baseline(thz, scan, clean, mask)
    if posture is not None:
        out["majority_posture_accuracy"] = majority_accuracy(posture, posture_train)
    return out
