"""The built-in face model: an anthropometric head (lofted skull/face, features, ears, neck); no external file.

An identity is a standardised coefficient vector: component 0 is a global size factor, component i >= 1 moves
anthropometric measure i (mean +- SD in mm, adult orders of magnitude from ../shared/DESIGN.md's table plus
standard head/face breadths). Measures drive a lofted skull+face (smooth horizontal superellipses stacked in
height), radial feature bumps (brow ridge, eye sockets and eyes, nose, alae, cheekbones, lips, chin, ears)
placed from the 68 landmarks, and an elliptic neck. Expressions: jaw open, smile, brow raise.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from thzface.sim import head as H

# name, mean, sd, loading on the global size factor
MEASURES: tuple[tuple[str, float, float, float], ...] = (
    ("head_width", 152.0, 6.0, 0.6),
    ("head_length", 192.0, 7.0, 0.6),
    ("head_height", 128.0, 6.0, 0.5),
    ("bizygomatic", 132.0, 5.0, 0.6),
    ("bigonial", 102.0, 6.0, 0.5),
    ("face_height", 120.0, 6.0, 0.5),  # nasion-menton
    ("nasion_y", 24.0, 3.0, 0.0),  # nasion above the ear canals
    ("face_depth", 88.0, 5.0, 0.4),  # z of the nasion plane
    ("intercanthal", 32.0, 2.5, 0.2),
    ("biocular", 96.0, 4.0, 0.5),
    ("eye_socket", 9.0, 2.0, 0.0),
    ("brow_ridge", 4.0, 1.5, 0.0),
    ("nasal_height", 52.0, 3.0, 0.4),  # nasion-subnasale
    ("nasal_width", 38.0, 3.5, 0.3),
    ("nose_projection", 20.0, 3.0, 0.3),
    ("nose_bridge", 7.0, 2.0, 0.0),
    ("nose_tip_width", 10.0, 1.5, 0.0),
    ("cheekbone", 5.0, 1.5, 0.0),
    ("cheek_fullness", 0.0, 3.0, 0.0),
    ("mouth_width", 52.0, 3.5, 0.3),
    ("upper_lip_height", 21.0, 2.0, 0.2),  # subnasale-stomion
    ("lip_fullness", 5.0, 1.2, 0.0),
    ("chin_projection", 4.0, 2.5, 0.0),
    ("chin_width", 40.0, 4.0, 0.3),
    ("forehead_slope", 12.0, 5.0, 0.0),  # degrees
    ("ear_size", 62.0, 4.0, 0.3),
    ("ear_protrusion", 14.0, 4.0, 0.0),
    ("neck_width", 112.0, 8.0, 0.5),
)
EXPRESSIONS = ("jaw_open", "smile", "brow_raise")


def measures_from_coeffs(z: np.ndarray) -> dict[str, float]:
    """Standardised coefficients (1 + len(MEASURES),) -> measures in mm / degrees."""
    if z.shape != (1 + len(MEASURES),):
        raise ValueError(f"shape coefficients: expected {(1 + len(MEASURES),)}, got {z.shape}")
    out = {}
    for i, (name, mean, sd, rho) in enumerate(MEASURES):
        out[name] = mean + sd * (np.sqrt(1 - rho * rho) * z[i + 1] + rho * z[0])
    return out


def template_landmarks(m: dict[str, float], e: np.ndarray) -> np.ndarray:
    """68 landmark (x, y) positions in mm (points 0-16 except the chin are filled later on the surface)."""
    jaw, smile, brow = float(e[0]), float(e[1]), float(e[2])
    y_n = m["nasion_y"]
    y_e, y_sn = y_n - 12.0, y_n - m["nasal_height"]
    y_tip, y_sto, y_me = y_sn + 12.0, y_sn - m["upper_lip_height"], y_n - m["face_height"] - 5 * jaw
    xi, xo, mw, nw = m["intercanthal"] / 2, m["biocular"] / 2, m["mouth_width"] / 2 + 4 * smile, m["nasal_width"] / 2
    lf = m["lip_fullness"] / 5.0
    p = np.zeros((68, 2))
    p[8] = (0, y_me)
    bx = np.linspace(xo + 6, xi - 1, 5)
    by = y_e + np.array([10, 15, 17, 16, 14]) + 4 * brow
    p[17:22] = np.column_stack([-bx, by])
    p[22:27] = np.column_stack([bx[::-1], by[::-1]])
    p[27:31] = np.column_stack([np.zeros(4), np.linspace(y_n, y_tip, 4)])
    p[31:36] = np.column_stack(
        [[-0.65 * nw, -0.35 * nw, 0, 0.35 * nw, 0.65 * nw], y_sn + np.array([4, 1.5, 0, 1.5, 4])]
    )
    ex = np.array([xo, 0.7 * xo + 0.3 * xi, 0.3 * xo + 0.7 * xi, xi, 0.3 * xo + 0.7 * xi, 0.7 * xo + 0.3 * xi])
    ey = y_e + np.array([1.0, 4.5, 4.5, 0.0, -3.0, -3.0])
    p[36:42] = np.column_stack([-ex, ey])
    p[42:48] = np.column_stack([ex[[3, 2, 1, 0, 5, 4]], ey[[3, 2, 1, 0, 5, 4]]])
    cy = y_sto + 3 * smile
    ox = mw * np.array([-1, -0.6, -0.2, 0, 0.2, 0.6, 1, 0.6, 0.2, 0, -0.2, -0.6])
    oy = np.array(
        [cy - y_sto, 5 * lf, 7 * lf, 6 * lf, 7 * lf, 5 * lf, cy - y_sto, -6 * lf, -9 * lf, -9.5 * lf, -9 * lf, -6 * lf]
    )
    oy[7:12] -= 6 * jaw
    p[48:60] = np.column_stack([ox, y_sto + oy])
    ix = mw * np.array([-0.88, -0.3, 0, 0.3, 0.88, 0.3, 0, -0.3])
    iy = np.array([cy - y_sto, 1.5, 1.5, 1.5, cy - y_sto, -1.5, -1.5, -1.5])
    iy[5:8] -= 8 * jaw
    p[60:68] = np.column_stack([ix, y_sto + iy])
    return p


def _bump(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float, power: float = 2.0) -> np.ndarray:
    q2 = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
    return np.clip(1 - q2, 0, None) ** power


def _loft(m: dict[str, float], p: np.ndarray) -> PchipInterpolator:
    y_n, y_me, y_sn, y_sto, y_e = p[27, 1], p[8, 1], p[33, 1], p[62, 1], p[36:48, 1].mean()
    hw, biz, big, cw, zf = (
        m["head_width"] / 2,
        m["bizygomatic"] / 2,
        m["bigonial"] / 2,
        m["chin_width"] / 2,
        m["face_depth"],
    )
    zb = zf + 8 - m["head_length"]
    yw = 0.35 * m["head_height"]
    slope = np.tan(np.deg2rad(m["forehead_slope"]))
    ys = [y_me - 6, y_me, y_me + 12, y_sto - 14, y_sto, y_sn - 2, y_e - 18, y_e, y_n + 10, yw]
    af = [2, cw + 2, cw + 12, big, big + 5, biz - 5, biz, biz + 1, hw - 3, hw]
    ab = [2, big - 24, big - 12, big - 4, big + 2, big + 8, hw - 6, hw - 3, hw - 1, hw]
    zfr = [zf - 34, zf - 18, zf - 8, zf - 10, zf - 5, zf - 6, zf - 8, zf - 3, zf + 1, zf + 1 - (yw - y_n) * slope]
    zbk = [12, 8, -8, -28, -44, -58, -80, zb + 8, zb + 3, zb]
    z0 = [24, 24, 20, 10, 5, 0, -5, -5, -5, -5]
    ex = [2.0, 2.2, 2.2, 2.3, 2.4, 2.5, 2.6, 2.6, 2.2, 2.0]
    order = np.argsort(ys)
    table = np.array([af, ab, zfr, zbk, z0, ex], dtype=np.float64)[:, order]
    return PchipInterpolator(np.asarray(ys)[order], table, axis=1, extrapolate=True)


def loft_radius(m: dict[str, float], p: np.ndarray, dirs: np.ndarray, iters: int = 18) -> np.ndarray:
    """Radius where each ray from the origin leaves the lofted skull+face (bisection on a profile table)."""
    y_lo, y_w, top = p[8, 1] - 6, 0.35 * m["head_height"], m["head_height"]
    ys = np.arange(y_lo, top + 1.0, 0.5)
    table = _loft(m, p)(np.clip(ys, y_lo, y_w)).T  # (Y, 6): af, ab, zfr, zbk, z0, ex
    q_tab = np.where(ys > y_w, np.sqrt(np.clip(1 - ((ys - y_w) / (top - y_w)) ** 2, 1e-6, 1)), 1.0)
    table = np.column_stack([table, q_tab])
    lo, hi = np.zeros(dirs.shape[:-1]), np.full(dirs.shape[:-1], 320.0)
    for _ in range(iters):
        t = 0.5 * (lo + hi)
        x, y, z = t * dirs[..., 0], t * dirs[..., 1], t * dirs[..., 2]
        f = np.clip((y - y_lo) / 0.5, 0, len(ys) - 1.001)
        i = f.astype(np.int64)
        w = (f - i)[..., None]
        af, ab, zfr, zbk, z0, ex, q = np.moveaxis(table[i] * (1 - w) + table[i + 1] * w, -1, 0)
        cf, cb = (zfr - z0) * q, (z0 - zbk) * q
        c = np.where(z >= z0, cf, cb)
        s = np.clip((z - (z0 - cb)) / np.maximum(cf + cb, 1e-6), 0, 1)
        width = (ab + (af - ab) * s * s * (3 - 2 * s)) * q
        inside = (np.abs(x) / np.maximum(width, 1e-6)) ** ex + (np.abs(z - z0) / np.maximum(c, 1e-6)) ** ex < 1
        inside &= (y > y_lo) & (y < top)
        lo, hi = np.where(inside, t, lo), np.where(inside, hi, t)
    return 0.5 * (lo + hi)


def fixed_features(m: dict[str, float], p: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The feature bumps of :func:`feature_height` that no expression moves, at ``pts`` (..., 3), before the front
    taper (the batched backend caches them per person)."""
    x, y = pts[..., 0], pts[..., 1]
    y_n, y_tip, y_sn, y_sto = p[27, 1], p[30, 1], p[33, 1], p[62, 1]
    f = np.zeros_like(x)
    for s in (-1, 1):
        ex = s * 0.5 * (abs(p[36, 0]) + abs(p[39, 0]))
        ey = p[36:42, 1].mean()
        f += -m["eye_socket"] * _bump(x, y, ex, ey, 22, 15)
        f += (m["eye_socket"] - 3.0) * _bump(x, y, ex, ey, 12.5, 12.5, 1.0)
        f += m["cheekbone"] * _bump(x, y, s * (m["bizygomatic"] / 2 - 20), ey - 22, 24, 17)
        f += m["cheek_fullness"] * _bump(x, y, s * (m["bigonial"] / 2 - 12), y_sto + 4, 22, 20)
        f += 0.4 * m["nose_projection"] * _bump(x, y, s * (m["nasal_width"] / 2 - 6), y_sn + 5, 8, 7, 1.5)
        f += 3.0 * _bump(x, y, s * 28, y_n + 45, 30, 25)  # frontal bossing
    t = np.clip((y_n - y) / max(y_n - y_tip, 1.0), 0, None)
    prof = np.where(t <= 1, m["nose_bridge"] + (m["nose_projection"] - m["nose_bridge"]) * t**1.3, 0.0)
    under = (y < y_tip) & (y > y_sn)
    prof = np.where(under, m["nose_projection"] * np.sqrt(np.clip(1 - ((y_tip - y) / (y_tip - y_sn)) ** 2, 0, 1)), prof)
    prof = np.where(y > y_n, m["nose_bridge"] * np.clip(1 - (y - y_n) / 12, 0, 1) ** 2, prof)
    half = 7.0 + (m["nose_tip_width"] - 7.0) * np.clip(t, 0, 1)
    return f + prof * np.clip(1 - (x / half) ** 2, 0, None) ** 1.5


