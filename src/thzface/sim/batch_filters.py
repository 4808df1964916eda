"""Numerics of the batched backend's image formation (``thz.Filters``): :func:`thz.speckle`'s wrap-mode Gaussian
grain as a product of discrete Fourier transforms (torch, float32 on the CPU, the same draws), the skin optics by
a lookup table, the curvature and the depth-slab PSF in compiled passes (numba; the same per-pixel arithmetic as
thz's, float64).

scipy's ``gaussian_filter`` in mode ``wrap`` is a circular convolution with the kernel of ``gaussian_filter1d``
(radius ``int(4 * sigma + 0.5)``, normalised); placed circularly on the image grid, its transfer function times
the fields' spectra is the same filter. The normals are the reference's (one ``speckle_normals`` draw per
speckle field, from the sample's own stream), so both backends hold the same speckle to float32 rounding (about
3e-7 of its peak, tests/sim/test_batch.py). The PSF keeps thz.psf_blur's slabs and windows (they beat an FFT at
these sizes) with the blur of each slab compiled. Each field is transformed on its own, so a sample's bytes do
not depend on its batch.
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np
import torch

from thzface.sim import head as H
from thzface.sim import physics as P
from thzface.sim.config import SkinConfig
from thzface.sim.thz import Filters, _psf_energy, speckle_normals

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


@numba.njit(cache=True, nogil=True)
def _curvature(normal, mask, pitch, out):  # pragma: no cover - compiled
    """thz.curvature per pixel: interior pixels of ``mask`` (its 4-neighbour erosion, nothing inner on the
    border) get np.gradient's central differences, |grad n| / sqrt(2); other covered pixels 0.05; background 0."""
    n_r, n_c = mask.shape
    for y in range(n_r):
        for x in range(n_c):
            if not mask[y, x]:
                out[y, x] = 0.0
                continue
            inner = 0 < y < n_r - 1 and 0 < x < n_c - 1
            if not (inner and mask[y - 1, x] and mask[y + 1, x] and mask[y, x - 1] and mask[y, x + 1]):
                out[y, x] = 0.05
                continue
            acc = 0.0
            for c in range(3):
                g_r = (normal[y + 1, x, c] - normal[y - 1, x, c]) / (2.0 * pitch)
                g_c = (normal[y, x + 1, c] - normal[y, x - 1, c]) / (2.0 * pitch)
                acc += g_r * g_r + g_c * g_c
            out[y, x] = math.sqrt(acc / 2.0)


def curvature_fast(normal: np.ndarray, mask: np.ndarray, pitch: float) -> np.ndarray:
    """thz.curvature in one compiled pass (the same per-pixel arithmetic)."""
    out = np.empty(mask.shape)
    _curvature(np.ascontiguousarray(normal, np.float64), np.ascontiguousarray(mask, np.bool_), float(pitch), out)
    return out


@numba.njit(cache=True, nogil=True)
def _slab_blur(img, slab, s, k, r0, r1, c0, c1, out):  # pragma: no cover - compiled
    """Add to ``out`` (C, H, W) the separable blur by ``k`` (2r + 1,) of the pixels of ``img`` (C, H, W) whose
    ``slab`` (H, W) is ``s``, on the window rows r0:r1, columns c0:c1 with zeros outside it (scipy's constant
    mode), rows first, then columns, as gaussian_filter. Each nonzero value is spread by the kernel (work in
    proportion to the slab's pixels, not its window: a depth slab is a thin band of the face)."""
    rad = (k.shape[0] - 1) // 2
    h, w = r1 - r0, c1 - c0
    col = np.zeros((h, w))
    for c in range(img.shape[0]):
        col[:] = 0.0
        for y in range(h):
            for x in range(w):
                val = img[c, r0 + y, c0 + x]
                if val != 0.0 and slab[r0 + y, c0 + x] == s:
                    for t in range(max(-rad, -y), min(rad, h - 1 - y) + 1):
                        col[y + t, x] += k[t + rad] * val
        for y in range(h):
            for x in range(w):
                val = col[y, x]
                if val != 0.0:
                    for t in range(max(-rad, -x), min(rad, w - 1 - x) + 1):
                        out[c, r0 + y, c0 + x + t] += k[t + rad] * val


@numba.njit(cache=True, nogil=True)
def _slabs(idx, w_map, live, slabs):  # pragma: no cover - compiled
    """Per depth slab in one pass: its pixel count, the sum of its beam radii, and the bounding box (rows, then
    columns, inclusive; -1 when empty) of its pixels that any image holds (``live``)."""
    count, total = np.zeros(slabs, np.int64), np.zeros(slabs)
    box = np.full((slabs, 4), -1, np.int64)  # row min, row max, column min, column max
    for y in range(idx.shape[0]):
        for x in range(idx.shape[1]):
            s = idx[y, x]
            count[s] += 1
            total[s] += w_map[y, x]
            if live[y, x]:
                if box[s, 0] < 0:
                    box[s, 0], box[s, 1], box[s, 2], box[s, 3] = y, y, x, x
                else:
                    box[s, 1] = y
                    box[s, 2], box[s, 3] = min(box[s, 2], x), max(box[s, 3], x)
    return count, total, box


def psf_blur_fast(img: np.ndarray, w_map: np.ndarray, pitch: float, slabs: int) -> np.ndarray:
    """thz.psf_blur (the depth-dependent two-way PSF by depth slabs, each on the window its blur reaches) in
    compiled passes: the same slabs, sigmas, kernels (truncate 3) and windows; rounding apart, the same values."""
    lead = img.shape[:-2]
    stack = np.ascontiguousarray(img, np.float64).reshape(-1, *img.shape[-2:])  # (C, H, W)
    n_r, n_c = stack.shape[1:]
    out = np.zeros_like(stack)
    if slabs <= 1 or np.ptp(w_map) < 1e-6:
        sig = float(np.mean(w_map)) / (2 * np.sqrt(2)) / pitch
        _slab_blur(stack, np.zeros(w_map.shape, np.int64), 0, kernel(sig, 3.0), 0, n_r, 0, n_c, out)
        return out.reshape(*lead, n_r, n_c)
    edges = np.quantile(w_map, np.linspace(0, 1, slabs + 1))
    idx = np.clip(np.searchsorted(edges, w_map, side="right") - 1, 0, slabs - 1)
    count, total, box = _slabs(idx, np.ascontiguousarray(w_map, np.float64), (stack != 0).any(0), slabs)
    for s in range(slabs):
        if count[s] and box[s, 0] >= 0:  # the slab holds pixels, and some of them hold a value
            sig = float(total[s] / count[s]) / (2 * np.sqrt(2)) / pitch
            pad = int(3.0 * sig + 0.5) + 1  # the blur reaches at most its kernel radius past the slab's pixels
            r0, r1 = max(box[s, 0] - pad, 0), min(box[s, 1] + pad + 1, n_r)
            c0, c1 = max(box[s, 2] - pad, 0), min(box[s, 3] + pad + 1, n_c)
            _slab_blur(stack, idx, s, kernel(sig, 3.0), r0, r1, c0, c1, out)
    return out.reshape(*lead, n_r, n_c)


FFT_FILTERS = Filters(psf_blur_fast, speckle_fft, skin_optics_lut, curvature_fast)
