"""Per-person face geometry of the batched backend (``sim.backend: batched``): the built-in model's head with
everything that does not depend on the expression computed once per person.

:func:`head_builder` returns the function ``prepare_sample`` builds each head with: for the built-in model, a
:class:`PersonCache` per identity holds the lofted skull (bisection in float32 torch, about 10x the numpy loft's
speed), the ears and neck, the 12 facial feature bumps whose centres and sizes do not move with the expression
(eye sockets, cheeks, alae, frontal bossing, the nose) and the smooth union with the neck of that fixed surface.
A sample then evaluates only the 7 expression bumps (brow ridges, lips, mouth opening, mentolabial sulcus, chin),
each on the band of front points its height reaches (points sorted by height once per person), and redoes the
neck union only where they are nonzero. The same formulas as ``builtin_face``: heads equal the reference's to
rounding (sums in another order; the float32 loft within its 1.2 um bisection step, tests/sim/test_batch_face.py).
Other face models build as before. The caches depend on the person alone, so a sample's bytes do not depend on
its batch.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from thzface.sim import head as H
from thzface.sim.builtin_face import (
    BuiltinFaceModel,
    _bump,
    _loft,
    ear_height,
    expression_bumps,
    fixed_features,
    measures_from_coeffs,
)
from thzface.sim.builtin_face import template_landmarks as template
from thzface.sim.face_model import FaceModel

PERSONS = 64  # cached people per model, as BuiltinFaceModel's (about 1.5 MB each)
Build = Callable[[np.ndarray, np.ndarray, dict], H.HeadSurface]


def loft_radius_torch(m: dict[str, float], p: np.ndarray, dirs: np.ndarray, iters: int = 18) -> np.ndarray:
    """builtin_face.loft_radius in float32 torch (the same profile table, bracket and bisection)."""
    y_lo, y_w, top = p[8, 1] - 6, 0.35 * m["head_height"], m["head_height"]
    ys = np.arange(y_lo, top + 1.0, 0.5)
    table = _loft(m, p)(np.clip(ys, y_lo, y_w)).T  # (Y, 6): af, ab, zfr, zbk, z0, ex
    q_tab = np.where(ys > y_w, np.sqrt(np.clip(1 - ((ys - y_w) / (top - y_w)) ** 2, 1e-6, 1)), 1.0)
    tab = torch.as_tensor(np.column_stack([table, q_tab]).T.copy(), dtype=torch.float32)  # (7, Y)
    cols, steps = tab.unbind(0), (tab[:, 1:] - tab[:, :-1]).unbind(0)  # 1-D gathers: several times faster
    d = torch.as_tensor(dirs.reshape(-1, 3).T.copy(), dtype=torch.float32)  # (3, V)
    lo, hi = torch.zeros(d.shape[1]), torch.full((d.shape[1],), 320.0)
    for _ in range(iters):
        t = 0.5 * (lo + hi)
        x, y, z = t * d[0], t * d[1], t * d[2]
        f = torch.clamp((y - y_lo) / 0.5, 0, len(ys) - 1.001)
        i = f.long()
        w = f - i
        af, ab, zfr, zbk, z0, ex, q = (
            c.index_select(0, i) + d.index_select(0, i) * w for c, d in zip(cols, steps, strict=True)
        )
        cf, cb = (zfr - z0) * q, (z0 - zbk) * q
        c = torch.where(z >= z0, cf, cb)
        s = torch.clamp((z - (z0 - cb)) / torch.clamp(cf + cb, min=1e-6), 0, 1)
        width = (ab + (af - ab) * s * s * (3 - 2 * s)) * q
        inside = (x.abs() / torch.clamp(width, min=1e-6)) ** ex + ((z - z0).abs() / torch.clamp(c, min=1e-6)) ** ex < 1
        inside &= (y > y_lo) & (y < top)
        lo, hi = torch.where(inside, t, lo), torch.where(inside, hi, t)
    return (0.5 * (lo + hi)).double().numpy().reshape(dirs.shape[:-1])


@dataclass
class PersonCache:
    """One person's expression-independent head parts (flat grid indices ``idx`` of the front points)."""

    m: dict[str, float]
    r0: np.ndarray  # (E, A) lofted skull + face
    ears: np.ndarray  # (E, A) ear displacement
    r_neck: np.ndarray  # (E, A)
    idx: np.ndarray  # (F,) flat grid index of the front points, sorted by their height y
    y: np.ndarray  # (F,) their y, ascending
    x: np.ndarray  # (F,) their x
    front: np.ndarray  # (F,) their front taper
    a: np.ndarray  # (E*A,) r0 + ears + the fixed features, flat
    r: np.ndarray  # (E, A) the neck union of ``a``: the head of an expression that moves nothing


