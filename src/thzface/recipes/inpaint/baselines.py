"""Classical inpainting baselines for the benchmark: masked-mean, diffusion (harmonic) and mean-face fills, and
the eigenface fill (the ``default`` model's own start, a linear face prior) used alone.

Every fill keeps the known pixels and only paints the hole, like the model's composite. ``mean-fill`` and
``diffusion-fill`` need no data (:func:`thzface.models.inpaint.hide_holes`). The data-fitted fills are built from
the training images by :func:`fitted_baselines`: ``mean-face-fill`` is the training mean face of the posture that
best fits the known pixels (the posture *predicted* from what is seen), plus the diffusion of the known pixels'
residual to it; ``eigen-fill`` is :class:`thzface.models.eigenface.EigenFace`'s completion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from thzface.data.naming import NUM_POSTURES, parse_name
from thzface.metrics.reconstruction import mean_face_by_posture
from thzface.models.eigenface import EigenFace, seamless
from thzface.models.inpaint import diffusion_fill, hide_holes

Method = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (image, mask) -> composited output


def mean_fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hole ← per-image, per-channel mean of the known pixels. (B, C, H, W), mask (B, 1, H, W) → (B, C, H, W)."""
    return hide_holes(image, mask, "mean")


BASELINES: dict[str, Method] = {"mean-fill": mean_fill, "diffusion-fill": diffusion_fill}


def posture_means(images: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """Mean image per posture (K, C, H, W) of (N, C, H, W) images named as the seed (mtl's mean-face baseline,
    :func:`thzface.metrics.reconstruction.mean_face_by_posture`)."""
    postures = [parse_name(n).posture for n in names]
    return torch.from_numpy(mean_face_by_posture(images, postures, NUM_POSTURES)).to(images)  # (K, C, H, W)


def mean_face_fill(means: torch.Tensor) -> Method:
    """Fill from the mean face (of ``means`` (K, C, H, W)) closest to the known pixels, plus the diffusion of
    the known pixels' residual to it (the hole meets its border without a seam)."""

    def fill(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        known = 1.0 - (mask > 0.5).to(image.dtype)  # (B, 1, H, W)
        err = ((image[:, None] - means[None]) ** 2 * known[:, None]).sum(dim=(2, 3, 4))  # (B, K)
        face = means[err.argmin(dim=1)]  # (B, C, H, W) the predicted posture's mean face
        return seamless(face, image, mask, diffusion_fill)  # (B, C, H, W)

    return fill


def fitted_baselines(images: torch.Tensor, names: Sequence[str], eigen_k: int, eigen_ridge: float) -> dict[str, Method]:
    """The data-fitted fills from training images (N, C, H, W) and their file names."""
    prior = EigenFace(images[0].numel(), eigen_k, eigen_ridge)
    prior.fit(images)
    return {
        "mean-face-fill": mean_face_fill(posture_means(images, names)),
        "eigen-fill": lambda image, mask: prior.complete(image, mask, diffusion_fill),
    }
