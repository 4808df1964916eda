"""Per-image reconstruction metrics: golden PSNR / L1 / SSIM values, masked variants, compositing, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thzface.metrics import composite, l1, masked_l1, masked_psnr, masked_ssim, psnr, ssim


def test_psnr_golden_20db() -> None:
    # kornia's example: 1 vs 1.2 with max 2 → MSE 0.04, 10 log10(4 / 0.04) = 20 dB exactly
    pred = torch.ones(2, 1, 4, 4, dtype=torch.float64)
    out = psnr(pred, torch.full((2, 1, 4, 4), 1.2, dtype=torch.float64), max_val=2.0)
    assert out.shape == (2,) and out.dtype == np.float64
    np.testing.assert_allclose(out, [20.0, 20.0], atol=1e-9)


def test_psnr_per_image_and_identical_is_inf() -> None:
    pred = np.zeros((2, 1, 4, 4))
    target = np.stack([np.zeros((1, 4, 4)), np.full((1, 4, 4), 0.1)])
    out = psnr(pred, target)
    assert np.isinf(out[0]) and out[0] > 0
    assert out[1] == pytest.approx(20.0)


def test_numpy_and_torch_inputs_agree() -> None:
    rng = np.random.default_rng(0)
    p, t = rng.random((3, 3, 16, 16)), rng.random((3, 3, 16, 16))
    for fn in (psnr, l1, ssim):
        np.testing.assert_allclose(fn(p, t), fn(torch.from_numpy(p).float(), torch.from_numpy(t)), rtol=1e-5)


def test_l1_golden() -> None:
    np.testing.assert_allclose(l1(np.zeros((1, 1, 2, 2)), np.array([[[[0.1, 0.3], [0.5, 0.7]]]])), [0.4])


def test_ssim_identical_is_one_and_constant_pair_golden() -> None:
    x = np.random.default_rng(1).random((2, 1, 16, 16))
    np.testing.assert_allclose(ssim(x, x), [1.0, 1.0], atol=1e-12)
    a, b = np.full((1, 1, 16, 16), 0.2), np.full((1, 1, 16, 16), 0.6)
    np.testing.assert_allclose(ssim(a, b), [(0.24 + 1e-4) / (0.4 + 1e-4)], atol=1e-12)


def _half_mask_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pred 0; target 0.1 in the left half (the mask) and 0.5 in the right half."""
    target = np.full((1, 1, 8, 8), 0.5)
    target[..., :4] = 0.1
    mask = np.zeros((1, 1, 8, 8))
    mask[..., :4] = 1.0
    return np.zeros_like(target), target, mask


def test_masked_psnr_and_l1_golden() -> None:
    pred, target, mask = _half_mask_case()
    np.testing.assert_allclose(masked_psnr(pred, target, mask), [20.0])  # MSE 0.01 inside
    np.testing.assert_allclose(masked_l1(pred, target, mask), [0.1])
    np.testing.assert_allclose(masked_l1(pred, target, 1 - mask), [0.5])
    np.testing.assert_allclose(psnr(pred, target), [10 * np.log10(1 / 0.13)])  # whole image differs
    np.testing.assert_allclose(masked_l1(pred, target, mask[:, 0]), [0.1])  # (N, H, W) mask


def test_masked_ssim_full_mask_equals_ssim_and_region_mean() -> None:
    rng = np.random.default_rng(2)
    p, t = rng.random((2, 1, 16, 16)), rng.random((2, 1, 16, 16))
    np.testing.assert_allclose(masked_ssim(p, t, np.ones((2, 1, 16, 16))), ssim(p, t), atol=1e-12)
    # identical inside the mask, different outside: the region score is the map's mean over the region only
    t2 = p.copy()
    t2[..., 8:] = rng.random((2, 1, 16, 8))
    from thzface.metrics.ssim import ssim_map

    full = ssim_map(torch.from_numpy(p), torch.from_numpy(t2)).numpy()
    mask = np.zeros((2, 1, 16, 16))
    mask[..., :4] = 1.0
    np.testing.assert_allclose(masked_ssim(p, t2, mask), full[..., :4].mean(axis=(1, 2, 3)), atol=1e-12)


