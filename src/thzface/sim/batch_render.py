"""Batched torch renderer: many radial surfaces, poses and cameras rasterised in one pass (CPU or GPU).

The same model as :func:`thzface.sim.render.render_surface` (the reference): grid normals by central differences,
the neck bent by the share ``bend`` of the head rotation (Rodrigues), counter-clockwise triangles facing the
sensor, pixel centres at integer coordinates, barycentric edge tests with the same tolerance, the nearest surface
wins and exact ties go to the lowest triangle index. It differs in precision (float32) and in scale: every request
of a batch is one row of the same tensors. Each request's result depends on that request alone (elementwise work,
order-free max/min scatters), so a sample renders to the same bytes whatever batch it falls in.
"""

from __future__ import annotations

import numpy as np
import torch

from thzface.sim.head import Grid
from thzface.sim.raster import Raster
from thzface.sim.render import RenderRequest, View

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


def _normals(p: tuple, d: tuple) -> tuple:
    """grid_normals for a stack of surfaces: points p and unit directions d as (x, y, z) components, each
    (R, E, A) / (E, A) -> outward unit normals (x, y, z), each (R, E, A)."""

    def d_el(c: torch.Tensor) -> torch.Tensor:  # (R, E, A) one-sided at the poles
        return torch.cat([c[:, 1:2] - c[:, :1], c[:, 2:] - c[:, :-2], c[:, -1:] - c[:, -2:-1]], dim=1)

    d_az = tuple(torch.roll(c, -1, dims=2) - torch.roll(c, 1, dims=2) for c in p)  # (R, E, A) each
    n = _cross(d_az, tuple(d_el(c) for c in p))
    norm = torch.sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2])  # (R, E, A)
    bad, inv = norm < 1e-9, 1.0 / torch.clamp(norm, min=1e-12)
    n = tuple(torch.where(bad, dc, c * inv) for c, dc in zip(n, d, strict=True))
    sign = torch.where(n[0] * d[0] + n[1] * d[1] + n[2] * d[2] < 0, -1.0, 1.0)  # (R, E, A)
    return tuple(c * sign for c in n)