def expression_bumps(m: dict[str, float], p: np.ndarray, e: np.ndarray) -> list[tuple[float, ...]]:
    """(weight, cx, cy, rx, ry, power) of the feature bumps the expression moves (:func:`feature_height`)."""
    y_sto, y_me, mw, lf = p[62, 1], p[8, 1], 0.5 * (p[54, 0] - p[48, 0]), m["lip_fullness"]
    out = []
    for s in (-1, 1):
        ex = s * 0.5 * (abs(p[36, 0]) + abs(p[39, 0]))
        out.append((m["brow_ridge"], ex, p[19, 1] - 1, 20.0, 7.0, 2.0))
    return out + [
        (lf, 0.0, p[51, 1] - 3, mw, 6.5, 1.5),
        (1.2 * lf, 0.0, p[57, 1] + 4, mw - 4, 7.0, 1.5),
        (-(2.0 + 4 * e[0]), 0.0, y_sto + (p[66, 1] - y_sto) / 2, mw * 0.95, 1.5 + 4 * e[0], 1.0),
        (-3.0, 0.0, p[57, 1] - 6, 18.0, 5.0, 2.0),  # mentolabial sulcus
        (2.0 + m["chin_projection"], 0.0, y_me + 16, m["chin_width"] / 2 + 6, 16.0, 1.5),
    ]