def test_empty_mask_gives_nan() -> None:
    pred, target, mask = _half_mask_case()
    mask2 = np.concatenate([mask, np.zeros_like(mask)])
    pred2, target2 = np.concatenate([pred, pred]), np.concatenate([target, target])
    for fn in (masked_psnr, masked_l1, masked_ssim):
        out = fn(pred2, target2, mask2)
        assert np.isfinite(out[0]) and np.isnan(out[1])


def test_composite_golden_numpy_and_torch() -> None:
    pred, known = np.full((1, 1, 2, 2), 0.9), np.full((1, 1, 2, 2), 0.1)
    mask = np.array([[[[1.0, 0.0], [0.0, 0.5]]]])
    expected = np.array([[[[0.9, 0.1], [0.1, 0.5]]]])
    np.testing.assert_allclose(composite(pred, known, mask), expected)
    out = composite(torch.from_numpy(pred), torch.from_numpy(known), torch.from_numpy(mask))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), expected)


def test_composite_errors() -> None:
    x = np.zeros((1, 1, 2, 2))
    with pytest.raises(ValueError, match="composite: pred, known and mask must all be numpy arrays or all torch"):
        composite(x, torch.zeros(1, 1, 2, 2), x)
    with pytest.raises(ValueError, match=r"composite: mask shape \(1, 1, 3, 2\) does not broadcast"):
        composite(x, x, np.zeros((1, 1, 3, 2)))
    with pytest.raises(ValueError, match=r"composite: mask must lie in \[0, 1\]"):
        composite(x, x, np.full((1, 1, 2, 2), 2.0))


def test_errors_name_the_function_and_argument() -> None:
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"psnr: pred and target shapes differ: \(1, 1, 4, 4\) vs \(1, 1, 4, 3\)"):
        psnr(x, x[..., :3])
    with pytest.raises(ValueError, match=r"ssim: pred must lie in \[0, 1\], got \[-1, -1\] \(clamp predictions"):
        ssim(x - 1, x)
    with pytest.raises(ValueError, match="l1: target contains NaN or inf"):
        l1(x, x + np.nan)
    with pytest.raises(ValueError, match=r"psnr: pred must have shape \(N, C, H, W\)"):
        psnr(x[0], x[0])
    with pytest.raises(ValueError, match="psnr: max_val must be finite and > 0"):
        psnr(x, x, max_val=0)
    with pytest.raises(ValueError, match=r"masked_l1: mask shape \(1, 1, 4, 3\) does not fit images"):
        masked_l1(x, x, np.ones((1, 1, 4, 3)))
    with pytest.raises(ValueError, match="psnr: pred must be a numpy array or torch tensor, got list"):
        psnr([[0.0]], x)


