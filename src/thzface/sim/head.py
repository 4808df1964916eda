"""Head surfaces as radial maps r(azimuth, elevation) around the head centre: grid, mesh, normals, labels.

Both face models produce a :class:`HeadSurface` on one :class:`Grid`; garments drape on the same grid and the
renderer turns any radial map into a triangle mesh. Head frame (mm): origin near the ear canals, x towards the
subject's left (image right in a front view), y up, z forward (the face looks along +z).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.path import Path as MplPath
from scipy import ndimage

# region labels (docs/dataset-format.md)
BG, SKIN, LIPS, EYES, BROWS, HAIR, EARS, NECK = range(8)
LABEL_NAMES = ("background", "skin", "lips", "eyes", "brows", "hair", "ears", "neck")


@dataclass(frozen=True)
class Grid:
    """Regular (elevation, azimuth) grid; az wraps around, el runs pole to pole."""

    step_deg: float  # angular step
    az: np.ndarray  # (A,) radians in [-pi, pi)
    el: np.ndarray  # (E,) radians in [-pi/2, pi/2]
    dirs: np.ndarray  # (E, A, 3) unit directions
    tris: np.ndarray  # (T, 3) vertex indices into the flattened (E*A) grid, counter-clockwise from outside

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.el), len(self.az))


@lru_cache(maxsize=4)
def make_grid(step_deg: float) -> Grid:
    n_az = int(round(360.0 / step_deg))
    n_el = int(round(180.0 / step_deg)) + 1
    az = np.deg2rad(np.arange(n_az) * (360.0 / n_az) - 180.0)
    el = np.deg2rad(np.linspace(-90.0, 90.0, n_el))
    ce, se = np.cos(el)[:, None], np.sin(el)[:, None]
    dirs = np.stack([np.sin(az)[None] * ce, np.broadcast_to(se, (n_el, n_az)), np.cos(az)[None] * ce], -1)
    i, j = np.meshgrid(np.arange(n_el - 1), np.arange(n_az), indexing="ij")
    v00, v01 = i * n_az + j, i * n_az + (j + 1) % n_az
    v10, v11 = v00 + n_az, v01 + n_az
    tris = np.concatenate([np.stack([v00, v01, v11], -1), np.stack([v00, v11, v10], -1)]).reshape(-1, 3)
    for a in (az, el, dirs, tris):
        a.setflags(write=False)
    return Grid(step_deg, az, el, dirs.astype(np.float64), tris.astype(np.int64))


@dataclass
class HeadSurface:
    """One head (identity + expression) on a grid, in the head frame."""

    grid: Grid
    r: np.ndarray  # (E, A) radius in mm
    labels: np.ndarray  # (E, A) uint8 region label
    landmarks: np.ndarray  # (68, 3) iBUG-68 landmarks in mm
    hair: np.ndarray | None = None  # (E, A) thickness of the hair / beard / brow layer over the skin, mm
    glasses: np.ndarray | None = None  # (E, A) uint8: 0 none, 1 lens, 2 metal frame

    @property
    def points(self) -> np.ndarray:
        return self.r[..., None] * self.grid.dirs  # (E, A, 3)


def grid_normals(r: np.ndarray, grid: Grid) -> np.ndarray:
    """Outward unit normals of the radial surface by central differences (radial fallback at the poles)."""
    p = r[..., None] * grid.dirs  # (E, A, 3)
    d_az = np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)
    d_el = np.empty_like(p)
    d_el[1:-1] = p[2:] - p[:-2]
    d_el[0], d_el[-1] = p[1] - p[0], p[-1] - p[-2]
    n = np.cross(d_az, d_el)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    bad = norm[..., 0] < 1e-9
    n = n / np.maximum(norm, 1e-12)
    n[bad] = grid.dirs[bad]
    flip = np.sum(n * grid.dirs, -1) < 0
    n[flip] *= -1
    return n


def smooth_max(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth union of two radial maps: k log(e^(a/k) + e^(b/k)); k in mm sets the fillet size."""
    m = np.maximum(a, b)
    return m + k * np.log(np.exp((a - m) / k) + np.exp((b - m) / k))


