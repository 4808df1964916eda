"""Loss of recipe ``unmask3d`` beyond the shared ones: the mode-seeking (diversity) term."""

from __future__ import annotations

import torch

from thzface.losses.reduce import check_pair
from thzface.metrics.checks import check_mask


def mode_seeking_loss(
    out_a: torch.Tensor,
    out_b: torch.Tensor,
    noise_a: torch.Tensor,
    noise_b: torch.Tensor,
    mask: torch.Tensor | None = None,
    tau: float = 0.1,
) -> torch.Tensor:
    """Bounded mode-seeking term: mean over samples of ``relu(tau - d_img / d_noise)``; scalar >= 0.

    ``out_a``/``out_b`` (N, C, H, W): two outputs for the same input under noises ``noise_a``/``noise_b``
    (N, D). ``d_img`` = mean |out_a - out_b| (inside ``mask`` (N, 1|C, H, W) when given), ``d_noise`` = mean
    |noise_a - noise_b|. The ratio is the mode-seeking ratio of Mao et al. (CVPR 2019); it is bounded by
    ``tau`` as in DSGAN (Yang et al., ICLR 2019), so the term vanishes once outputs differ enough and never
    explodes when they coincide (MSGAN's ``1 / (ratio + eps)`` is ~1/eps there).
    """
    where = "mode_seeking_loss"
    check_pair(out_a, out_b, where, ("out_a", "out_b"), ndim=4)
    check_pair(noise_a, noise_b, where, ("noise_a", "noise_b"), ndim=2)
    if noise_a.shape[0] != out_a.shape[0]:
        raise ValueError(f"{where}: {noise_a.shape[0]} noise rows for {out_a.shape[0]} outputs")
    if tau <= 0:
        raise ValueError(f"{where}: tau must be > 0, got {tau}")
    diff = (out_a - out_b).abs()  # (N, C, H, W)
    if mask is None:
        d_img = diff.flatten(1).mean(dim=1)  # (N,)
    else:
        m = check_mask(mask, out_a, where).to(diff.dtype).expand_as(diff)  # (N, C, H, W)
        d_img = (diff * m).flatten(1).sum(dim=1) / m.flatten(1).sum(dim=1).clamp_min(1.0)  # (N,)
    d_noise = (noise_a - noise_b).abs().mean(dim=1).clamp_min(1e-12)  # (N,)
    return torch.relu(tau - d_img / d_noise).mean()