def test_reconstruction_scores_hand_computed() -> None:
    from thzface.metrics.reconstruction import headline, reconstruction_scores

    scan = np.full((2, 1, 16, 16), 0.5)
    model = scan.copy()
    model[:, :, 4:12, 4:12] = 0.7  # wrong by 0.2 on a quarter of the pixels: MSE 0.01 → 20 dB, L1 0.05
    mask = np.zeros((2, 1, 16, 16))
    mask[0, :, 4:12, 4:12] = 1  # only row 0 has a concealed area: MSE 0.04 inside → 13.98 dB
    clean = np.full((2, 1, 16, 16), 0.75)
    r = reconstruction_scores({"model": model, "copy_input": scan.copy()}, scan, clean, mask=mask)
    copy, m = r["copy_input"], r["model"]
    assert copy["ssim"] == pytest.approx(1.0) and copy["psnr"] == np.inf and copy["l1"] == 0.0
    assert copy["clean_psnr"] == pytest.approx(20 * np.log10(1 / 0.25)) and copy["clean_l1"] == pytest.approx(0.25)
    c1 = 0.01**2  # constant images: SSIM is the luminance term alone
    assert copy["clean_ssim"] == pytest.approx((2 * 0.5 * 0.75 + c1) / (0.5**2 + 0.75**2 + c1))
    assert m["psnr"] == pytest.approx(20.0) and m["l1"] == pytest.approx(0.05)
    assert m["concealed_psnr"] == pytest.approx(10 * np.log10(1 / 0.04)) and m["concealed_l1"] == pytest.approx(0.2)
    assert m["clean_concealed_l1"] == pytest.approx(0.05) and copy["concealed_ssim"] == pytest.approx(1.0)
    h = headline(r, "model")
    assert h["ssim"] == m["ssim"] and h["baseline_copy_ssim"] == pytest.approx(1.0)
    assert h["baseline_copy_clean_ssim"] == copy["clean_ssim"] and "head_ssim" not in h
    # real folders: no clean target → no clean keys; an all-zero region → no region keys
    plain = reconstruction_scores({"copy_input": torch.from_numpy(scan)}, scan, region=np.zeros_like(mask))
    assert set(plain["copy_input"]) == {"psnr", "ssim", "l1"}
    with pytest.raises(ValueError, match="same shape|shape"):
        reconstruction_scores({"x": scan}, scan, clean[:, :, :8])
    with pytest.raises(ValueError, match="no routes"):
        reconstruction_scores({}, scan)


def test_mean_face_by_posture_and_at_the_predicted_posture_hand_computed() -> None:
    from thzface.metrics.reconstruction import MEAN_FACE, headline, mean_face_at, mean_face_by_posture

    targets = np.stack([np.full((1, 2, 2), v) for v in (0.2, 0.4, 0.9, 0.5)])  # (4, 1, 2, 2)
    means = mean_face_by_posture(targets, np.array([0, 0, 2, 2]), 3)  # posture 1 has no training row
    assert means.shape == (3, 1, 2, 2)
    assert means[0, 0, 0, 0] == pytest.approx(0.3) and means[2, 0, 0, 0] == pytest.approx(0.7)
    assert means[1, 0, 0, 0] == pytest.approx(0.5)  # the mean of all four rows
    picked = mean_face_at(means, torch.tensor([2, 0, 1]))  # (3, 1, 2, 2): by predicted posture
    assert picked[:, 0, 0, 0] == pytest.approx([0.7, 0.3, 0.5])
    with pytest.raises(ValueError, match=r"posture labels must lie in \[0, 3\)"):
        mean_face_by_posture(targets, np.array([0, 3, 1, 1]), 3)
    with pytest.raises(ValueError, match="need targets"):
        mean_face_by_posture(targets, np.array([0, 1]), 3)
    # scored like copy-the-input, beside it in the headline fields
    clean = np.full((2, 1, 16, 16), 0.75)
    scores = {"model": {"clean_ssim": 0.6}, "copy_input": {"clean_ssim": 0.4}, MEAN_FACE: {"clean_ssim": 0.5}}
    h = headline(scores, "model")
    assert h == {"clean_ssim": 0.6, "baseline_copy_clean_ssim": 0.4, "baseline_mean_face_clean_ssim": 0.5}
    assert "baseline_mean_face_clean_ssim" not in headline({k: scores[k] for k in ("model", "copy_input")}, "model")
    from thzface.metrics.reconstruction import reconstruction_scores

    face = np.full((2, 1, 16, 16), 0.5)
    r = reconstruction_scores({MEAN_FACE: face, "copy_input": face}, face, clean)
    assert r[MEAN_FACE]["clean_l1"] == pytest.approx(0.25) == r["copy_input"]["clean_l1"]