def _bent(req: RenderRequest, n_v: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vertices that follow only part of the rotation (bend < 1, the neck): their indices, cos and sin of their
    share of the rotation angle, and the unit axis (float64 numpy per request, so the trigonometry never
    depends on the batch). No rotation: no bent vertices."""
    rot = req.rot
    ang = float(np.arccos(np.clip((np.trace(rot) - 1) / 2, -1, 1)))
    none = np.zeros(0, np.int64)
    if ang < 1e-9 or req.bend is None:
        return none, np.zeros(0), np.zeros(0), np.array([0.0, 0.0, 1.0])
    axis = np.array([rot[2, 1] - rot[1, 2], rot[0, 2] - rot[2, 0], rot[1, 0] - rot[0, 1]]) / (2 * np.sin(ang))
    idx = np.flatnonzero(req.bend.reshape(-1) < 1.0)
    w = req.bend.reshape(-1)[idx]
    return idx, np.cos(w * ang), np.sin(w * ang), axis


def _transform(reqs: list[RenderRequest], grid: Grid, dev: torch.device) -> tuple[tuple, tuple]:
    """World vertices and normals of every request as (x, y, z) components, each (R, V): the rotation matrix for
    the head, Rodrigues with each vertex's share of the angle for the bent neck (as render.render_surface)."""
    f32 = torch.float32
    d = tuple(torch.as_tensor(grid.dirs[..., c], dtype=f32, device=dev) for c in range(3))  # (E, A) each
    first: dict[int, int] = {}  # one normal field per distinct surface (a sample's two captures share its skin)
    which = torch.as_tensor([first.setdefault(id(q.r), len(first)) for q in reqs], device=dev)  # (R,)
    surfs = list({id(q.r): q.r for q in reqs}.values())
    r = torch.as_tensor(np.stack(surfs), dtype=f32, device=dev)  # (S, E, A)
    ps = tuple(r * c for c in d)  # (S, E, A) each
    nh = tuple(c.reshape(len(surfs), -1).index_select(0, which) for c in _normals(ps, d))  # (R, V) each
    ph = tuple(c.reshape(len(surfs), -1).index_select(0, which) for c in ps)  # (R, V) each
    n_v = ph[0].shape[1]
    rot = torch.as_tensor(np.stack([q.rot for q in reqs]), dtype=f32, device=dev)  # (R, 3, 3)
    shift = torch.as_tensor(np.stack([q.shift for q in reqs]), dtype=f32, device=dev)  # (R, 3)
    m = [[rot[:, a, b : b + 1] for b in range(3)] for a in range(3)]  # (R, 1) each

    def rigid(v: tuple) -> tuple:  # (R, V) components -> rot @ v
        return tuple(m[a][0] * v[0] + m[a][1] * v[1] + m[a][2] * v[2] for a in range(3))

    pw, nw = rigid(ph), rigid(nh)
    bent = [_bent(q, n_v) for q in reqs]
    flat = torch.as_tensor(np.concatenate([b[0] + i * n_v for i, b in enumerate(bent)]), device=dev)  # (B,)
    if len(flat):
        rows = torch.as_tensor(np.concatenate([np.full(len(b[0]), i) for i, b in enumerate(bent)]), device=dev)
        cos = torch.as_tensor(np.concatenate([b[1] for b in bent]), dtype=f32, device=dev)  # (B,)
        sin = torch.as_tensor(np.concatenate([b[2] for b in bent]), dtype=f32, device=dev)
        axis = torch.as_tensor(np.stack([b[3] for b in bent]), dtype=f32, device=dev).index_select(0, rows)  # (B, 3)
        k = (axis[:, 0], axis[:, 1], axis[:, 2])

        def turn(v: tuple) -> tuple:  # (R, V) components -> their bent vertices rotated by their share, (B,) each
            vb = tuple(c.reshape(-1).index_select(0, flat) for c in v)
            kv = _cross(k, vb)
            dot = (k[0] * vb[0] + k[1] * vb[1] + k[2] * vb[2]) * (1 - cos)  # (B,)
            return tuple(vb[c] * cos + kv[c] * sin + k[c] * dot for c in range(3))

        pw = tuple(c.reshape(-1).index_copy(0, flat, t).reshape(c.shape) for c, t in zip(pw, turn(ph), strict=True))
        nw = tuple(c.reshape(-1).index_copy(0, flat, t).reshape(c.shape) for c, t in zip(nw, turn(nh), strict=True))
    return tuple(pw[c] + shift[:, c : c + 1] for c in range(3)), nw


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


def _corners(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-vertex values (R, E, A) -> the three corners of every triangle, each (R, 2, E-1, A) (family, cell)."""
    t1 = torch.roll(t, -1, dims=2)  # (R, E, A) the neighbour at j + 1
    a = t[:, :-1]
    return (
        torch.stack([a, a], 1),
        torch.stack([t1[:, :-1], t1[:, 1:]], 1),
        torch.stack([t1[:, 1:], t[:, 1:]], 1),
    )


def render_batch(reqs: list[RenderRequest], grid: Grid, device: torch.device | None = None) -> list[View]:
    """Render every request (all cameras of one size); returns numpy Views like render_surface's, whose ``tris``
    is the whole grid mesh (triangle indices in the raster refer to it)."""
    if not reqs:
        return []
    if not _grid_layout_ok(grid):
        raise ValueError("render_batch: the grid's triangles are not in make_grid's layout")
    dev = device or sim_device()
    size = reqs[0].cam.size
    if any(q.cam.size != size for q in reqs):
        raise ValueError("render_batch: all cameras of a batch must have one size")
    n_req, hw, (n_el, n_az) = len(reqs), size * size, grid.shape
    (wx, wy, wz), nw = _transform(reqs, grid, dev)  # (R, V) each
    pitch = torch.as_tensor([q.cam.pitch_mm for q in reqs], dtype=torch.float32, device=dev)[:, None]  # (R, 1)
    cx = torch.as_tensor([q.cam.cx for q in reqs], dtype=torch.float32, device=dev)[:, None]
    cy = torch.as_tensor([q.cam.cy for q in reqs], dtype=torch.float32, device=dev)[:, None]
    c0 = (size - 1) / 2.0
    u = ((wx - cx) / pitch + c0).reshape(n_req, n_el, n_az)  # (R, E, A) column
    v = ((cy - wy) / pitch + c0).reshape(n_req, n_el, n_az)  # (R, E, A) row
    # facing test on views of the vertex grid: family 0 = (i, j), (i, j+1), (i+1, j+1); 1 = (i, j), (i+1, j+1), (i+1, j)
    u1, v1 = torch.roll(u, -1, dims=2), torch.roll(v, -1, dims=2)  # (R, E, A) the neighbour at j + 1
    ua, va_ = u[:, :-1], v[:, :-1]  # (R, E-1, A)
    area0 = (u1[:, :-1] - ua) * (v1[:, 1:] - va_) - (v1[:, :-1] - va_) * (u1[:, 1:] - ua)
    area1 = (u1[:, 1:] - ua) * (v[:, 1:] - va_) - (v1[:, 1:] - va_) * (u[:, 1:] - ua)
    keep = torch.stack([area0 < 0, area1 < 0], 1)  # (R, 2, E-1, A); area < 0 faces the sensor (rows run down)
    if any(q.cover is not None for q in reqs):  # garments: only triangles whose three vertices are covered
        cov = torch.as_tensor(np.stack([np.ones(grid.shape, bool) if q.cover is None else q.cover for q in reqs]))
        ca, cb, cc = _corners(cov.to(dev))
        keep &= ca & cb & cc
    flat = torch.nonzero(keep.reshape(-1)).squeeze(1)  # (K,) kept (request, triangle) pairs
    cells = (n_el - 1) * n_az
    n_t = 2 * cells
    rid, tid = torch.div(flat, n_t, rounding_mode="floor"), flat % n_t  # tid: index into grid.tris
    fam, cell = torch.div(tid, cells, rounding_mode="floor"), tid % cells
    i = torch.div(cell, n_az, rounding_mode="floor")
    j = cell - i * n_az
    j1 = torch.where(j + 1 == n_az, torch.zeros_like(j), j + 1)
    top, low, base = i * n_az, (i + 1) * n_az, rid * (n_el * n_az)
    va = base + top + j  # (K,) flat vertex index of each corner
    vb = base + torch.where(fam == 0, top + j1, low + j1)
    vc = base + torch.where(fam == 0, low + j1, low + j)
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
    bwj = _take(bw, j)
    dy = torch.div(k, bwj, rounding_mode="floor")
    dx = k - dy * bwj
    dxf, dyf = dx.float(), dy.float()
    pa0, pb0, pc0, pa1, pb1, pc1 = (_take(t, j) for t in planes)
    w0 = pa0 * dxf + pb0 * dyf + pc0  # (N,)
    w1 = pa1 * dxf + pb1 * dyf + pc1
    w2 = 1.0 - w0 - w1
    inside = torch.nonzero((w0 >= _EPS) & (w1 >= _EPS) & (w2 >= _EPS)).squeeze(1)
    j, w0, w1, w2 = _take(j, inside), _take(w0, inside), _take(w1, inside), _take(w2, inside)
    pix = _take(pbase, j) + _take(dy, inside) * size + _take(dx, inside)  # (N',) flat pixel over the batch
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
    verts = torch.as_tensor(grid.tris, device=dev).index_select(0, t_sel) + r_sel[:, None] * (n_el * n_az)  # (M, 3)
    vs = [verts[:, i].contiguous() for i in range(3)]  # (M,) each
    nrm = []
    for c in range(3):
        sn = nw[c].reshape(-1)
        val = _take(sn, vs[0]) * ws[0] + _take(sn, vs[1]) * ws[1] + _take(sn, vs[2]) * ws[2]  # (M,)
        nrm.append(torch.zeros(n_req * hw, dtype=torch.float32, device=dev).index_copy_(0, pix, val))
    inv = 1.0 / torch.clamp(torch.sqrt(nrm[0] * nrm[0] + nrm[1] * nrm[1] + nrm[2] * nrm[2]), min=1e-12)
    nrm_t = torch.stack([c * inv for c in nrm], -1)  # (R*HW, 3)
    return _views(tri, bary, zbuf, nrm_t, grid.tris, size)


def _views(tri, bary, zbuf, nrm, tris: np.ndarray, size: int) -> list[View]:
    """Tensors -> numpy float64 Views (one per request)."""
    tri_n = tri.cpu().numpy().reshape(-1, size, size)
    bary_n = bary.cpu().numpy().astype(np.float64).reshape(-1, size, size, 3)
    z_n = zbuf.cpu().numpy().astype(np.float64).reshape(-1, size, size)
    n_n = nrm.cpu().numpy().astype(np.float64).reshape(-1, size, size, 3)
    out = []
    for i in range(len(tri_n)):
        ras = Raster(tri_n[i], bary_n[i], z_n[i])
        out.append(View(ras, tris, np.where(ras.mask, z_n[i], 0.0), n_n[i]))
    return out
