"""Batched renderer: many radial surfaces, poses and cameras rasterised in one pass — torch on the GPU (or on the
CPU when asked: ``render_batch(..., raster="torch")``); on the CPU by default the compiled per-request renderer of
sim/batch_raster.py, which one pass over each request's triangles makes several times faster there.

The same model as :func:`thzface.sim.render.render_surface` (the reference): grid normals by central differences,
the neck bent by the share ``bend`` of the head rotation (Rodrigues), counter-clockwise triangles facing the
sensor, pixel centres at integer coordinates, barycentric edge tests with the same tolerance, the nearest surface
wins and exact ties go to the lowest triangle index. It differs in precision (float32) and in scale: every request
of a batch is one row of the same tensors. Each request's result depends on that request alone (elementwise work,
order-free max/min scatters), so a sample renders to the same bytes whatever batch it falls in.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from thzface.sim.head import Grid
from thzface.sim.raster import Raster
from thzface.sim.render import RenderRequest, View, axis_angle

_EPS = -1e-7  # barycentric tolerance of raster.rasterize


def _take(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """1-D gather (index_select: several times faster than advanced indexing on the CPU)."""
    return t.index_select(0, idx)


def sim_device() -> torch.device:
    """The batched backend's device: the GPU when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _cross(a: tuple, b: tuple) -> tuple:
    """Cross product of two vectors given as component tuples (x, y, z) of equal-shaped tensors."""
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _padded(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices that pad an (E, A) grid map to (E + 2, A + 3): the edge rows repeated (one-sided
    differences at the poles become central ones), columns [A-1, 0 .. A-1, 0, 1] (the azimuth wraps). Its
    centre [1:-1, 1:-1] is the extended vertex grid (E, A + 1): the A columns, then column 0 again, so the
    triangles of the last column find their j + 1 corners without a roll."""
    n_el, n_az = grid.shape
    rows = np.concatenate([[0], np.arange(n_el), [n_el - 1]])
    cols = np.concatenate([[n_az - 1], np.arange(n_az), [0, 1]])
    return rows, cols


def _normals(p: tuple, d: tuple) -> tuple:
    """grid_normals on the extended vertex grid: padded points p (x, y, z), each (S, E+2, A+3), and the extended
    unit directions d, each (E, A+1) -> outward unit normals (x, y, z), each (S, E, A+1)."""
    d_az = tuple(c[:, 1:-1, 2:] - c[:, 1:-1, :-2] for c in p)  # (S, E, A+1) each: p[j+1] - p[j-1]
    d_el = tuple(c[:, 2:, 1:-1] - c[:, :-2, 1:-1] for c in p)  # central; one-sided at the poles (edge rows)
    n = _cross(d_az, d_el)
    norm = torch.sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2])  # (S, E, A+1)
    bad, inv = norm < 1e-9, 1.0 / torch.clamp(norm, min=1e-12)
    n = tuple(torch.where(bad, dc, c * inv) for c, dc in zip(n, d, strict=True))
    sign = torch.where(n[0] * d[0] + n[1] * d[1] + n[2] * d[2] < 0, -1.0, 1.0)  # (S, E, A+1)
    return tuple(c * sign for c in n)


def _bent(req: RenderRequest, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertices that follow only part of the rotation (bend < 1, the neck): their indices, cos and sin of their
    share of the rotation angle, and the unit axis (float64 numpy per request, so the trigonometry never
    depends on the batch); indices into the extended vertex grid (columns ``cols``). No rotation: none."""
    ang, axis = axis_angle(req.rot)
    none = np.zeros(0, np.int64)
    if axis is None or req.bend is None:
        return none, np.zeros(0), np.zeros(0), np.array([0.0, 0.0, 1.0])
    bend = req.bend[:, cols].reshape(-1)  # (E * (A+1),)
    idx = np.flatnonzero(bend < 1.0)
    w = bend[idx]
    return idx, np.cos(w * ang), np.sin(w * ang), axis


def _transform(reqs: list[RenderRequest], grid: Grid, dev: torch.device) -> tuple[tuple, tuple]:
    """World vertices and normals of every request on the extended vertex grid (E, A+1) as (x, y, z) components,
    each (R, E * (A+1)): the rotation matrix for the head, Rodrigues with each vertex's share of the angle for the
    bent neck (as render.render_surface)."""
    f32 = torch.float32
    rows, cols = _padded(grid)
    dp = tuple(torch.as_tensor(grid.dirs[rows][:, cols, c], dtype=f32, device=dev) for c in range(3))  # (E+2, A+3)
    d = tuple(c[1:-1, 1:-1] for c in dp)  # (E, A+1) each
    first: dict[int, int] = {}  # one normal field per distinct surface (a sample's two captures share its skin)
    which = torch.as_tensor([first.setdefault(id(q.r), len(first)) for q in reqs], device=dev)  # (R,)
    surfs = list({id(q.r): q.r for q in reqs}.values())
    r = torch.as_tensor(np.stack([s[rows][:, cols] for s in surfs]), dtype=f32, device=dev)  # (S, E+2, A+3)
    ps = tuple(r * c for c in dp)  # (S, E+2, A+3) each
    nh = tuple(c.reshape(len(surfs), -1).index_select(0, which) for c in _normals(ps, d))  # (R, V) each
    ph = tuple(c[:, 1:-1, 1:-1].reshape(len(surfs), -1).index_select(0, which) for c in ps)  # (R, V) each
    n_v = ph[0].shape[1]
    rot = torch.as_tensor(np.stack([q.rot for q in reqs]), dtype=f32, device=dev)  # (R, 3, 3)
    shift = torch.as_tensor(np.stack([q.shift for q in reqs]), dtype=f32, device=dev)  # (R, 3)
    m = [[rot[:, a, b : b + 1] for b in range(3)] for a in range(3)]  # (R, 1) each

    def rigid(v: tuple) -> tuple:  # (R, V) components -> rot @ v
        return tuple(m[a][0] * v[0] + m[a][1] * v[1] + m[a][2] * v[2] for a in range(3))

    pw, nw = rigid(ph), rigid(nh)
    bent = [_bent(q, cols[1:-1]) for q in reqs]
    flat = torch.as_tensor(np.concatenate([b[0] + i * n_v for i, b in enumerate(bent)]), device=dev)  # (B,)
    if len(flat):
        owner = torch.as_tensor(np.concatenate([np.full(len(b[0]), i) for i, b in enumerate(bent)]), device=dev)
        cos = torch.as_tensor(np.concatenate([b[1] for b in bent]), dtype=f32, device=dev)  # (B,)
        sin = torch.as_tensor(np.concatenate([b[2] for b in bent]), dtype=f32, device=dev)
        axis = torch.as_tensor(np.stack([b[3] for b in bent]), dtype=f32, device=dev).index_select(0, owner)  # (B, 3)
        k = (axis[:, 0], axis[:, 1], axis[:, 2])

        def turn(v: tuple) -> tuple:  # (R, V) components -> their bent vertices rotated by their share, (B,) each
            vb = tuple(c.reshape(-1).index_select(0, flat) for c in v)
            kv = _cross(k, vb)
            dot = (k[0] * vb[0] + k[1] * vb[1] + k[2] * vb[2]) * (1 - cos)  # (B,)
            return tuple(vb[c] * cos + kv[c] * sin + k[c] * dot for c in range(3))

        for c, t in zip((*pw, *nw), (*turn(ph), *turn(nh)), strict=True):  # rigid's own tensors: in place, no copy
            c.reshape(-1).index_copy_(0, flat, t)
    return tuple(pw[c] + shift[:, c : c + 1] for c in range(3)), nw


@functools.lru_cache(maxsize=16)
def _corners(n_el: int, n_az: int, dev: torch.device) -> torch.Tensor:
    """(3, T) corner vertex ids of make_grid's triangles on the extended vertex grid (E, A+1): per cell (i, j)
    family 0 = (i, j), (i, j+1), (i+1, j+1), then family 1 = (i, j), (i+1, j+1), (i+1, j); column j + 1 never
    wraps (the extended grid repeats column 0 at the end)."""
    n_ax = n_az + 1
    i, j = np.meshgrid(np.arange(n_el - 1), np.arange(n_az), indexing="ij")
    a = (i * n_ax + j).reshape(-1)  # (cells,) corner (i, j)
    c = a + n_ax + 1  # (i+1, j+1)
    tab = np.stack([np.concatenate([a, a]), np.concatenate([a + 1, c]), np.concatenate([c, a + n_ax])])
    return torch.as_tensor(tab, device=dev)


_LAYOUT_OK: dict[int, tuple[np.ndarray, bool]] = {}  # id(grid.tris) -> (that array, kept alive; layout ok)


def _grid_layout_ok(grid: Grid) -> bool:
    """True when ``grid.tris`` is make_grid's layout: per cell (i, j), first all [v00, v01, v11], then all
    [v00, v11, v10] (the batched rasteriser forms triangles from shifted slices of the vertex grid)."""
    if id(grid.tris) in _LAYOUT_OK:
        return _LAYOUT_OK[id(grid.tris)][1]
    n_el, n_az = grid.shape
    i, j = np.meshgrid(np.arange(n_el - 1), np.arange(n_az), indexing="ij")
    v00, v01 = i * n_az + j, i * n_az + (j + 1) % n_az
    want = np.concatenate([np.stack([v00, v01, v01 + n_az], -1), np.stack([v00, v01 + n_az, v00 + n_az], -1)])
    ok = bool(np.array_equal(want.reshape(-1, 3), grid.tris))
    _LAYOUT_OK[id(grid.tris)] = (grid.tris, ok)
    return ok


def render_batch(
    reqs: list[RenderRequest], grid: Grid, device: torch.device | None = None, raster: str = "auto"
) -> list[View]:
    """Render every request (all cameras of one size); returns numpy Views like render_surface's, whose ``tris``
    is the whole grid mesh (triangle indices in the raster refer to it). ``raster``: ``auto`` (the compiled
    rasteriser on the CPU, torch on the GPU) or ``torch`` (torch on either; tests compare the two)."""
    if raster not in ("auto", "torch"):
        raise ValueError(f"render_batch: raster must be auto or torch, got {raster!r}")
    if not reqs:
        return []
    if not _grid_layout_ok(grid):
        raise ValueError("render_batch: the grid's triangles are not in make_grid's layout")
    dev = device or sim_device()
    size = reqs[0].cam.size
    if any(q.cam.size != size for q in reqs):
        raise ValueError("render_batch: all cameras of a batch must have one size")
    if dev.type == "cpu" and raster != "torch":  # compiled, one request at a time (sim/batch_raster.py)
        from thzface.sim.batch_raster import render_cpu

        return _views(*render_cpu(reqs, grid), grid.tris, size)
    n_req, (n_el, n_az) = len(reqs), grid.shape
    n_ax = n_az + 1  # the extended vertex grid's columns (column 0 repeated at the end)
    (wx, wy, wz), nw = _transform(reqs, grid, dev)  # (R, V) each, V = E * (A+1)
    pitch = torch.as_tensor([q.cam.pitch_mm for q in reqs], dtype=torch.float32, device=dev)[:, None]  # (R, 1)
    cx = torch.as_tensor([q.cam.cx for q in reqs], dtype=torch.float32, device=dev)[:, None]
    cy = torch.as_tensor([q.cam.cy for q in reqs], dtype=torch.float32, device=dev)[:, None]
    c0 = (size - 1) / 2.0
    u = ((wx - cx) / pitch + c0).reshape(n_req, n_el, n_ax)  # (R, E, A+1) column
    v = ((cy - wy) / pitch + c0).reshape(n_req, n_el, n_ax)  # (R, E, A+1) row
    cover = None
    if any(q.cover is not None for q in reqs):  # garments: only triangles whose three vertices are covered
        full, ext = np.ones(grid.shape, bool), _padded(grid)[1][1:-1]
        cover = np.stack([full if q.cover is None else q.cover for q in reqs])[..., ext]  # (R, E, A+1)
    tri, bary, zbuf, nrm_t = _raster_torch(u, v, wz, nw, cover, size, dev)
    return _views(tri.cpu().numpy(), bary.cpu().numpy(), zbuf.cpu().numpy(), nrm_t.cpu().numpy(), grid.tris, size)


def _raster_torch(u, v, wz, nw, cover, size: int, dev: torch.device) -> tuple:
    """The torch rasteriser (the GPU's): u, v (R, E, A+1) pixel coordinates, wz (R, V) heights, nw the normals,
    ``cover`` (R, E, A+1) bool or None -> tri (R*HW,), bary (R*HW, 3), zbuf (R*HW,), unit normals (R*HW, 3)."""
    n_req, n_el, n_ax = u.shape
    n_az, hw = n_ax - 1, size * size
    # facing test on views of the vertex grid: family 0 = (i, j), (i, j+1), (i+1, j+1); 1 = (i, j), (i+1, j+1), (i+1, j)
    ua, va_ = u[:, :-1, :-1], v[:, :-1, :-1]  # (R, E-1, A) corner (i, j)
    u01, v01, u11, v11 = u[:, :-1, 1:], v[:, :-1, 1:], u[:, 1:, 1:], v[:, 1:, 1:]  # (i, j+1), (i+1, j+1)
    u10, v10 = u[:, 1:, :-1], v[:, 1:, :-1]  # (i+1, j)
    area0 = (u01 - ua) * (v11 - va_) - (v01 - va_) * (u11 - ua)  # (R, E-1, A)
    area1 = (u11 - ua) * (v10 - va_) - (v11 - va_) * (u10 - ua)
    keep = torch.stack([area0 < 0, area1 < 0], 1)  # (R, 2, E-1, A); area < 0 faces the sensor (rows run down)
    if cover is not None:
        cov = torch.as_tensor(cover).to(dev)
        c_ac = cov[:, :-1, :-1] & cov[:, 1:, 1:]  # (R, E-1, A) both families' corners (i, j) and (i+1, j+1)
        keep &= torch.stack([c_ac & cov[:, :-1, 1:], c_ac & cov[:, 1:, :-1]], 1)
    n_t = 2 * (n_el - 1) * n_az
    kept = keep.reshape(n_req, n_t)  # (R, T)
    flat = torch.nonzero(kept.reshape(-1)).squeeze(1)  # (K,) kept (request, triangle) pairs, request-major
    rid = torch.repeat_interleave(torch.arange(n_req, device=dev), kept.sum(1))  # (K,) no integer division
    tid = flat - rid * n_t  # (K,) index into grid.tris
    corners, base = _corners(n_el, n_az, dev), rid * (n_el * n_ax)  # (3, T) vertex ids on the extended grid
    va, vb, vc = (base + _take(corners[c], tid) for c in range(3))  # (K,) flat vertex index of each corner
    su, sv, sz = u.reshape(-1), v.reshape(-1), wz.reshape(-1)
    au, bu, cu, av, bv, cv = (_take(t, x) for t in (su, sv) for x in (va, vb, vc))
    za, zb, zc = _take(sz, va), _take(sz, vb), _take(sz, vc)  # (K,) heights
    area = (bu - au) * (cv - av) - (bv - av) * (cu - au)  # (K,)
    x0 = torch.clamp(torch.ceil(torch.minimum(torch.minimum(au, bu), cu)), 0, size)
    x1 = torch.clamp(torch.floor(torch.maximum(torch.maximum(au, bu), cu)), -1, size - 1)
    y0 = torch.clamp(torch.ceil(torch.minimum(torch.minimum(av, bv), cv)), 0, size)
    y1 = torch.clamp(torch.floor(torch.maximum(torch.maximum(av, bv), cv)), -1, size - 1)
    bw, bh = (x1 - x0 + 1).long(), (y1 - y0 + 1).long()
    sub = torch.nonzero((bw > 0) & (bh > 0) & (torch.abs(area) > 1e-12)).squeeze(1)  # (K',) boxes with pixels
    # barycentric planes over the box, origin at its first pixel: w = A dx + B dy + C
    au, bu, cu, av, bv, cv, area, x0, y0 = (_take(t, sub) for t in (au, bu, cu, av, bv, cv, area, x0, y0))
    planes = (
        -(cv - bv) / area,
        (cu - bu) / area,
        ((cu - bu) * (y0 - bv) - (cv - bv) * (x0 - bu)) / area,
        -(av - cv) / area,
        (au - cu) / area,
        ((au - cu) * (y0 - cv) - (av - cv) * (x0 - cu)) / area,
    )  # (K',) each
    zc = _take(zc, sub)
    dza, dzb = _take(za, sub) - zc, _take(zb, sub) - zc
    rid, tid, bw = _take(rid, sub), _take(tid, sub), _take(bw, sub)
    pbase = rid * hw + y0.long() * size + x0.long()  # (K',) flat pixel of the box origin over the batch
    count = bw * _take(bh, sub)
    j = torch.repeat_interleave(torch.arange(len(count), device=dev), count)  # (N,) triangle per candidate
    k = torch.arange(len(j), device=dev) - _take(torch.cumsum(count, 0) - count, j)
    kf, bwj = k.float(), _take(bw, j).float()
    dyf = torch.floor((kf + 0.5) / bwj)  # row in the box: exact in float32 (k < 2**24, bw <= size)
    dxf = kf - dyf * bwj
    pa0, pb0, pc0, pa1, pb1, pc1 = (_take(t, j) for t in planes)
    w0 = pa0 * dxf + pb0 * dyf + pc0  # (N,)
    w1 = pa1 * dxf + pb1 * dyf + pc1
    w2 = 1.0 - w0 - w1
    inside = torch.nonzero((w0 >= _EPS) & (w1 >= _EPS) & (w2 >= _EPS)).squeeze(1)
    j, w0, w1, w2 = _take(j, inside), _take(w0, inside), _take(w1, inside), _take(w2, inside)
    pix = _take(pbase, j) + (_take(dyf, inside) * size + _take(dxf, inside)).long()  # (N',) flat pixel, batch
    hz = _take(zc, j) + w0 * _take(dza, j) + w1 * _take(dzb, j)  # (N',) height
    zbuf = torch.full((n_req * hw,), float("-inf"), dtype=torch.float32, device=dev).scatter_reduce(
        0, pix, hz, "amax"
    )  # (R*HW,)
    win = torch.nonzero(hz >= _take(zbuf, pix)).squeeze(1)
    pix_w, tj = _take(pix, win), _take(_take(tid, j), win)
    best = torch.full((n_req * hw,), n_t, dtype=torch.long, device=dev).scatter_reduce(0, pix_w, tj, "amin")
    sel = _take(win, torch.nonzero(tj == _take(best, pix_w)).squeeze(1))  # winners: nearest, then lowest index
    pix, j = _take(pix, sel), _take(j, sel)
    t_sel, r_sel = _take(tid, j), _take(rid, j)  # (M,)
    tri = torch.full((n_req * hw,), -1, dtype=torch.long, device=dev).index_copy_(0, pix, t_sel)
    ws = [_take(w, sel) for w in (w0, w1, w2)]  # (M,) each
    bary = torch.zeros((n_req * hw, 3), dtype=torch.float32, device=dev).index_copy_(
        0, pix, torch.stack(ws, -1)
    )  # (R*HW, 3)
    vs = [_take(corners[c], t_sel) + r_sel * (n_el * n_ax) for c in range(3)]  # (M,) each
    nrm = []
    for c in range(3):
        sn = nw[c].reshape(-1)
        val = _take(sn, vs[0]) * ws[0] + _take(sn, vs[1]) * ws[1] + _take(sn, vs[2]) * ws[2]  # (M,)
        nrm.append(torch.zeros(n_req * hw, dtype=torch.float32, device=dev).index_copy_(0, pix, val))
    inv = 1.0 / torch.clamp(torch.sqrt(nrm[0] * nrm[0] + nrm[1] * nrm[1] + nrm[2] * nrm[2]), min=1e-12)
    return tri, bary, zbuf, torch.stack([c * inv for c in nrm], -1)  # (R*HW, 3) normals


def _views(tri, bary, zbuf, nrm, tris: np.ndarray, size: int) -> list[View]:
    """Flat numpy results -> float64 Views (one per request)."""
    tri_n = tri.reshape(-1, size, size)
    bary_n = bary.astype(np.float64).reshape(-1, size, size, 3)
    z_n = zbuf.astype(np.float64).reshape(-1, size, size)
    n_n = nrm.astype(np.float64).reshape(-1, size, size, 3)
    out = []
    for i in range(len(tri_n)):
        ras = Raster(tri_n[i], bary_n[i], z_n[i])
        out.append(View(ras, tris, np.where(ras.mask, z_n[i], 0.0), n_n[i]))
    return out
