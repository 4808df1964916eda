"""The batched renderer's rasteriser on the CPU: one compiled pass over each request's triangles (numba).

The same model as :func:`thzface.sim.raster.rasterize` and the torch rasteriser of sim/batch_render.py: triangles
of make_grid's layout on the extended vertex grid (family 0 = (i, j), (i, j+1), (i+1, j+1), then family 1 = (i, j),
(i+1, j+1), (i+1, j); cells row-major), kept when they face the sensor (signed area < 0 with rows running down) and,
for garments, when their three vertices are covered; pixel centres at integer coordinates in the bounding box,
the same barycentric tolerance, the largest height wins and exact ties go to the lowest triangle index (triangles
are visited in index order and only a strictly nearer one replaces a pixel). Arithmetic in float64 on the
float32 vertex coordinates. Each request is rasterised on its own, so its result does not depend on its batch.

On the CPU this replaces the torch rasteriser's ≈ 80 array passes over every (request, triangle) pair — memory
traffic that dominated the batched backend's rendering — with one loop that touches each triangle once
(docs/simulator.md, "Backends"); the torch rasteriser stays for the GPU.
"""

from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np

from thzface.sim.head import Grid
from thzface.sim.render import RenderRequest, axis_angle

EPS = -1e-7  # barycentric tolerance of raster.rasterize


@numba.njit(cache=True, nogil=True)
def _raster_one(u, v, z, cov, use_cov, size, tri, bary, zbuf):  # pragma: no cover - compiled
    """Rasterise one request: u, v, z (E, A+1) pixel column, row and height of the extended vertex grid; ``cov``
    (E, A+1) covered vertices (read when ``use_cov``). Writes tri (H*W,) int64, bary (H*W, 3), zbuf (H*W,)."""
    n_el, n_ax = u.shape
    n_az = n_ax - 1
    cells = (n_el - 1) * n_az
    for fam in range(2):
        for i in range(n_el - 1):
            for j in range(n_az):
                ia, ja = i, j
                if fam == 0:
                    ib, jb, ic, jc = i, j + 1, i + 1, j + 1
                else:
                    ib, jb, ic, jc = i + 1, j + 1, i + 1, j
                au, av = np.float64(u[ia, ja]), np.float64(v[ia, ja])
                bu, bv = np.float64(u[ib, jb]), np.float64(v[ib, jb])
                cu, cv = np.float64(u[ic, jc]), np.float64(v[ic, jc])
                area = (bu - au) * (cv - av) - (bv - av) * (cu - au)
                if not area < 0.0:  # faces away from the sensor (or degenerate)
                    continue
                if use_cov and not (cov[ia, ja] and cov[ib, jb] and cov[ic, jc]):
                    continue
                if abs(area) <= 1e-12:
                    continue
                x0 = max(math.ceil(min(au, bu, cu)), 0.0)
                x1 = min(math.floor(max(au, bu, cu)), size - 1.0)
                y0 = max(math.ceil(min(av, bv, cv)), 0.0)
                y1 = min(math.floor(max(av, bv, cv)), size - 1.0)
                if x1 < x0 or y1 < y0:
                    continue
                za, zb, zc = np.float64(z[ia, ja]), np.float64(z[ib, jb]), np.float64(z[ic, jc])
                tid = fam * cells + i * n_az + j
                for py in range(int(y0), int(y1) + 1):
                    for px in range(int(x0), int(x1) + 1):
                        w0 = ((cu - bu) * (py - bv) - (cv - bv) * (px - bu)) / area
                        w1 = ((au - cu) * (py - cv) - (av - cv) * (px - cu)) / area
                        w2 = 1.0 - w0 - w1
                        if w0 >= EPS and w1 >= EPS and w2 >= EPS:
                            hz = w0 * za + w1 * zb + w2 * zc
                            p = py * size + px
                            if hz > zbuf[p]:
                                zbuf[p] = hz
                                tri[p] = tid
                                bary[p, 0], bary[p, 1], bary[p, 2] = w0, w1, w2


