"""FFT speckle of the batched backend: :func:`thz.speckle`'s wrap-mode Gaussian grain as a product of discrete
Fourier transforms (torch, float32 on the CPU), the same draws.

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


FFT_FILTERS = Filters(FILTERS.blur, speckle_fft)