NECK_SLOPE = 0.36  # the neck axis leans forward going down (20 deg): the throat faces upward, away from the beam [I]
NECK_Y_REF = -90.0  # height (mm, head frame, about the chin) where the neck axis sits at the given z_c
NECK_BEND_MM = (-165.0, -105.0)  # below the first height the neck keeps the torso's pose, above it the head's


def neck_radius(dirs: np.ndarray, half_w: float, half_d: float, z_c: float, y_top: float, y_bot: float) -> np.ndarray:
    """Farthest exit of a ray from the origin through the neck, an elliptic cylinder whose axis leans forward
    by NECK_SLOPE (centre z = z_c + NECK_SLOPE * (NECK_Y_REF - y)); 0 where missed."""
    dx, dy = dirs[..., 0], dirs[..., 1]
    dz = dirs[..., 2] + NECK_SLOPE * dy  # the lean is a shear: solve for the straight cylinder
    z_c = z_c + NECK_SLOPE * NECK_Y_REF
    a = (dx / half_w) ** 2 + (dz / half_d) ** 2
    b = -2 * z_c * dz / half_d**2
    c = (z_c / half_d) ** 2 - 1  # < 0: the cylinder's axis line passes near the origin
    t_side = (-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0))) / np.maximum(2 * a, 1e-12)
    down = dy < -1e-6
    t_top = np.where(down, y_top / np.where(down, dy, -1), np.inf)
    t_bot = np.where(down, y_bot / np.where(down, dy, -1), np.inf)
    t_exit = np.minimum(t_side, t_bot)
    return np.where(down & (t_top < t_exit), t_exit, 0.0)


def bend_weights(points: np.ndarray) -> np.ndarray:
    """(E, A) share of the head rotation each grid point follows: 1 for the head, falling to 0 down the neck,
    so the neck bends with the head instead of turning rigidly with it."""
    lo, hi = NECK_BEND_MM
    t = np.clip((points[..., 1] - lo) / (hi - lo), 0, 1)
    return t * t * (3 - 2 * t)


def wrap_filter(field: np.ndarray, sigma_cells: float) -> np.ndarray:
    """Gaussian filter on the grid, wrapping in azimuth and clamping at the poles."""
    return ndimage.gaussian_filter(field, sigma_cells, mode=("nearest", "wrap"))