@numba.njit(cache=True, nogil=True)
def _normals_one(nx, ny, nz, tri, bary, n_el, n_az, out):  # pragma: no cover - compiled
    """Unit normals (H*W, 3) of the covered pixels: the extended grid's vertex normals (E * (A+1),) each,
    interpolated with the pixel's barycentrics and renormalised (zero on background)."""
    n_ax, cells = n_az + 1, (n_el - 1) * n_az
    for p in range(tri.shape[0]):
        t = tri[p]
        if t < 0:
            continue
        fam, cell = t // cells, t % cells
        i, j = cell // n_az, cell % n_az
        a = i * n_ax + j
        c = a + n_ax + 1
        b = a + 1 if fam == 0 else c
        c = c if fam == 0 else a + n_ax
        sx = nx[a] * bary[p, 0] + nx[b] * bary[p, 1] + nx[c] * bary[p, 2]
        sy = ny[a] * bary[p, 0] + ny[b] * bary[p, 1] + ny[c] * bary[p, 2]
        sz = nz[a] * bary[p, 0] + nz[b] * bary[p, 1] + nz[c] * bary[p, 2]
        inv = 1.0 / max(math.sqrt(sx * sx + sy * sy + sz * sz), 1e-12)
        out[p, 0], out[p, 1], out[p, 2] = sx * inv, sy * inv, sz * inv


@numba.njit(cache=True, nogil=True)
def _head_frame(r, dirs, ph, nh):  # pragma: no cover - compiled
    """Head-frame points and outward unit normals (E, A+1, 3) of the radial surface ``r`` (E, A) on the extended
    vertex grid (column A = column 0): head.grid_normals' central differences (azimuth wraps, one-sided at the
    poles, the radial direction where the cross product vanishes, flipped to point outward)."""
    n_el, n_az = r.shape
    for i in range(n_el):
        im, ip = max(i - 1, 0), min(i + 1, n_el - 1)
        for jj in range(n_az + 1):
            j, jm, jp = jj % n_az, (jj - 1) % n_az, (jj + 1) % n_az
            ax = r[i, jp] * dirs[i, jp, 0] - r[i, jm] * dirs[i, jm, 0]
            ay = r[i, jp] * dirs[i, jp, 1] - r[i, jm] * dirs[i, jm, 1]
            az = r[i, jp] * dirs[i, jp, 2] - r[i, jm] * dirs[i, jm, 2]
            ex = r[ip, j] * dirs[ip, j, 0] - r[im, j] * dirs[im, j, 0]
            ey = r[ip, j] * dirs[ip, j, 1] - r[im, j] * dirs[im, j, 1]
            ez = r[ip, j] * dirs[ip, j, 2] - r[im, j] * dirs[im, j, 2]
            nx, ny, nz = ay * ez - az * ey, az * ex - ax * ez, ax * ey - ay * ex
            norm = math.sqrt(nx * nx + ny * ny + nz * nz)
            dx, dy, dz = dirs[i, j, 0], dirs[i, j, 1], dirs[i, j, 2]
            if norm < 1e-9:
                nx, ny, nz = dx, dy, dz
            else:
                nx, ny, nz = nx / norm, ny / norm, nz / norm
            if nx * dx + ny * dy + nz * dz < 0:
                nx, ny, nz = -nx, -ny, -nz
            ph[i, jj, 0], ph[i, jj, 1], ph[i, jj, 2] = r[i, j] * dx, r[i, j] * dy, r[i, j] * dz
            nh[i, jj, 0], nh[i, jj, 1], nh[i, jj, 2] = nx, ny, nz


@numba.njit(cache=True, nogil=True, inline="always")
def _turn(x, y, z, rot, c, s, k, bent):  # pragma: no cover - compiled
    """One vector by ``rot``, or when ``bent`` by Rodrigues (cos ``c``, sin ``s`` about the unit axis ``k``)."""
    if bent:
        dot = (k[0] * x + k[1] * y + k[2] * z) * (1.0 - c)
        return (x * c + (k[1] * z - k[2] * y) * s + k[0] * dot, y * c + (k[2] * x - k[0] * z) * s + k[1] * dot,
                z * c + (k[0] * y - k[1] * x) * s + k[2] * dot)  # fmt: skip
    return (rot[0, 0] * x + rot[0, 1] * y + rot[0, 2] * z, rot[1, 0] * x + rot[1, 1] * y + rot[1, 2] * z,
            rot[2, 0] * x + rot[2, 1] * y + rot[2, 2] * z)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _to_world(ph, nh, rot, shift, ang, axis, bend, use_bend, cam, pw, nw):  # pragma: no cover - compiled
    """Head frame -> world (E, A+1, 3) points and normals: ``rot`` and ``shift`` for the head, Rodrigues by the
    share ``bend`` (E, A) of the angle ``ang`` about ``axis`` for the vertices with bend < 1 (the neck); points
    then in the camera's pixel coordinates: column, row, height (``cam`` = pitch, cx, cy, centre)."""
    n_el, n_ax = ph.shape[0], ph.shape[1]
    n_az = n_ax - 1
    pitch, cx, cy, c0 = cam[0], cam[1], cam[2], cam[3]
    for i in range(n_el):
        for jj in range(n_ax):
            w = bend[i, jj % n_az] if use_bend else 1.0
            bent = w < 1.0
            c, s = (math.cos(w * ang), math.sin(w * ang)) if bent else (1.0, 0.0)
            x, y, z = _turn(ph[i, jj, 0], ph[i, jj, 1], ph[i, jj, 2], rot, c, s, axis, bent)
            pw[i, jj, 0] = (x + shift[0] - cx) / pitch + c0
            pw[i, jj, 1] = (cy - (y + shift[1])) / pitch + c0
            pw[i, jj, 2] = z + shift[2]
            x, y, z = _turn(nh[i, jj, 0], nh[i, jj, 1], nh[i, jj, 2], rot, c, s, axis, bent)
            nw[i, jj, 0], nw[i, jj, 1], nw[i, jj, 2] = x, y, z


