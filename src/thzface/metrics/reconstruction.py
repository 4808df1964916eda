"""Reconstruction metrics, one value per image: PSNR, windowed SSIM, L1, masked forms, compositing.

Inputs are numpy arrays or torch tensors of shape (N, C, H, W) (C is 1 or 3 for thzface images) with values in
[0, max_val]; they are evaluated in float64 on their own device and every metric returns a float64 numpy
array of shape (N,), so callers can build per-identity / per-posture tables (see
:func:`thzface.metrics.summarize`).

Masks follow thzface's convention: 1 inside the region of interest (the hole / concealed area), 0 elsewhere;
shape (N, 1|C, H, W) or (N, H, W); fractional values act as weights. A masked metric of an image whose mask
is all zero is NaN (there is no region to score). PSNR of two identical images (or regions) is +inf.

:func:`reconstruction_scores` is the one block every recipe reports: each route (a model's outputs, and
``copy_input``, the input copied) against the unconcealed scan and the clean target, whole image and regions;
:func:`headline` flattens it into summary fields beside the copy baseline (and the mean face at the predicted
posture, :func:`mean_face_by_posture` / :func:`mean_face_at`, where a recipe scores that route).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
import torch

from thzface.metrics.checks import (
    as_float_tensor,
    check_images,
    check_mask,
    check_positive,
    check_range,
    check_same_shape,
)
from thzface.metrics.ssim import SSIM_SIGMA, SSIM_WINDOW, ssim_map

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def _pair(pred: Any, target: Any, max_val: float, where: str) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Validate and convert an image pair → float64 tensors (N, C, H, W) and the checked max_val."""
    max_val = check_positive(max_val, where, "max_val")
    p = as_float_tensor(pred, where, "pred")
    t = as_float_tensor(target, where, "target")
    check_images(p, where, "pred")
    check_same_shape(p, t, where)
    t = t.to(p.device)
    hint = "clamp predictions, or pass max_val"
    check_range(p, 0.0, max_val, where, "pred", hint)
    check_range(t, 0.0, max_val, where, "target", hint)
    return p, t, max_val


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> np.ndarray:
    """Per-image mean of (N, C, H, W) values, weighted by a broadcastable mask; NaN where the mask is
    empty."""
    if mask is None:
        return values.flatten(1).mean(dim=1).cpu().numpy()  # (N,)
    m = mask.expand_as(values)  # (N, C, H, W)
    total = m.flatten(1).sum(dim=1)  # (N,)
    weighted = (values * m).flatten(1).sum(dim=1)  # (N,)
    out = torch.where(total > 0, weighted / total.clamp_min(1e-300), torch.full_like(total, float("nan")))
    return out.cpu().numpy()  # (N,)