def feature_height(m: dict[str, float], p: np.ndarray, e: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Radial displacement (mm) of the facial features at base-surface points ``pts`` (..., 3): the fixed features
    (eye sockets, cheeks, alae, frontal bossing, the nose profile) plus the bumps the expression moves (brows, lips,
    mouth opening, mentolabial sulcus, chin), tapered towards the sides."""
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    front = np.clip((z / np.linalg.norm(pts, axis=-1) - 0.1) / 0.4, 0, 1)
    f = fixed_features(m, p, pts)
    for w, cx, cy, rx, ry, power in expression_bumps(m, p, e):
        f = f + w * _bump(x, y, cx, cy, rx, ry, power)
    return f * front


def ear_height(m: dict[str, float], p: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Radial displacement of the two ears (flattened discs on the sides of the head)."""
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    side = np.clip((np.abs(x) / np.linalg.norm(pts, axis=-1) - 0.7) / 0.2, 0, 1)
    y_c = 0.5 * (p[19, 1] + p[33, 1]) - 8
    q2 = ((y - y_c) / (m["ear_size"] / 2)) ** 2 + ((z + 8) / (0.28 * m["ear_size"])) ** 2
    return m["ear_protrusion"] * np.clip(1 - q2, 0, None) ** 0.6 * side


class BuiltinFaceModel:
    """Anthropometric head model of our own (no external data)."""

    name = "builtin"
    n_shape = 1 + len(MEASURES)
    n_expr = len(EXPRESSIONS)

    def __init__(self, grid_deg: float = 1.5, shape_sigma: float = 1.0) -> None:
        self.grid = H.make_grid(grid_deg)
        self.shape_sigma = shape_sigma
        self._cache: dict[bytes, tuple] = {}

    def sample_shape(self, rng: np.random.Generator) -> np.ndarray:
        return np.clip(rng.standard_normal(self.n_shape), -2.5, 2.5) * self.shape_sigma

    def sample_expression(self, rng: np.random.Generator, sigma: float) -> np.ndarray:
        e = rng.standard_normal(self.n_expr) * sigma
        e[0] = abs(e[0])  # the jaw only opens
        return e

    def _base(self, shape: np.ndarray) -> tuple:
        """Expression-independent part (loft, ears, neck), cached per identity."""
        key = np.asarray(shape, dtype=np.float64).tobytes()
        if key not in self._cache:
            if len(self._cache) >= 64:
                self._cache.pop(next(iter(self._cache)))
            m = measures_from_coeffs(np.asarray(shape, dtype=np.float64))
            p = template_landmarks(m, np.zeros(self.n_expr))
            g = self.grid
            r0 = loft_radius(m, p, g.dirs)
            base = r0[..., None] * g.dirs
            w = m["neck_width"] / 2
            r_neck = H.neck_radius(g.dirs, w, 0.9 * w, -15.0, 20.0, -260.0)
            self._cache[key] = (m, r0, base, ear_height(m, p, base), r_neck)
        return self._cache[key]

    def build(self, shape: np.ndarray, expr: np.ndarray, traits: dict) -> H.HeadSurface:
        m, r0, base, ears, r_neck = self._base(shape)
        expr = np.asarray(expr, dtype=np.float64)
        p = template_landmarks(m, expr)
        g = self.grid
        feat = np.zeros_like(r0)
        fr = base[..., 2] > 0.1 * r0  # features live on the front only
        feat[fr] = feature_height(m, p, expr, base[fr])
        r = H.smooth_max(r0 + feat + ears, r_neck, 4.0)
        # landmarks ride on the features: the base-surface point at the template (x, y), pushed out radially
        base_lm = np.vstack([H.project_to_surface(r0, g, p[17:]), H.project_to_surface(r0, g, p[8:9], 60.0)])
        d = base_lm / np.linalg.norm(base_lm, axis=1, keepdims=True)
        on = d * H.sample_grid(r, g, np.arctan2(d[:, 0], d[:, 2]), np.arcsin(np.clip(d[:, 1], -1, 1)))[:, None]
        lm = np.empty((68, 3))
        lm[17:], lm[8] = on[:-1], on[-1]
        lm[:17] = H.jaw_contour(r, g, lm)
        return H.finish_head(g, r, r_neck, ears > 1.0, lm, traits)
