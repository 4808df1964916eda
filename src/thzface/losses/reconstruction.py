"""Image reconstruction losses: Charbonnier, 1 - SSIM, Sobel gradient, their sum, masked L1, TV.

All are torch, differentiable and reduce to a scalar.

Images are (N, C, H, W) floats. SSIM is the shared definition in :mod:`thzface.metrics.ssim`, the same one the
evaluation metric uses. Masks: 1 in the hole (missing / concealed pixels), 0 where the input is known.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from thzface.losses.reduce import check_pair
from thzface.metrics.checks import check_images, check_positive
from thzface.metrics.ssim import SSIM_SIGMA, SSIM_WINDOW, ssim_map

# Sobel kernels scaled by 1/8 so a ramp of slope a (per pixel) has gradient exactly a away from the border.
_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0


def _images(pred: torch.Tensor, target: torch.Tensor, where: str) -> None:
    check_pair(pred, target, where, ("pred", "target"), ndim=4)
    check_images(pred, where, "pred")


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Mean of sqrt((pred - target)^2 + eps): a smooth L1; ``eps`` is added to the *squared* error (the seed's
    convention), so a perfect prediction scores sqrt(eps) (1e-3 by default), not 0."""
    _images(pred, target, "charbonnier")
    eps = check_positive(eps, "charbonnier", "eps")
    return torch.sqrt((pred - target) ** 2 + eps).mean()


def ssim_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    window: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
    data_range: float = 1.0,
) -> torch.Tensor:
    """1 - mean windowed SSIM (the shared :func:`thzface.metrics.ssim.ssim_map`); 0 for identical images."""
    _images(pred, target, "ssim_loss")
    return 1.0 - ssim_map(pred, target, data_range=data_range, window=window, sigma=sigma).mean()


def sobel(x: torch.Tensor) -> torch.Tensor:
    """Horizontal and vertical Sobel derivatives (replicate border) of (N, C, H, W) → (N, 2C, H, W)."""
    c = x.shape[1]
    kx = _SOBEL_X.to(device=x.device, dtype=x.dtype)  # (3, 3)
    weight = torch.stack([kx, kx.T]).unsqueeze(1).repeat(c, 1, 1, 1)  # (2C, 1, 3, 3) [dx, dy] per channel
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), weight, groups=c)  # (N, 2C, H, W)


def gradient_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean |Sobel(pred) - Sobel(target)| over both directions, all channels and pixels; scalar."""
    _images(pred, target, "gradient_loss")
    return (sobel(pred) - sobel(target)).abs().mean()


def reconstruction_terms(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """The unweighted terms of :func:`reconstruction_loss`: ``{"charbonnier", "ssim", "gradient"}``."""
    return {
        "charbonnier": charbonnier(pred, target),
        "ssim": ssim_loss(pred, target),
        "gradient": gradient_loss(pred, target),
    }


def reconstruction_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    w_charb: float = 1.0,
    w_ssim: float = 0.8,
    w_grad: float = 0.2,
) -> torch.Tensor:
    """w_charb * Charbonnier + w_ssim * (1 - SSIM) + w_grad * Sobel-gradient L1 (the seed's L_rec minus LPIPS;
    add :func:`thzface.losses.lpips_loss` separately when weights are available); scalar."""
    where = "reconstruction_loss"
    weights = {
        "charbonnier": check_positive(w_charb, where, "w_charb", allow_zero=True),
        "ssim": check_positive(w_ssim, where, "w_ssim", allow_zero=True),
        "gradient": check_positive(w_grad, where, "w_grad", allow_zero=True),
    }
    terms = reconstruction_terms(pred, target)
    return sum((weights[k] * v for k, v in terms.items()), pred.new_zeros(()))


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation: mean |x[h+1] - x[h]| + mean |x[w+1] - x[w]| of (N, C, H, W); scalar."""
    where = "tv_loss"
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        raise ValueError(f"{where}: x must be a floating-point torch.Tensor")
    check_images(x, where, "x")
    if x.shape[2] < 2 or x.shape[3] < 2:
        raise ValueError(f"{where}: x must be at least 2x2 pixels, got shape {tuple(x.shape)}")
    dh = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean()  # over (N, C, H-1, W)
    dw = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()  # over (N, C, H, W-1)
    return dh + dw