def person(model: BuiltinFaceModel, shape: np.ndarray) -> PersonCache:
    """The cached parts of the person with ``shape`` (built on first use)."""
    cache = _CACHES.setdefault(model, {})
    key = np.asarray(shape, dtype=np.float64).tobytes()
    if key not in cache:
        if len(cache) >= PERSONS:
            cache.pop(next(iter(cache)))
        g = model.grid
        m = measures_from_coeffs(np.asarray(shape, dtype=np.float64))
        p = template(m, np.zeros(model.n_expr))
        r0 = loft_radius_torch(m, p, g.dirs)
        base = r0[..., None] * g.dirs
        w = m["neck_width"] / 2
        r_neck = H.neck_radius(g.dirs, w, 0.9 * w, -15.0, 20.0, -260.0)
        ears = ear_height(m, p, base)
        fr = np.flatnonzero((base[..., 2] > 0.1 * r0).reshape(-1))  # features live on the front only
        pts = base.reshape(-1, 3)[fr]
        front = np.clip((pts[:, 2] / np.linalg.norm(pts, axis=-1) - 0.1) / 0.4, 0, 1)
        a = (r0 + ears).reshape(-1)
        a[fr] += fixed_features(m, p, pts) * front
        order = np.argsort(pts[:, 1], kind="stable")
        r = H.smooth_max(a.reshape(r0.shape), r_neck, 4.0)
        cache[key] = PersonCache(m, r0, ears, r_neck, fr[order], pts[order, 1], pts[order, 0], front[order], a, r)
    return cache[key]


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {shape bytes: PersonCache}


def radius(pc: PersonCache, p: np.ndarray, e: np.ndarray) -> np.ndarray:
    """(E, A) head radius of the person's expression ``e`` (template landmarks ``p``): the expression bumps on
    their height bands, the neck union redone where they reach."""
    f = np.zeros(len(pc.y))
    lo_all, hi_all = len(pc.y), 0
    for w, cx, cy, rx, ry, power in expression_bumps(pc.m, p, e):
        lo, hi = np.searchsorted(pc.y, [cy - ry, cy + ry], side="right")
        if hi > lo:
            f[lo:hi] += w * _bump(pc.x[lo:hi], pc.y[lo:hi], cx, cy, rx, ry, power)
            lo_all, hi_all = min(lo_all, lo), max(hi_all, hi)
    r = pc.r.copy()
    if hi_all > lo_all:
        sel = pc.idx[lo_all:hi_all]
        a = pc.a[sel] + f[lo_all:hi_all] * pc.front[lo_all:hi_all]
        r.reshape(-1)[sel] = H.smooth_max(a, pc.r_neck.reshape(-1)[sel], 4.0)
    return r


def build_builtin(model: BuiltinFaceModel, shape: np.ndarray, expr: np.ndarray, traits: dict) -> H.HeadSurface:
    """BuiltinFaceModel.build from the person's cache (the same landmarks, jaw line, labels, hair and glasses)."""
    pc, g = person(model, shape), model.grid
    expr = np.asarray(expr, dtype=np.float64)
    p = template(pc.m, expr)
    r = radius(pc, p, expr)
    base_lm = np.vstack([H.project_to_surface(pc.r0, g, p[17:]), H.project_to_surface(pc.r0, g, p[8:9], 60.0)])
    d = base_lm / np.linalg.norm(base_lm, axis=1, keepdims=True)
    on = d * H.sample_grid(r, g, np.arctan2(d[:, 0], d[:, 2]), np.arcsin(np.clip(d[:, 1], -1, 1)))[:, None]
    lm = np.empty((68, 3))
    lm[17:], lm[8] = on[:-1], on[-1]
    lm[:17] = H.jaw_contour(r, g, lm)
    return H.finish_head(g, r, pc.r_neck, pc.ears > 1.0, lm, traits)


def head_builder(model: FaceModel) -> Build:
    """The batched backend's head build for ``model``: per-person caches for the built-in model, else its own."""
    if isinstance(model, BuiltinFaceModel):
        return lambda shape, expr, traits: build_builtin(model, shape, expr, traits)
    return model.build