def smooth_noise(grid: Grid, corr_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance smooth random field on the grid with correlation length ``corr_deg`` (drawn on a coarser
    grid when the correlation spans many cells, then bilinearly upsampled with azimuth wrap-around)."""
    s = max(corr_deg / grid.step_deg, 0.5)
    k = max(int(s // 3), 1)
    e, a = grid.shape
    (ie0, ie1, te), (ia0, ia1, ta) = _upsampler(e, k, False), _upsampler(a, k, True)
    c = wrap_filter(rng.standard_normal((ie1.max() + 1, ia1.max() + 1)), s / k)
    te, ta = te[:, None], ta[None, :]
    top = c[ie0][:, ia0] * (1 - ta) + c[ie0][:, ia1] * ta
    bot = c[ie1][:, ia0] * (1 - ta) + c[ie1][:, ia1] * ta
    f = top * (1 - te) + bot * te  # bilinear upsampling (gathers, no BLAS)
    return f / max(float(f.std()), 1e-12)


@lru_cache(maxsize=16)
def _upsampler(n: int, k: int, wrap: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour indices and weights for linear interpolation from a grid coarser by ``k``."""
    m = -(-n // k) if wrap else (n - 1) // k + 2
    pos = np.arange(n) / k
    i0 = np.floor(pos).astype(int)
    return i0 % m, (i0 + 1) % m, pos - i0


def sample_grid(field: np.ndarray, grid: Grid, az: np.ndarray, el: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a grid field at arbitrary directions (az wraps)."""
    fa = (np.asarray(az) + np.pi) / np.deg2rad(grid.step_deg)
    fe = np.clip((np.asarray(el) + np.pi / 2) / np.deg2rad(grid.step_deg), 0, grid.shape[0] - 1.000001)
    ia, ie = np.floor(fa).astype(int), np.floor(fe).astype(int)
    ta, te = fa - ia, fe - ie
    n_az = grid.shape[1]
    a0, a1 = ia % n_az, (ia + 1) % n_az
    top = field[ie, a0] * (1 - ta) + field[ie, a1] * ta
    bot = field[ie + 1, a0] * (1 - ta) + field[ie + 1, a1] * ta
    return top * (1 - te) + bot * te


def project_to_surface(r: np.ndarray, grid: Grid, xy: np.ndarray, z_guess: float = 80.0) -> np.ndarray:
    """Front-surface points whose (x, y) match ``xy`` (N, 2): fixed-point iteration on the radial map."""
    z = np.full(len(xy), z_guess)
    for _ in range(8):
        v = np.column_stack([xy[:, 0], xy[:, 1], z])
        d = v / np.linalg.norm(v, axis=1, keepdims=True)
        az, el = np.arctan2(d[:, 0], d[:, 2]), np.arcsin(np.clip(d[:, 1], -1, 1))
        p = sample_grid(r, grid, az, el)[:, None] * d
        z = np.maximum(p[:, 2], 1.0)
    return p


def frame_levels(lm: np.ndarray) -> dict[str, float]:
    """Key heights / widths (mm) from the 68 landmarks, used by labels and garment coverage."""
    return {
        "y_brow": float(lm[17:27, 1].mean()),
        "y_eye": float(lm[36:48, 1].mean()),
        "y_nasion": float(lm[27, 1]),
        "y_sn": float(lm[33, 1]),
        "y_sto": float(lm[62, 1]),
        "y_me": float(lm[8, 1]),
        "x_eye": float(np.abs(lm[[36, 45], 0]).max()),
        "mouth_w": float(lm[54, 0] - lm[48, 0]),
        "face_w": float(lm[16, 0] - lm[0, 0]),
    }


def _inside(poly: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points (x, y) inside polygon ``poly``; only those in its bounding box are tested (none outside can be)."""
    lo, hi = poly.min(0), poly.max(0)
    box = (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1])
    out = np.zeros(x.shape, bool)
    if box.any():
        out[box] = MplPath(poly).contains_points(np.column_stack([x[box], y[box]]))
    return out


def _band(line: np.ndarray, x: np.ndarray, y: np.ndarray, half: float) -> np.ndarray:
    """Pixels within ``half`` mm (vertically) of a polyline given as (N, 2) points sorted by x."""
    order = np.argsort(line[:, 0])
    lx, ly = line[order, 0], line[order, 1]
    yl = np.interp(x, lx, ly)
    return (x >= lx[0] - 2) & (x <= lx[-1] + 2) & (np.abs(y - yl) < half)


def label_regions(
    points: np.ndarray, neck: np.ndarray, ears: np.ndarray, lm: np.ndarray, hairline_mm: float, facial_hair: int
) -> np.ndarray:
    """Region labels on the grid from landmark polygons (front surface) plus hair, ears and neck masks."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    lv = frame_levels(lm)
    front = z > 0.35 * np.linalg.norm(points, axis=-1)
    lab = np.full(x.shape, SKIN, np.uint8)
    lab[neck] = NECK
    lab[ears] = EARS
    y_hair = lv["y_brow"] + hairline_mm - 0.25 * np.abs(x)  # lower at the temples
    back = z < 0.2 * np.linalg.norm(points, axis=-1)
    hair = (y > y_hair) | (back & (y > lv["y_sn"] - 5) & ~ears)
    lab[hair & ~neck] = HAIR
    if facial_hair >= 1:  # moustache: between subnasale and the upper lip
        mou = front & (np.abs(x) < 0.5 * lv["mouth_w"] + 4) & (y < lv["y_sn"] - 2) & (y > lm[51, 1] + 1)
        lab[mou] = HAIR
    if facial_hair >= 2:  # beard: below the mouth corners along the jaw
        jaw = np.concatenate([lm[2:15, :2], lm[[54], :2] + [6, 8], lm[[48], :2] + [-6, 8]])
        beard = front & _inside(jaw[np.argsort(np.arctan2(jaw[:, 1] - lv["y_sto"], jaw[:, 0]))], x, y)
        lab[beard & (y < lv["y_sto"] + 4) & ~_inside(lm[48:60, :2], x, y)] = HAIR
    lab[front & (_band(lm[17:22, :2], x, y, 3.5) | _band(lm[22:27, :2], x, y, 3.5))] = BROWS
    lab[front & (_inside(lm[36:42, :2], x, y) | _inside(lm[42:48, :2], x, y))] = EYES
    lab[front & _inside(lm[48:60, :2], x, y)] = LIPS
    return lab


def jaw_contour(r: np.ndarray, grid: Grid, lm: np.ndarray, inset: float = 0.93) -> np.ndarray:
    """iBUG points 0..16 along the face outline, from the eye level down to the chin (point 8 kept)."""
    pts = r[..., None] * grid.dirs  # (E, A, 3)
    pts = pts[pts[..., 2] > 0.15 * r]  # (F, 3) front points
    x, y = pts[:, 0], pts[:, 1]
    front = np.ones(len(pts), bool)
    y_top, y_me = frame_levels(lm)["y_eye"] - 6.0, float(lm[8, 1])
    phi = np.linspace(-np.pi / 2, np.pi / 2, 17)
    ys = y_me + (y_top - y_me) * np.abs(np.sin(phi)) ** 1.3
    xs = np.empty(17)
    for k, yk in enumerate(ys):
        band = front & (np.abs(y - yk) < 2.0 * grid.step_deg)
        side = band & ((x > 0) if phi[k] > 0 else (x < 0))
        xs[k] = np.abs(x[side]).max() if side.any() else 0.0
    xs = np.sign(phi) * inset * xs * np.abs(np.sin(phi)) ** 0.35
    out = project_to_surface(r, grid, np.column_stack([xs, ys]))
    out[8] = lm[8]
    return out


def glasses_map(points: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """(E, A) uint8 on the front of the head: 1 lens (ellipses around the eyes), 2 metal frame (rims, bridge,
    temples back to the ears); the frames follow the face surface (no stand-off) [I]."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    rad = np.linalg.norm(points, axis=-1)
    out = np.zeros(x.shape, np.uint8)
    front = z > 0.3 * rad
    rim = np.zeros(x.shape, bool)
    y_bar = 0.0
    for a, b in ((36, 42), (42, 48)):
        c = lm[a:b, :2].mean(0)
        c[0] += np.sign(c[0]) * 3.0
        q = np.hypot((x - c[0]) / 24.0, (y - c[1]) / 17.0)
        out[front & (q < 0.9)] = 1
        rim |= front & (np.abs(q - 1.0) < 0.1)
        y_bar = max(y_bar, float(c[1]) + 5.0)
    x_in = float(np.abs(lm[[39, 42], 0]).max()) + 3.0 - 24.0 * 0.9  # inner lens edges
    x_out = float(np.abs(lm[[36, 45], 0]).max()) + 3.0 + 24.0 * 0.8
    bridge = front & (np.abs(x) < max(x_in, 2.0) + 2.0) & (np.abs(y - y_bar) < 1.6)
    temples = (np.abs(x) > x_out) & (np.abs(y - y_bar) < 1.6) & (z > -20.0)
    out[rim | bridge | temples] = 2
    return out


def finish_head(
    g: Grid, r: np.ndarray, r_neck: np.ndarray, ears: np.ndarray, lm: np.ndarray, traits: dict
) -> HeadSurface:
    """Shared last step: region labels, the hair / beard / brow layer and glasses, the HeadSurface record.

    Hair is a lossy scattering layer over the skin (its thickness map), not displaced skin."""
    neck = r_neck > r - 1.0
    pts = r[..., None] * g.dirs
    labels = label_regions(pts, neck, ears, lm, traits["hairline_mm"], traits["facial_hair"])
    hairy = labels == HAIR
    scalp = hairy & ((pts[..., 1] > lm[36:48, 1].mean() - 10) | (pts[..., 2] < 0))  # not beard
    hair = traits["hair_mm"] * wrap_filter(scalp.astype(np.float64), 2.0)
    hair = np.where(hairy & ~scalp, traits.get("beard_mm", 0.0), hair) + 1.0 * (labels == BROWS)
    glasses = glasses_map(pts, lm) if traits.get("glasses") else np.zeros(r.shape, np.uint8)
    return HeadSurface(g, r, labels, lm.astype(np.float64), hair, glasses)