def _rotation(q: RenderRequest) -> tuple[float, np.ndarray, bool]:
    """Angle, unit axis and whether the request bends (a rotation and a bend map), as render.partial_rotate."""
    ang, axis = axis_angle(q.rot)
    if axis is None or q.bend is None:
        return 0.0, np.array([0.0, 0.0, 1.0]), False
    return ang, axis, True


def render_cpu(reqs: list[RenderRequest], grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Render every request (cameras of one size) on the CPU, float64: each distinct surface's head-frame points
    and normals once, then per request the world transform and the raster. Returns tri (R*HW,) int64 (-1
    background), bary (R*HW, 3), height (R*HW,) (-inf background) and unit normals (R*HW, 3)."""
    n_el, n_az = grid.shape
    size = reqs[0].cam.size
    n_req, hw = len(reqs), size * size
    tri = np.full((n_req, hw), -1, np.int64)
    bary, zbuf, nrm = np.zeros((n_req, hw, 3)), np.full((n_req, hw), -np.inf), np.zeros((n_req, hw, 3))
    frames: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # a sample's captures share its skin surface
    pw, nw = np.empty((n_el, n_az + 1, 3)), np.empty((n_el, n_az + 1, 3))
    none = np.ones((1, 1))
    ext = np.concatenate([np.arange(n_az), [0]])  # the extended grid's columns
    for k, q in enumerate(reqs):
        if id(q.r) not in frames:
            ph, nh = np.empty((n_el, n_az + 1, 3)), np.empty((n_el, n_az + 1, 3))
            _head_frame(np.ascontiguousarray(q.r, np.float64), grid.dirs, ph, nh)
            frames[id(q.r)] = ph, nh
        ph, nh = frames[id(q.r)]
        ang, axis, bends = _rotation(q)
        cam = np.array([q.cam.pitch_mm, q.cam.cx, q.cam.cy, (size - 1) / 2.0])
        rot, shift = np.asarray(q.rot, np.float64), np.asarray(q.shift, np.float64)
        bend = np.ascontiguousarray(q.bend, np.float64) if bends else none
        _to_world(ph, nh, rot, shift, ang, axis, bend, bends, cam, pw, nw)
        cov = np.ascontiguousarray(q.cover[:, ext]) if q.cover is not None else none.astype(np.bool_)
        _raster_one(pw[..., 0], pw[..., 1], pw[..., 2], cov, q.cover is not None, size, tri[k], bary[k], zbuf[k])
        flat = nw.reshape(-1, 3)
        _normals_one(flat[:, 0], flat[:, 1], flat[:, 2], tri[k], bary[k], n_el, n_az, nrm[k])
    return tri.reshape(-1), bary.reshape(-1, 3), zbuf.reshape(-1), nrm.reshape(-1, 3)


def warm_up() -> None:
    """Load (or compile, on first use) every kernel in this process: a parent calls it before forking workers,
    which then inherit the machine code instead of each loading it."""
    from thzface.sim.head import make_grid
    from thzface.sim.render import Camera

    grid = make_grid(30.0)
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # a rotation, so the bend is used
    q = RenderRequest(np.full(grid.shape, 50.0), turn, np.zeros(3), Camera(8, 15.0, 0.0, 0.0),
                      np.ones(grid.shape, bool), np.full(grid.shape, 0.5))  # fmt: skip
    render_cpu([q, dataclasses.replace(q, cover=None, bend=None)], grid)
