"""Linear face prior (eigenfaces) and its gappy completion: the hole filled from the known pixels.

A face image is modelled as the training mean plus ``k`` principal directions, each scaled by its standard
deviation so that the coefficients of a training face are about N(0, 1) (Turk & Pentland 1991). Given an image
whose hole is unknown, the coefficients are the ridge-regularised least-squares fit to the known pixels only
(gappy PCA, Everson & Sirovich 1995) and the hole takes the model's values; the known pixels' residual to the
model is then carried into the hole by a diffusion fill, so the completion meets the border without a seam.
The basis is fitted once from training images (mirrored copies included: faces are near-symmetric) and kept as
buffers, so a weights file holds it. An unfitted prior (zero mean, zero basis) completes like a diffusion fill.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

FillFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (image, mask) -> filled image


class EigenFace(nn.Module):
    """Mean (P,) and SD-scaled principal directions (P, k) of P = C·H·W pixels; :meth:`complete` fills holes."""

    mean: torch.Tensor
    basis: torch.Tensor
    fitted: torch.Tensor

    def __init__(self, pixels: int, k: int, ridge: float) -> None:
        super().__init__()
        if k < 1 or pixels < 1 or ridge <= 0:
            raise ValueError(f"EigenFace: need k >= 1 and pixels >= 1 and ridge > 0, got {k}, {pixels}, {ridge}")
        self.ridge = float(ridge)
        self.register_buffer("mean", torch.zeros(pixels))  # (P,)
        self.register_buffer("basis", torch.zeros(pixels, k))  # (P, k) columns scaled by their SD
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, images: torch.Tensor) -> None:
        """Fit mean and basis to (N, C, H, W) training images and their mirror images."""
        x = torch.cat([images, images.flip(-1)]).flatten(1).double()  # (2N, P)
        if x.shape[1] != self.mean.numel():
            raise ValueError(f"EigenFace.fit: images have {x.shape[1]} pixels, the prior {self.mean.numel()}")
        mu = x.mean(0)  # (P,)
        _, s, vt = torch.linalg.svd(x - mu, full_matrices=False)  # s (r,), vt (r, P)
        k = min(self.basis.shape[1], len(s))
        self.basis.zero_()
        self.basis[:, :k] = (vt[:k].T * (s[:k] / max(1, len(x) - 1) ** 0.5)).to(self.basis)  # (P, k)
        self.mean.copy_(mu.to(self.mean))
        self.fitted.fill_(True)

    def reconstruct(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """The model's image whose coefficients fit the pixels where ``known`` (B, C, H, W; 1 known, 0 not) is
        1 in ``x`` (B, C, H, W), by ridge-regularised least squares: (B, C, H, W)."""
        b = x.shape[0]
        w = known.reshape(b, -1).to(x.dtype)  # (B, P)
        a = self.basis.to(x.dtype)  # (P, k)
        r = (x.reshape(b, -1) - self.mean.to(x.dtype)) * w  # (B, P)
        gram = torch.einsum("pk,bp,pl->bkl", a, w, a)  # (B, k, k)
        eye = torch.eye(a.shape[1], dtype=x.dtype, device=x.device)  # (k, k)
        coef = torch.linalg.solve(gram + self.ridge * eye, (r @ a)[..., None])[..., 0]  # (B, k)
        return (self.mean.to(x.dtype) + coef @ a.T).view_as(x)  # (B, C, H, W)

    def complete(self, image: torch.Tensor, mask: torch.Tensor, border_fill: FillFn) -> torch.Tensor:
        """Known pixels kept; the hole = the model fitted to the known pixels (:func:`seamless`)."""
        known = (1.0 - (mask > 0.5).to(image.dtype)).expand_as(image)  # (B, C, H, W)
        return seamless(self.reconstruct(image, known), image, mask, border_fill)


def seamless(model: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, border_fill: FillFn) -> torch.Tensor:
    """``image`` outside the hole; inside, ``model`` (B, C, H, W) plus ``border_fill`` of the known pixels'
    residual to it, so the hole meets its border without a seam."""
    hole = (mask > 0.5).to(image.dtype)  # (B, 1, H, W)
    return hole * (model + border_fill(image - model, mask)) + (1.0 - hole) * image  # (B, C, H, W)
