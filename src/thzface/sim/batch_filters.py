"""Numerics of the batched backend's image formation (``thz.Filters``): :func:`thz.speckle`'s wrap-mode Gaussian
grain as a product of discrete Fourier transforms (torch, float32 on the CPU, the same draws), the skin optics by
a lookup table and the curvature in one pass (the same per-pixel arithmetic as thz's, float64).

scipy's ``gaussian_filter`` in mode ``wrap`` is a circular convolution with the kernel of ``gaussian_filter1d``
(radius ``int(4 * sigma + 0.5)``, normalised); placed circularly on the image grid, its transfer function times
the fields' spectra is the same filter. The normals are the reference's (one ``speckle_normals`` draw per
speckle field, from the sample's own stream), so both backends hold the same speckle to float32 rounding (about
3e-7 of its peak, tests/sim/test_batch.py). The PSF stays thz.psf_blur: its windowed slabs beat an FFT at these
sizes. Each field is transformed on its own, so a sample's bytes do not depend on its batch.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from scipy import ndimage

from thzface.sim import head as H
from thzface.sim import physics as P
from thzface.sim.config import SkinConfig
from thzface.sim.thz import FILTERS, Filters, _psf_energy, speckle_normals

TRUNCATE = 4.0  # scipy's default kernel extent in sigmas (thz.speckle)


def kernel(sig: float, truncate: float = TRUNCATE) -> np.ndarray:
    """scipy.ndimage.gaussian_filter1d's kernel of ``sig`` pixels: (2r + 1,), r = int(truncate * sig + 0.5)."""
    r = int(truncate * sig + 0.5)
    x = np.arange(-r, r + 1)
    k = np.exp(-0.5 / (sig * sig) * x * x)
    return k / k.sum()


@functools.lru_cache(maxsize=1024)
def transfer(sig: float, n_rows: int, n_cols: int) -> torch.Tensor:
    """(n_rows, n_cols // 2 + 1) complex64 transfer function of the separable kernel placed circularly on an
    n_rows x n_cols grid (rfft2 layout)."""
    k = kernel(sig)
    r = len(k) // 2

    def wrapped(n: int) -> np.ndarray:  # (n,) the kernel's taps at offsets -r..r, modulo n
        c = np.zeros(n)
        np.add.at(c, np.arange(-r, r + 1) % n, k)
        return c

    t = np.fft.fft(wrapped(n_rows))[:, None] * np.fft.rfft(wrapped(n_cols))[None, :]  # (n_rows, n_cols // 2 + 1)
    return torch.as_tensor(t.astype(np.complex64))


def speckle_fft(shape: tuple[int, int], w_mm: float, pitch: float, looks: int, rng: np.random.Generator) -> np.ndarray:
    """thz.speckle by FFT: the same draw (looks, 2, H, W) from ``rng``, the grain as a circular product, unit mean
    gamma(looks) intensity (H, W) float64."""
    sig = max(w_mm / 2 / pitch, 0.3)
    g = torch.from_numpy(speckle_normals(shape, looks, rng).astype(np.float32))  # (L, 2, H, W)
    g = torch.fft.irfft2(torch.fft.rfft2(g) * transfer(sig, *shape), s=shape)  # (L, 2, H, W)
    return (g * g).sum((0, 1)).double().numpy() / (looks * 2 * _psf_energy(sig))  # (H, W)


def skin_optics_lut(labels: np.ndarray, water: float, fd_skin: float, fd_hair: float, cfg: SkinConfig, freq: float):
    """thz.skin_optics by lookup: the skin index of its three water contents (skin, lips, eyes) computed once and
    taken per label, the diffuse fraction per label (the same per-pixel values)."""
    n3 = P.skin_index(freq, np.array([water, min(water + cfg.lip_water_add, 1.0), cfg.eye_water]), cfg.temp_k,
                      complex(cfg.dry_eps[0], cfg.dry_eps[1]))  # fmt: skip
    cls, fd = np.zeros(256, np.int64), np.full(256, fd_skin)
    cls[H.LIPS], cls[H.EYES], fd[[H.HAIR, H.BROWS]] = 1, 2, fd_hair
    return n3[cls[labels]], fd[labels]


def curvature_fast(normal: np.ndarray, mask: np.ndarray, pitch: float) -> np.ndarray:
    """thz.curvature with the three components' gradients taken together (np.gradient's arithmetic: central
    differences inside, one-sided at the edges)."""
    g_r, g_c = np.empty_like(normal), np.empty_like(normal)  # (H, W, 3) d/drow, d/dcol
    g_r[1:-1] = (normal[2:] - normal[:-2]) / (2.0 * pitch)
    g_r[0], g_r[-1] = (normal[1] - normal[0]) / pitch, (normal[-1] - normal[-2]) / pitch
    g_c[:, 1:-1] = (normal[:, 2:] - normal[:, :-2]) / (2.0 * pitch)
    g_c[:, 0], g_c[:, -1] = (normal[:, 1] - normal[:, 0]) / pitch, (normal[:, -1] - normal[:, -2]) / pitch
    k = np.sqrt((g_r * g_r + g_c * g_c).sum(-1) / 2.0)
    return np.where(ndimage.binary_erosion(mask), k, 0.05) * mask


FFT_FILTERS = Filters(FILTERS.blur, speckle_fft, skin_optics_lut, curvature_fast)
