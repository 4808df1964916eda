"""The one SSIM definition in thzface: a windowed Gaussian SSIM map, used by both the loss and the metric.

Definition (Wang et al. 2004, the Gaussian-window variant):

    SSIM(x, y) = ((2 mu_x mu_y + C1) (2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1) (var_x + var_y + C2))

with local moments taken under a separable Gaussian window of ``window`` taps (default 11) and standard
deviation ``sigma`` (default 1.5), normalised to sum 1; ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``, ``L`` the
data range. Borders: the images are padded by ``window // 2`` with torch ``"reflect"`` padding (whole-sample
mirror, ``d c b | a b c d``; scipy calls this mode ``"mirror"``), so the map has the input's (H, W) and a
mask of the same size can select regions of it. No epsilon is added to the denominator (C1, C2 > 0 keep it
positive), so two identical images score exactly 1.

Why not ``kornia.metrics.ssim``: its map is the same definition for ``sigma = 1.5`` when called with
``padding="same", eps=0.0`` (the tests check the two agree), but it fixes ``sigma`` at 1.5 and adds ``eps``
to the denominator by default; writing the ~20 lines here keeps ``sigma`` a parameter and the definition in
one file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from thzface.metrics.checks import check_float_tensor, check_images, check_positive, check_same_shape

SSIM_WINDOW = 11  # taps of the Gaussian window
SSIM_SIGMA = 1.5  # standard deviation of the Gaussian window, pixels
SSIM_K1 = 0.01  # C1 = (K1 * data_range) ** 2
SSIM_K2 = 0.03  # C2 = (K2 * data_range) ** 2


def gaussian_window(
    size: int, sigma: float, dtype: torch.dtype = torch.float32, device: torch.device | None = None
) -> torch.Tensor:
    """1-D Gaussian taps of length ``size`` (odd), centred on ``size // 2``, summing to 1."""
    if not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"gaussian_window: size must be a positive odd int, got {size!r}")
    check_positive(sigma, "gaussian_window", "sigma")
    x = torch.arange(size, dtype=torch.float64, device=device) - size // 2  # (K,)
    g = torch.exp(-(x**2) / (2.0 * float(sigma) ** 2))  # (K,)
    return (g / g.sum()).to(dtype)  # (K,)


def ssim_map(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: float = 1.0,
    window: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
) -> torch.Tensor:
    """Per-pixel SSIM map (N, C, H, W) of two image batches (N, C, H, W); differentiable.

    Symmetric in its arguments, 1 where the images agree locally. Half-precision inputs are computed in
    float32, also inside a mixed-precision (autocast) region; the map has the promoted dtype of the inputs (float32
    at least). H and W must exceed ``window // 2``.
    """
    where = "ssim_map"
    check_float_tensor(pred, where, "pred")
    check_float_tensor(target, where, "target")
    check_images(pred, where, "pred")
    check_same_shape(pred, target, where)
    data_range = check_positive(data_range, where, "data_range")
    if not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise ValueError(f"{where}: window must be a positive odd int, got {window!r}")
    r = window // 2
    n, c, h, w = pred.shape
    if min(h, w) <= r:
        raise ValueError(f"{where}: images are {h}x{w}; window {window} needs H and W > {r} (reflect padding)")

    dtype = torch.promote_types(pred.dtype, target.dtype)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    x, y = pred.to(dtype), target.to(dtype)
    g = gaussian_window(window, sigma, dtype=dtype, device=x.device)  # (K,)

    moments = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # (N, 5C, H, W)
    moments = F.pad(moments, (r, r, r, r), mode="reflect")  # (N, 5C, H+2r, W+2r)
    c5 = 5 * c
    # the variances are differences of moments: under mixed precision (autocast) the window sums stay in dtype
    with torch.autocast(x.device.type, enabled=False):
        moments = F.conv2d(moments, g.view(1, 1, 1, window).expand(c5, 1, 1, window), groups=c5)  # (N, 5C, H+2r, W)
        moments = F.conv2d(moments, g.view(1, 1, window, 1).expand(c5, 1, window, 1), groups=c5)  # (N, 5C, H, W)
    mu_x, mu_y, e_xx, e_yy, e_xy = moments.chunk(5, dim=1)  # each (N, C, H, W)

    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mu_xy = mu_x * mu_y  # (N, C, H, W)
    mu_xx, mu_yy = mu_x * mu_x, mu_y * mu_y  # (N, C, H, W)
    var_x, var_y, cov = e_xx - mu_xx, e_yy - mu_yy, e_xy - mu_xy  # (N, C, H, W)
    num = (2.0 * mu_xy + c1) * (2.0 * cov + c2)  # (N, C, H, W)
    den = (mu_xx + mu_yy + c1) * (var_x + var_y + c2)  # (N, C, H, W)
    return num / den  # (N, C, H, W)
