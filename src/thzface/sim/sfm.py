"""Surrey Face Model (shape-only 3DMM, 63 identity components, 6 expressions) read from a path at run time.

The .npz (../shared/face-models/README.md) is non-commercial: it is never copied into the package. Its face
shell is rasterised into the shared radial head grid and blended into the built-in model's mean skull, ears
and neck, so postures show a whole head. iBUG points the file leaves undefined (-1: the jaw contour and the
inner mouth corners) are placed with the same rules as the built-in model.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from thzface.config import ConfigError
from thzface.sim import builtin_face as B
from thzface.sim import head as H
from thzface.sim.raster import rasterize

ENV_VAR = "THZFACE_SFM_PATH"
KEYS = ("mean", "basis", "eigenvalues", "triangles", "expression_deltas", "ibug68_vertex")
EYE_Y, NASION_Z = 12.0, 95.0  # where the mean face's eye line and nasion sit in the head frame (as built-in)


def resolve_path(path: str) -> Path:
    """``face_model.path`` or $THZFACE_SFM_PATH -> an existing file; ConfigError with one line otherwise."""
    raw = path or os.environ.get(ENV_VAR, "")
    if not raw:
        raise ConfigError(f"face_model.path: no Surrey Face Model file given (set face_model.path or ${ENV_VAR})")
    p = Path(raw).expanduser()
    if not p.is_file():
        raise ConfigError(f"face_model.path: Surrey Face Model file not found: {p} (set face_model.path or ${ENV_VAR})")
    return p


class SurreyFaceModel:
    """3DMM face shell from the Surrey .npz + the built-in mean skull, ears and neck."""

    name = "sfm"

    def __init__(self, path: str, grid_deg: float = 1.5, shape_sigma: float = 1.0, blend_deg: float = 15.0) -> None:
        p = resolve_path(path)
        try:
            with np.load(p, allow_pickle=False) as d:
                missing = [k for k in KEYS if k not in d.files]
                if missing:
                    raise ConfigError(f"face_model.path: {p} lacks key(s) {missing}")
                arrays = {k: np.asarray(d[k]) for k in KEYS}
        except (OSError, ValueError) as e:
            raise ConfigError(f"face_model.path: {p} is not a readable .npz ({e})") from e
        self.path = str(p)
        self.mean = arrays["mean"].astype(np.float64)
        n_v = len(self.mean)
        ev = arrays["eigenvalues"].astype(np.float64)
        self.basis = arrays["basis"].astype(np.float64) * np.sqrt(ev)[None]  # (3V, S): unit-variance coefficients
        self.tris = arrays["triangles"].astype(np.int64)
        self.expr = arrays["expression_deltas"].astype(np.float64).reshape(len(arrays["expression_deltas"]), -1)
        self.ibug = arrays["ibug68_vertex"].astype(np.int64)
        if self.basis.shape[0] != 3 * n_v or self.expr.shape[1] != 3 * n_v or self.ibug.shape != (68,):
            raise ConfigError(f"face_model.path: {p} has inconsistent array shapes")
        self.n_shape, self.n_expr = self.basis.shape[1], self.expr.shape[0]
        self.grid = H.make_grid(grid_deg)
        self.shape_sigma = shape_sigma
        self.blend_cells = blend_deg / grid_deg
        eyes = self.mean[self.ibug[[36, 39, 42, 45]]]
        self.offset = np.array([0.0, EYE_Y - eyes[:, 1].mean(), NASION_Z - self.mean[self.ibug[27], 2]])
        self._skull = self._mean_skull()
        self._scaled: dict[tuple, tuple] = {}

    def _mean_skull(self) -> tuple:
        m = B.measures_from_coeffs(np.zeros(B.BuiltinFaceModel.n_shape))
        p = self._landmarks(self.mean + self.offset)[:, :2]
        g = self.grid
        r0 = B.loft_radius(m, p, g.dirs)
        w = m["neck_width"] / 2
        r_neck = H.neck_radius(g.dirs, w, 0.9 * w, -15.0, 20.0, -260.0)
        return r0, B.ear_height(m, p, r0[..., None] * g.dirs), r_neck

    def _person_skull(self, traits: dict) -> tuple:
        """The mean skull, ears and neck scaled by the person's width / height / length factors (cached)."""
        k = tuple(float(traits.get(f"skull_{a}", 1.0)) for a in ("width", "height", "length"))
        if k not in self._scaled:
            if len(self._scaled) >= 64:
                self._scaled.pop(next(iter(self._scaled)))
            r_skull, ears, r_neck = self._skull
            g, kk = self.grid, np.array(k)
            r_s = scale_radial(r_skull, g, kk)
            self._scaled[k] = (r_s, scale_radial(r_skull + ears, g, kk) - r_s, scale_radial(r_neck, g, kk))
        return self._scaled[k]

    def _landmarks(self, verts: np.ndarray) -> np.ndarray:
        """68 points; undefined inner mouth corners from the outer ones, jaw contour left to jaw_contour."""
        lm = np.zeros((68, 3))
        ok = self.ibug >= 0
        lm[ok] = verts[self.ibug[ok]]
        lm[60] = lm[48] + 0.12 * (lm[54] - lm[48])
        lm[64] = lm[54] - 0.12 * (lm[54] - lm[48])
        return lm

    def sample_shape(self, rng: np.random.Generator) -> np.ndarray:
        return np.clip(rng.standard_normal(self.n_shape), -2.5, 2.5) * self.shape_sigma

    def sample_expression(self, rng: np.random.Generator, sigma: float) -> np.ndarray:
        return np.abs(rng.standard_normal(self.n_expr)) * sigma  # blendshapes are meant for weights >= 0

    def vertices(self, shape: np.ndarray, expr: np.ndarray) -> np.ndarray:
        """Face-shell vertices (V, 3) in the head frame."""
        if shape.shape != (self.n_shape,) or expr.shape != (self.n_expr,):
            raise ValueError(f"sfm: expected shape ({self.n_shape},) and expression ({self.n_expr},) coefficients")
        flat = np.einsum("ij,j->i", self.basis, shape) + np.einsum("i,ij->j", expr, self.expr)  # no BLAS
        return self.mean + flat.reshape(-1, 3) + self.offset

    def build(self, shape: np.ndarray, expr: np.ndarray, traits: dict) -> H.HeadSurface:
        g = self.grid
        v = self.vertices(np.asarray(shape, np.float64), np.asarray(expr, np.float64))
        rad = np.linalg.norm(v, axis=1)
        az, el = np.arctan2(v[:, 0], v[:, 2]), np.arcsin(np.clip(v[:, 1] / rad, -1, 1))
        step = np.deg2rad(g.step_deg)
        uv = np.column_stack([(az + np.pi) / step, (el + np.pi / 2) / step])
        ras = rasterize(uv, rad, self.tris, g.shape)
        r_face = ras.interpolate(rad, self.tris)
        r_skull, ears, r_neck = self._person_skull(traits)
        r = blend_into_skull(r_face, ras.mask, r_skull + ears, self.blend_cells)
        w = ras.mask.astype(np.float64)
        r = H.smooth_max(r, r_neck, 4.0)
        lm = self._landmarks(v)
        lm[:17] = H.jaw_contour(r, g, lm)
        return H.finish_head(g, r, r_neck, (ears > 1.0) & (w < 0.5), lm, traits)