def _psnr_from_mse(mse: np.ndarray, max_val: float) -> np.ndarray:
    """10 log10(max_val^2 / mse), +inf where mse == 0 and NaN where mse is NaN."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(max_val**2 / mse)


def psnr(pred: Any, target: Any, max_val: float = 1.0) -> np.ndarray:
    """Per-image PSNR in dB (N,): 10 log10(max_val^2 / MSE) over all channels and pixels."""
    p, t, max_val = _pair(pred, target, max_val, "psnr")
    return _psnr_from_mse(_masked_mean((p - t) ** 2, None), max_val)


def l1(pred: Any, target: Any, max_val: float = 1.0) -> np.ndarray:
    """Per-image mean absolute error (N,)."""
    p, t, _ = _pair(pred, target, max_val, "l1")
    return _masked_mean((p - t).abs(), None)


def ssim(
    pred: Any, target: Any, max_val: float = 1.0, window: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA
) -> np.ndarray:
    """Per-image mean of the shared windowed SSIM map (N,) (:func:`thzface.metrics.ssim.ssim_map`)."""
    p, t, max_val = _pair(pred, target, max_val, "ssim")
    return _masked_mean(ssim_map(p, t, data_range=max_val, window=window, sigma=sigma), None)


def masked_psnr(pred: Any, target: Any, mask: Any, max_val: float = 1.0) -> np.ndarray:
    """Per-image PSNR (N,) of the pixels inside ``mask`` (mask-weighted MSE); NaN where the mask is empty."""
    p, t, max_val = _pair(pred, target, max_val, "masked_psnr")
    m = check_mask(mask, p, "masked_psnr")
    return _psnr_from_mse(_masked_mean((p - t) ** 2, m), max_val)


def masked_l1(pred: Any, target: Any, mask: Any, max_val: float = 1.0) -> np.ndarray:
    """Per-image mean absolute error (N,) inside ``mask``; NaN where the mask is empty."""
    p, t, _ = _pair(pred, target, max_val, "masked_l1")
    m = check_mask(mask, p, "masked_l1")
    return _masked_mean((p - t).abs(), m)


def masked_ssim(
    pred: Any,
    target: Any,
    mask: Any,
    max_val: float = 1.0,
    window: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
) -> np.ndarray:
    """Per-image mean of the full-image SSIM map inside ``mask`` (N,); NaN where the mask is empty.

    The map is computed on the whole images (windows near the region's edge see its surroundings, as a viewer
    does) and then averaged over the region.
    """
    p, t, max_val = _pair(pred, target, max_val, "masked_ssim")
    m = check_mask(mask, p, "masked_ssim")
    return _masked_mean(ssim_map(p, t, data_range=max_val, window=window, sigma=sigma), m)


def composite(pred: ArrayT, known: ArrayT, mask: ArrayT) -> ArrayT:
    """``mask * pred + (1 - mask) * known``: keep the known pixels, take the prediction inside the hole.

    Works on numpy arrays or torch tensors (all three of the same kind); shapes must broadcast to ``pred``'s
    (N, C, H, W); the mask (1 in the hole) must lie in [0, 1]. Returns the same kind as the inputs.
    """
    where = "composite"
    kinds = {type(pred) is np.ndarray, type(known) is np.ndarray, type(mask) is np.ndarray}
    if len(kinds) != 1 or not all(isinstance(a, (np.ndarray, torch.Tensor)) for a in (pred, known, mask)):
        raise ValueError(f"{where}: pred, known and mask must all be numpy arrays or all torch tensors")
    check_images(pred, where, "pred")
    check_same_shape(pred, known, where, "pred and known")
    m = as_float_tensor(mask, where, "mask")
    check_range(m, 0.0, 1.0, where, "mask")
    try:
        fits = np.broadcast_shapes(tuple(mask.shape), tuple(pred.shape)) == tuple(pred.shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{where}: mask shape {tuple(mask.shape)} does not broadcast to {tuple(pred.shape)}")
    return mask * pred + (1 - mask) * known  # (N, C, H, W)


HEADLINE = ("ssim", "psnr", "clean_ssim", "clean_psnr", "head_ssim", "clean_head_ssim")  # summary fields


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x)


def reconstruction_scores(
    routes: Mapping[str, Any],
    scan: Any,
    clean: Any | None = None,
    mask: Any | None = None,
    region: Any | None = None,
    mask_name: str = "concealed",
    region_name: str = "head",
    max_val: float = 1.0,
) -> dict[str, dict[str, float]]:
    """Mean scores of every route's images (N, C, H, W) on the same N rows, e.g. a model's outputs and
    ``copy_input`` (the input copied, the baseline): ``psnr``, ``ssim``, ``l1`` against the unconcealed ``scan``;
    ``clean_psnr``, ``clean_ssim``, ``clean_l1`` against the ``clean`` target when given (simulated folders; real
    ones have none and the keys are absent). A ``mask`` (N, 1, H, W), 1 in the concealed area, adds the same
    inside it as ``<mask_name>_*`` and ``clean_<mask_name>_*``, a ``region`` (the head) as ``<region_name>_*``;
    both are scored over the rows whose mask is not empty (keys absent when none is). Whole-image means keep
    +inf PSNRs (identical images); region means skip NaN."""
    if not routes:
        raise ValueError("reconstruction_scores: no routes given")
    targets = {"": _numpy(scan)} if clean is None else {"": _numpy(scan), "clean_": _numpy(clean)}
    regions: dict[str, tuple[np.ndarray, np.ndarray] | None] = {"": None}
    for name, m in ((mask_name, mask), (region_name, region)):
        if m is not None:
            a = _numpy(m)
            rows = np.asarray(a.reshape(len(a), -1).astype(bool).any(axis=1))  # (N,) rows with a region
            if rows.any():
                regions[f"{name}_"] = (rows, a[rows])
    out: dict[str, dict[str, float]] = {}
    for route, images in routes.items():
        p = _numpy(images)  # (N, C, H, W)
        r: dict[str, float] = {}
        for g, sel in regions.items():
            for t, target in targets.items():
                if sel is None:
                    r[f"{t}psnr"] = float(np.mean(psnr(p, target, max_val)))
                    r[f"{t}ssim"] = float(np.mean(ssim(p, target, max_val)))
                    r[f"{t}l1"] = float(np.mean(l1(p, target, max_val)))
                    continue
                rows, m = sel
                pm, tm = p[rows], target[rows]
                r[f"{t}{g}psnr"] = float(np.nanmean(masked_psnr(pm, tm, m, max_val)))
                r[f"{t}{g}ssim"] = float(np.nanmean(masked_ssim(pm, tm, m, max_val)))
                r[f"{t}{g}l1"] = float(np.nanmean(masked_l1(pm, tm, m, max_val)))
        out[route] = r
    return out


MEAN_FACE = "mean_face"  # the route of the classical baseline: the training mean face at the predicted posture


def headline(
    scores: Mapping[str, Mapping[str, float]], route: str, copy: str = "copy_input", keys: tuple[str, ...] = HEADLINE
) -> dict[str, float]:
    """Flat summary fields of :func:`reconstruction_scores`: each of ``keys`` of ``route`` and, beside it,
    ``baseline_copy_<key>`` of the ``copy`` route and, where the scores have a :data:`MEAN_FACE` route,
    ``baseline_mean_face_<key>`` (keys the scores lack, e.g. no clean target, are left out)."""
    out: dict[str, float] = {}
    for k in keys:
        if k in scores[route]:
            out[k] = scores[route][k]
            out[f"baseline_copy_{k}"] = scores[copy][k]
            if k in scores.get(MEAN_FACE, {}):
                out[f"baseline_mean_face_{k}"] = scores[MEAN_FACE][k]
    return out


def mean_face_by_posture(targets: Any, postures: Any, num_postures: int) -> np.ndarray:
    """Per-posture mean image (P, C, H, W) of training targets (N, C, H, W) with posture labels (N,) in
    [0, num_postures); a posture without a training row gets the mean of all rows."""
    t = _numpy(targets).astype(np.float64)
    y = _numpy(postures).astype(np.int64).reshape(-1)
    if t.ndim != 4 or len(t) == 0 or len(t) != len(y):
        raise ValueError(f"mean_face_by_posture: need targets (N, C, H, W), N >= 1, and N labels; got "
                         f"{t.shape} and {y.shape}")  # fmt: skip
    if y.min() < 0 or y.max() >= num_postures:
        raise ValueError(
            f"mean_face_by_posture: posture labels must lie in [0, {num_postures}), got {y.min()}..{y.max()}"
        )
    overall = t.mean(axis=0)  # (C, H, W)
    return np.stack([t[y == p].mean(axis=0) if (y == p).any() else overall for p in range(num_postures)])


def mean_face_at(means: np.ndarray, predicted: Any) -> np.ndarray:
    """The mean face (n, C, H, W) of each row's predicted posture (n,) from :func:`mean_face_by_posture`."""
    return np.asarray(means)[_numpy(predicted).astype(np.int64).reshape(-1)]
