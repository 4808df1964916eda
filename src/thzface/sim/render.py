"""Orthographic sensor view of radial surfaces: depth, normals, labels, visibility and projected landmarks.

The sensor looks along -z (a translation-stage raster scan: the same beam direction b = +z for every pixel).
Pixel (column u, row v) centres sit at integer coordinates; rows run downwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thzface.sim.head import Grid, grid_normals
from thzface.sim.raster import Raster, rasterize


@dataclass(frozen=True)
class Camera:
    """A square orthographic scan window."""

    size: int  # pixels per side
    pitch_mm: float  # pixel pitch
    cx: float  # world x of the image centre, mm
    cy: float  # world y of the image centre, mm

    def project(self, p: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> pixel coordinates (..., 2) as (column, row)."""
        c = (self.size - 1) / 2.0
        return np.stack([(p[..., 0] - self.cx) / self.pitch_mm + c, (self.cy - p[..., 1]) / self.pitch_mm + c], -1)


@dataclass
class View:
    """What the sensor sees of one surface."""

    raster: Raster  # visible triangle and barycentrics per pixel
    tris: np.ndarray  # (T, 3) the triangles rasterised
    height: np.ndarray  # (H, W) world z of the surface (toward the sensor), 0 on background
    normal: np.ndarray  # (H, W, 3) world unit normal, 0 on background

    @property
    def mask(self) -> np.ndarray:
        return self.raster.mask

    def attr(self, per_vertex: np.ndarray, nearest: bool = False) -> np.ndarray:
        """Per-vertex grid attribute (E, A, ...) -> per-pixel values."""
        flat = per_vertex.reshape((-1,) + per_vertex.shape[2:])
        if nearest:
            return self.raster.nearest(flat, self.tris)
        return self.raster.interpolate(flat, self.tris)


def rotate(p: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """p @ rot.T for (N, 3) points without BLAS (bit-identical whatever the thread settings)."""
    return p[:, :1] * rot[:, 0] + p[:, 1:2] * rot[:, 1] + p[:, 2:3] * rot[:, 2]


def axis_angle(rot: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Angle (rad) and unit axis of a rotation matrix; the axis is None below 1e-9 rad (no rotation)."""
    ang = float(np.arccos(np.clip((np.trace(rot) - 1) / 2, -1, 1)))
    if ang < 1e-9:
        return ang, None
    return ang, np.array([rot[2, 1] - rot[1, 2], rot[0, 2] - rot[2, 0], rot[1, 0] - rot[0, 1]]) / (2 * np.sin(ang))


def partial_rotate(v: np.ndarray, rot: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Rotate each row of ``v`` (N, 3) by the share ``w`` (N,) of the rotation ``rot`` (axis-angle, Rodrigues;
    elementwise, no BLAS)."""
    ang, axis = axis_angle(rot)
    if axis is None:
        return v.copy()
    phi = (w * ang)[:, None]  # (N, 1)
    dot = np.sum(v * axis, axis=1, keepdims=True)
    return v * np.cos(phi) + np.cross(axis, v) * np.sin(phi) + axis * dot * (1 - np.cos(phi))


def render_surface(
    r: np.ndarray,
    grid: Grid,
    rot: np.ndarray,
    shift: np.ndarray,
    cam: Camera,
    cover: np.ndarray | None = None,
    bend: np.ndarray | None = None,
) -> View:
    """Rasterise a radial surface; ``cover`` (E, A) bool keeps only triangles whose three vertices are covered;
    ``bend`` (E, A) is the share of the rotation each vertex follows (None = rigid)."""
    ph = (r[..., None] * grid.dirs).reshape(-1, 3)  # (V, 3) head frame
    nh = grid_normals(r, grid).reshape(-1, 3)  # (V, 3)
    pw, nw = rotate(ph, rot) + shift, rotate(nh, rot)  # (V, 3) world
    if bend is not None:  # the vertices that follow only part of the rotation (the neck)
        part = np.flatnonzero(bend.reshape(-1) < 1.0)
        w = bend.reshape(-1)[part]
        pw[part] = partial_rotate(ph[part], rot, w) + shift
        nw[part] = partial_rotate(nh[part], rot, w)
    tris = grid.tris
    if cover is not None:
        c = cover.reshape(-1)
        tris = tris[c[tris[:, 0]] & c[tris[:, 1]] & c[tris[:, 2]]]
    a, b, c3 = pw[tris[:, 0]], pw[tris[:, 1]], pw[tris[:, 2]]  # (T, 3) each
    front = (b[:, 0] - a[:, 0]) * (c3[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c3[:, 0] - a[:, 0]) > 0
    # counter-clockwise seen from +z: faces the sensor
    ras = rasterize(cam.project(pw), pw[:, 2], tris, (cam.size, cam.size), keep=front)
    n = ras.interpolate(nw, tris)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    height = np.where(ras.mask, ras.height, 0.0)
    return View(ras, tris, height, n)


@dataclass
class RenderRequest:
    """One radial surface seen by one camera (the unit both renderers take)."""

    r: np.ndarray  # (E, A) radius, mm
    rot: np.ndarray  # (3, 3) head -> world
    shift: np.ndarray  # (3,) head -> world translation
    cam: Camera
    cover: np.ndarray | None = None  # (E, A) bool: keep triangles whose three vertices are covered
    bend: np.ndarray | None = None  # (E, A) share of the rotation each vertex follows (None = rigid)


def render_request(q: RenderRequest, grid: Grid) -> View:
    """The reference renderer on one request."""
    return render_surface(q.r, grid, q.rot, q.shift, q.cam, cover=q.cover, bend=q.bend)


def front_of(env: View, skin: View, tol_mm: float = 0.5) -> np.ndarray:
    """Pixels where ``env`` (the garments) is the first surface the beam meets: in front of the skin or alone."""
    return env.mask & (~skin.mask | (env.height >= skin.height - tol_mm))


def project_landmarks(
    lm_head: np.ndarray, rot: np.ndarray, shift: np.ndarray, cam: Camera, skin: View, tol_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks -> pixel (x, y) in this camera and a not-self-occluded flag (z-buffer test)."""
    pw = rotate(lm_head, rot) + shift  # (68, 3)
    uv = cam.project(pw)
    iu, iv = np.rint(uv[:, 0]).astype(int), np.rint(uv[:, 1]).astype(int)
    inside = (iu >= 0) & (iu < cam.size) & (iv >= 0) & (iv < cam.size)
    iu, iv = np.clip(iu, 0, cam.size - 1), np.clip(iv, 0, cam.size - 1)
    zb = skin.raster.height[iv, iu]
    visible = inside & np.isfinite(zb) & (pw[:, 2] >= zb - tol_mm)
    return uv, visible