def blend_into_skull(r_face: np.ndarray, mask: np.ndarray, r_skull: np.ndarray, cells: float) -> np.ndarray:
    """Bend the skull to meet the face shell's edge (no crease): extend the face-skull offset outwards with a
    normalised Gaussian and let it decay over ``cells`` grid cells; feather the inner edge over a few cells."""
    m = mask.astype(np.float64)
    delta = np.where(mask, r_face - r_skull, 0.0)
    num = H.wrap_filter(delta * m, cells)
    den = H.wrap_filter(m, cells)
    ext = num / np.maximum(den, 1e-6)
    d_out = ndimage.distance_transform_edt(~mask)
    outside = r_skull + ext * np.exp(-((d_out / cells) ** 2))
    d_in = ndimage.distance_transform_edt(mask)
    w = np.clip(d_in / 3.0, 0, 1)
    w = w * w * (3 - 2 * w)
    return w * r_face + (1 - w) * outside


def scale_radial(r: np.ndarray, grid: H.Grid, k: np.ndarray) -> np.ndarray:
    """Radial map of the surface r(d) d scaled by diag(k) (x width, y height, z length) about the origin:
    r'(d) = r(u) / |d / k| with u = (d / k) / |d / k| (r bilinearly sampled at u)."""
    q = grid.dirs / k  # (E, A, 3)
    n = np.linalg.norm(q, axis=-1)  # (E, A)
    u = q / n[..., None]
    return H.sample_grid(r, grid, np.arctan2(u[..., 0], u[..., 2]), np.arcsin(np.clip(u[..., 1], -1, 1))) / n
