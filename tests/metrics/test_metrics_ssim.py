"""The shared SSIM map: golden values, an independent float64 reference (scipy), kornia agreement, errors."""

from __future__ import annotations

import kornia
import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from thzface.metrics.ssim import gaussian_window, ssim_map


def _scipy_ssim_map(x: np.ndarray, y: np.ndarray, data_range: float = 1.0, sigma: float = 1.5) -> np.ndarray:
    """Independent float64 SSIM of 2-D images: scipy Gaussian filter, 'mirror' = torch 'reflect', radius 5."""

    def blur(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, sigma, mode="mirror", truncate=5.0 / sigma)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


def _images(seed: int, shape=(2, 1, 24, 20)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64)
    y = (0.7 * x + 0.3 * torch.rand(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return x, y


def test_gaussian_window_sums_to_one_and_is_symmetric() -> None:
    g = gaussian_window(11, 1.5, dtype=torch.float64)
    assert g.shape == (11,)
    assert float(g.sum()) == pytest.approx(1.0, abs=1e-15)
    assert torch.allclose(g, g.flip(0))
    assert int(g.argmax()) == 5
    assert float(g[5] / g[6]) == pytest.approx(np.exp(1 / (2 * 1.5**2)))


def test_identical_images_score_exactly_one() -> None:
    x, _ = _images(0)
    m = ssim_map(x, x)
    assert m.shape == x.shape
    assert torch.allclose(m, torch.ones_like(m), atol=1e-12)


def test_constant_images_golden() -> None:
    # flat images a, b: variances and covariance vanish, SSIM = (2ab + C1) / (a^2 + b^2 + C1), C1 = 1e-4
    x = torch.full((1, 1, 16, 16), 0.2, dtype=torch.float64)
    y = torch.full((1, 1, 16, 16), 0.6, dtype=torch.float64)
    expected = (2 * 0.2 * 0.6 + 1e-4) / (0.2**2 + 0.6**2 + 1e-4)  # 0.600099975...
    assert torch.allclose(ssim_map(x, y), torch.full_like(x, expected), atol=1e-12)


def test_matches_independent_scipy_reference() -> None:
    x, y = _images(1)
    ours = ssim_map(x, y).numpy()
    for n in range(x.shape[0]):
        ref = _scipy_ssim_map(x[n, 0].numpy(), y[n, 0].numpy())
        np.testing.assert_allclose(ours[n, 0], ref, atol=1e-10)


def test_data_range_and_sigma_follow_the_reference() -> None:
    x, y = _images(2, (1, 1, 20, 20))
    ours = ssim_map(2 * x, 2 * y, data_range=2.0, sigma=2.0).numpy()[0, 0]
    ref = _scipy_ssim_map(2 * x[0, 0].numpy(), 2 * y[0, 0].numpy(), data_range=2.0, sigma=2.0)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


def test_agrees_with_kornia_same_padding_no_eps() -> None:
    x, y = _images(3, (2, 3, 16, 16))
    ref = kornia.metrics.ssim(x, y, 11, max_val=1.0, eps=0.0, padding="same")
    assert torch.allclose(ssim_map(x, y), ref, atol=1e-10)


def test_symmetric_and_float32() -> None:
    x, y = _images(4)
    assert torch.allclose(ssim_map(x, y), ssim_map(y, x))
    m32 = ssim_map(x.float(), y.float())
    assert m32.dtype == torch.float32
    assert torch.allclose(m32.double(), ssim_map(x, y), atol=1e-5)


def test_gradcheck() -> None:
    x, y = _images(5, (1, 1, 8, 8))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: ssim_map(a, y), (x,))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 10}, "window must be a positive odd int"),
        ({"data_range": 0.0}, "data_range must be finite and > 0"),
        ({"sigma": -1.0}, "sigma must be finite and > 0"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    x, y = _images(6, (1, 1, 16, 16))
    with pytest.raises(ValueError, match=message):
        ssim_map(x, y, **kwargs)


def test_bad_shapes() -> None:
    x, _ = _images(7, (1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"ssim_map: pred and target shapes differ: \(1, 1, 16, 16\) vs"):
        ssim_map(x, x[..., :15])
    with pytest.raises(ValueError, match="needs H and W > 5"):
        ssim_map(x[..., :5, :5], x[..., :5, :5])
    with pytest.raises(ValueError, match=r"pred must have shape \(N, C, H, W\)"):
        ssim_map(x[0], x[0])
    with pytest.raises(ValueError, match="pred must be floating point"):
        ssim_map((x * 255).to(torch.uint8), x)


def test_ssim_map_is_float32_under_mixed_precision():
    # bright images with faint texture: the variances are small differences of large moments, which bfloat16 window
    # sums (autocast) would lose; the map must equal the float32 one
    g = torch.Generator().manual_seed(0)
    a = 0.8 + 0.01 * torch.rand(2, 1, 24, 24, generator=g)
    b = a + 0.003 * torch.rand(2, 1, 24, 24, generator=g)
    ref = ssim_map(a, b)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = ssim_map(a, b)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, ref, atol=1e-6, rtol=0)
