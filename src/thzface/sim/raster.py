"""Vectorised numpy triangle rasteriser with a z-buffer (no per-pixel Python loops).

Each triangle expands to the pixel centres of its bounding box; barycentric edge tests keep the covered ones and
``np.maximum.at`` resolves visibility (the largest ``height`` wins, i.e. the surface nearest the sensor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Raster:
    """Per-pixel result: which triangle is visible and where inside it."""

    tri: np.ndarray  # (H, W) int64 visible triangle index, -1 = background
    bary: np.ndarray  # (H, W, 3) float64 barycentric weights of its three vertices (0 on background)
    height: np.ndarray  # (H, W) float64 interpolated height (-inf on background)

    @property
    def mask(self) -> np.ndarray:
        return self.tri >= 0

    def _corners(self, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vertex indices (P, 3) and weights (P, 3) of the covered pixels, and their flat pixel indices."""
        key = id(tris)
        if getattr(self, "_cache_key", None) != key:
            pix = np.flatnonzero(self.tri >= 0)
            self._cache = (tris[self.tri.ravel()[pix]], self.bary.reshape(-1, 3)[pix], pix)
            self._cache_key = key
        return self._cache

    def interpolate(self, values: np.ndarray, tris: np.ndarray) -> np.ndarray:
        """Interpolate per-vertex ``values`` (V, ...) to pixels (H, W, ...); zeros on background."""
        vi, w, pix = self._corners(tris)
        w = w.reshape(w.shape + (1,) * (values.ndim - 1))
        out = np.zeros((self.tri.size,) + values.shape[1:], dtype=np.result_type(values.dtype, np.float64))
        out[pix] = values[vi[:, 0]] * w[:, 0] + values[vi[:, 1]] * w[:, 1] + values[vi[:, 2]] * w[:, 2]
        return out.reshape(self.tri.shape + values.shape[1:])

    def nearest(self, values: np.ndarray, tris: np.ndarray) -> np.ndarray:
        """Value of the vertex with the largest barycentric weight (for labels); zeros on background."""
        vi, w, pix = self._corners(tris)
        out = np.zeros((self.tri.size,) + values.shape[1:], dtype=values.dtype)
        out[pix] = values[vi[np.arange(len(pix)), np.argmax(w, axis=1)]]
        return out.reshape(self.tri.shape + values.shape[1:])


def rasterize(
    uv: np.ndarray, height: np.ndarray, tris: np.ndarray, size: tuple[int, int], keep: np.ndarray | None = None
) -> Raster:
    """Rasterise triangles given vertex pixel coordinates ``uv`` (V, 2) as (column, row), pixel centres at
    integer coordinates, and a per-vertex ``height`` (V,) where larger is nearer. ``keep`` (T,) culls triangles.
    """
    h_img, w_img = size
    if uv.ndim != 2 or uv.shape[1] != 2 or len(height) != len(uv):
        raise ValueError(f"rasterize: uv must be (V, 2) with a height per vertex, got {uv.shape}, {height.shape}")
    tri_ids = np.arange(len(tris)) if keep is None else np.flatnonzero(keep)
    t_uv = uv[tris[tri_ids]]  # (T', 3, 2)
    a, b, c = t_uv[:, 0], t_uv[:, 1], t_uv[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    lo = np.minimum(np.minimum(a, b), c)  # (T', 2)
    hi = np.maximum(np.maximum(a, b), c)
    x0 = np.clip(np.ceil(lo[:, 0]), 0, w_img).astype(np.int64)
    x1 = np.clip(np.floor(hi[:, 0]), -1, w_img - 1).astype(np.int64)
    y0 = np.clip(np.ceil(lo[:, 1]), 0, h_img).astype(np.int64)
    y1 = np.clip(np.floor(hi[:, 1]), -1, h_img - 1).astype(np.int64)
    bw, bh = x1 - x0 + 1, y1 - y0 + 1
    ok = (bw > 0) & (bh > 0) & (np.abs(area) > 1e-12)
    count = np.where(ok, bw * bh, 0)
    tid = np.repeat(np.arange(len(tri_ids)), count)  # (N,) index into the kept triangles
    k = np.arange(tid.size) - np.repeat(np.cumsum(count) - count, count)
    px = x0[tid] + k % bw[tid]
    py = y0[tid] + k // bw[tid]
    pa, pb, pc, ar = a[tid], b[tid], c[tid], area[tid]
    w0 = ((pc[:, 0] - pb[:, 0]) * (py - pb[:, 1]) - (pc[:, 1] - pb[:, 1]) * (px - pb[:, 0])) / ar
    w1 = ((pa[:, 0] - pc[:, 0]) * (py - pc[:, 1]) - (pa[:, 1] - pc[:, 1]) * (px - pc[:, 0])) / ar
    w2 = 1.0 - w0 - w1
    eps = -1e-7
    inside = (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
    tid, px, py, w0, w1, w2 = tid[inside], px[inside], py[inside], w0[inside], w1[inside], w2[inside]
    hv = height[tris[tri_ids[tid]]]  # (N, 3)
    hz = w0 * hv[:, 0] + w1 * hv[:, 1] + w2 * hv[:, 2]
    pix = py * w_img + px
    zbuf = np.full(h_img * w_img, -np.inf)
    np.maximum.at(zbuf, pix, hz)
    win = hz >= zbuf[pix]
    # among exact ties keep the lowest triangle index: assign in descending order so the lowest is written last
    order = np.argsort(-tid[win], kind="stable")
    sel_pix, sel = pix[win][order], np.flatnonzero(win)[order]
    tri = np.full(h_img * w_img, -1, np.int64)
    bary = np.zeros((h_img * w_img, 3))
    tri[sel_pix] = tri_ids[tid[sel]]
    bary[sel_pix] = np.column_stack([w0[sel], w1[sel], w2[sel]])
    return Raster(tri.reshape(h_img, w_img), bary.reshape(h_img, w_img, 3), zbuf.reshape(h_img, w_img))
