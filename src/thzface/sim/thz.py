"""Active THz image formation on the fine grid: skin Fresnel reflectivity, quasi-specular glint lobe, diffuse
return, the garment layer stack (eq. 2), then the depth-dependent PSF and coherent speckle.

This is thz-physics.md section 1.3's reduced model with the coherent/incoherent stack of section 1.2(c): per
pixel, the fabric-only reflection (lobe of the fabric normal) and the skin-through-fabric return (lobe of the
skin normal) are summed as fields for CW systems (air-gap standing waves) or as powers for wideband ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from thzface.sim import head as H
from thzface.sim import physics as P
from thzface.sim.config import ActiveConfig, SkinConfig, pick
from thzface.sim.garments import Garment
from thzface.sim.render import View, front_of


@dataclass
class ActiveDraw:
    """Per-sample active system, drawn once and shared by the concealed and unconcealed scans."""

    freq_ghz: float
    standoff_mm: float
    aperture_mm: float
    w0_mm: float  # beam radius at focus (>= diffraction limit)
    focus_offset_mm: float  # focus plane minus reference plane, along the beam
    theta0: float  # specular acceptance, rad
    coherent: bool  # CW (gap fringes) vs wideband
    detector: str  # square_law | heterodyne | homodyne
    looks: int  # speckle looks
    water: float  # skin water fraction
    fd_skin: float  # diffuse fraction of skin
    fd_hair: float  # diffuse fraction of hair/brows/beard


def draw_active(cfg: ActiveConfig, rng: np.random.Generator, traits: dict) -> ActiveDraw:
    """Instrument parameters from ``rng``; the person's skin parameters from the identity ``traits``."""
    f = float(rng.uniform(*cfg.freq_ghz))
    z = float(rng.uniform(*cfg.standoff_mm))
    d = float(rng.uniform(*cfg.aperture_mm))
    w0 = max(P.waist_from_fwhm(float(rng.uniform(*cfg.psf_fwhm_mm))), P.diffraction_waist(f, z, d))
    dof = 2 * P.rayleigh_range(w0, f)
    return ActiveDraw(
        freq_ghz=f,
        standoff_mm=z,
        aperture_mm=d,
        w0_mm=w0,
        focus_offset_mm=float(rng.uniform(*cfg.focus_offset_dof)) * dof,
        theta0=P.acceptance_angle(z, d),
        coherent=bool(rng.random() < cfg.coherent_prob),
        detector=pick(cfg.detector_weights, rng),
        looks=int(rng.choice(cfg.speckle_looks)),
        water=float(traits["water"]),
        fd_skin=float(traits["fd_skin"]),
        fd_hair=float(traits["fd_hair"]),
    )


def skin_optics(labels: np.ndarray, water: float, fd_skin: float, fd_hair: float, cfg: SkinConfig, freq: float):
    """Per-pixel complex skin index and diffuse fraction from region labels."""
    wmap = np.full(labels.shape, water)
    wmap[labels == H.LIPS] = min(water + cfg.lip_water_add, 1.0)
    wmap[labels == H.EYES] = cfg.eye_water
    dry = complex(cfg.dry_eps[0], cfg.dry_eps[1])
    n = P.skin_index(freq, wmap, cfg.temp_k, dry)
    hairy = (labels == H.HAIR) | (labels == H.BROWS)
    return n, np.where(hairy, fd_hair, fd_skin)


def curvature(normal: np.ndarray, mask: np.ndarray, pitch: float) -> np.ndarray:
    """Normal-field curvature |grad n| / sqrt(2) in 1/mm; silhouette pixels get a typical 1/20 mm."""
    g = [np.gradient(normal[..., c], pitch) for c in range(3)]
    k = np.sqrt(sum(gu**2 + gv**2 for gu, gv in g) / 2.0)
    inner = ndimage.binary_erosion(mask)
    return np.where(inner, k, 0.05) * mask


def beam_w(height: np.ndarray, h_ref: float, d: ActiveDraw) -> np.ndarray:
    """Beam radius per pixel; the focus plane sits at h_ref + focus offset (height = toward the sensor)."""
    return P.beam_radius(height, d.w0_mm, h_ref - d.focus_offset_mm, d.freq_ghz)


def garment_pixels(garments: list[Garment], env: View, sel: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Per garment, at the selected envelope pixels: coverage, radial gap, breath-moisture multiplier."""
    return [
        {
            "cover": env.attr(g.cover, nearest=True)[sel].astype(bool),
            "gap": env.attr(g.gap)[sel],
            "wet": env.attr(g.wet)[sel],
            "yarn": g.scatter * (env.attr(g.texture)[sel] if g.texture is not None else np.ones(int(sel.sum()))),
        }
        for g in garments
    ]


def garment_stack(
    garments: list[Garment], px: list[dict], env: View, skin: View, n_skin: np.ndarray, sel: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Layer arrays (P, L) of index n and thickness d at the selected pixels, outer garment first, air gaps
    rescaled to the line-of-sight distance between envelope and skin. Returns n, d, n_back, is-fabric (L,)."""
    cols_n, cols_d, is_fab, gap_cols = [], [], [], []
    fixed = np.zeros(int(sel.sum()))
    for g, p in zip(reversed(garments), reversed(px), strict=True):  # outermost first
        cov = p["cover"]
        nf = np.where(cov, P.fabric_index(g.eps_real, g.tan_delta * p["wet"]), 1.0)
        for i in range(g.layers):
            if i:
                cols_n.append(np.ones_like(nf))
                cols_d.append(np.where(cov, g.wrap_gaps_mm[i - 1], 0.0))
                is_fab.append(False)
            cols_n.append(nf)
            cols_d.append(np.where(cov, g.thickness_mm, 0.0))
            is_fab.append(True)
        cols_n.append(np.ones_like(nf))
        cols_d.append(np.where(cov, p["gap"], 0.0))
        is_fab.append(False)
        gap_cols.append(len(cols_d) - 1)
        fixed += np.where(cov, g.total_mm, 0.0)
    n, d = np.stack(cols_n, -1), np.stack(cols_d, -1)
    has_skin = skin.mask[sel]
    los = env.height[sel] - skin.height[sel]
    scale = np.clip(los - fixed, 0, None) / np.maximum(d[:, gap_cols].sum(-1), 1e-6)
    d[:, gap_cols] = np.where(has_skin[:, None], d[:, gap_cols] * scale[:, None], d[:, gap_cols])
    n_back = np.where(has_skin, n_skin[sel], 1.0 + 0j)
    return n, d, n_back, np.array(is_fab)


def outer_value(garments: list[Garment], px: list[dict], attr: str) -> np.ndarray:
    """Garment attribute (scalar attribute name or per-pixel ``px`` key) of the outermost garment covering each
    selected pixel (0 where none)."""
    out = np.zeros(len(px[0]["cover"]))
    for g, p in zip(garments, px, strict=True):  # inner first, so outer ones overwrite
        out = np.where(p["cover"], p[attr] if attr in p else float(getattr(g, attr)), out)
    return out


def diffuse_coupling(d: ActiveDraw) -> float:
    """Share of a Lambertian scatter the aperture collects: (Omega_rx / pi) cos(theta) with Omega_rx =
    pi (D/2)^2 / z^2, i.e. (D / 2z)^2 (0.001-0.035 for D 0.1-0.3 m at 0.8-1.5 m) [D]; a flat patch facing the
    sensor returns its whole beam (R), so diffuse returns sit 15-30 dB below the glints."""
    return (d.aperture_mm / (2 * d.standoff_mm)) ** 2


def active_scene(
    skin: View,
    env: View | None,
    garments: list[Garment],
    labels: np.ndarray,
    region: np.ndarray,
    d: ActiveDraw,
    cfg: SkinConfig,
    pitch: float,
    h_ref: float,
    hair_scatter: np.ndarray | None = None,
    flt: Filters | None = None,
) -> dict[str, np.ndarray]:
    """Fine-grid specular and diffuse intensity (relative to P0 = 1) for the unconcealed and concealed scene.

    ``hair_scatter`` (H, W): backscatter of the hair layer (its loss is already in ``region``); each garment
    adds its textured yarn-scale backscatter on top of the diffuse fabric reflection; skin optics and curvature by
    the backend's ``flt`` (default this module's)."""
    f, flt = d.freq_ghz, flt or FILTERS
    n_skin, fd = flt.skin_optics(labels, d.water, d.fd_skin, d.fd_hair, cfg, f)
    cos_s = np.clip(skin.normal[..., 2], 0, 1) * skin.mask
    theta_c = P.curvature_broadening(beam_w(skin.height, h_ref, d), flt.curvature(skin.normal, skin.mask, pitch))
    lobe_s = P.glint_lobe(np.arccos(cos_s), d.theta0, theta_c) * skin.mask
    gamma_s = P.fresnel_normal(1.0, n_skin) * np.sqrt(region)
    r_s = np.abs(gamma_s) ** 2 * skin.mask
    kd = diffuse_coupling(d)
    diff = kd * r_s * fd * cos_s + (hair_scatter * cos_s if hair_scatter is not None else 0.0)
    out = {"spec_u": r_s * (1 - fd) * lobe_s, "diff_u": diff, "loss_db": np.zeros(skin.mask.shape)}
    out["spec_c"], out["diff_c"] = out["spec_u"].copy(), out["diff_u"].copy()
    out["gap"] = np.zeros(skin.mask.shape)
    if env is None or not garments:
        return out
    sel = front_of(env, skin)
    px = garment_pixels(garments, env, sel)
    n, dd, n_back, fab = garment_stack(garments, px, env, skin, n_skin, sel)
    cos_f = np.clip(env.normal[..., 2][sel], 0, 1)
    kappa_f = flt.curvature(env.normal, env.mask, pitch)[sel]
    theta_cf = P.curvature_broadening(beam_w(env.height[sel], h_ref, d), kappa_f)
    lobe_f = P.glint_lobe(np.arccos(cos_f), d.theta0, theta_cf)
    fd_fab = outer_value(garments, px, "diffuse")
    air = np.ones_like(n_back)
    if d.coherent:
        g_tot, g_f = P.stack_coherent(n, dd, n_back, f), P.stack_coherent(n, dd, air, f)
        a_s = (g_tot - g_f) * np.sqrt(region[sel] * (1 - fd[sel]) * lobe_s[sel])
        spec = np.abs(g_f * np.sqrt((1 - fd_fab) * lobe_f) + a_s) ** 2
        r_f = np.abs(g_f) ** 2
    else:
        r_tot, r_f = P.stack_incoherent(n, dd, n_back, f), P.stack_incoherent(n, dd, air, f)
        spec = r_f * (1 - fd_fab) * lobe_f + (r_tot - r_f) * region[sel] * (1 - fd[sel]) * lobe_s[sel]
    loss = P.layer_loss_db(n[:, fab], dd[:, fab], f).sum(-1)
    t_rt = 10 ** (-2 * loss / 10)
    out["spec_c"][sel] = spec
    yarn = outer_value(garments, px, "yarn")
    out["diff_c"][sel] = t_rt * out["diff_u"][sel] + (kd * fd_fab * r_f + yarn) * cos_f
    out["loss_db"][sel] = 2 * loss * skin.mask[sel]
    out["gap"][sel] = dd[:, ~fab].sum(-1) * skin.mask[sel]
    return out


def psf_blur(img: np.ndarray, w_map: np.ndarray, pitch: float, slabs: int) -> np.ndarray:
    """Depth-dependent incoherent two-way PSF exp(-4 rho^2 / w^2) (sigma = w / (2 sqrt 2)), by depth slabs.

    ``img`` is (H, W) or a stack (..., H, W) blurred alike; ``w_map`` (H, W) is the beam radius per pixel."""
    lead = (0,) * (img.ndim - 2)
    if slabs <= 1 or np.ptp(w_map) < 1e-6:
        sig = float(np.mean(w_map)) / (2 * np.sqrt(2)) / pitch
        return ndimage.gaussian_filter(img, lead + (sig, sig), mode="constant", truncate=3.0)
    edges = np.quantile(w_map, np.linspace(0, 1, slabs + 1))
    idx = np.clip(np.searchsorted(edges, w_map, side="right") - 1, 0, slabs - 1)
    out = np.zeros_like(img)
    live = (img != 0).reshape(-1, *img.shape[-2:]).any(0)  # (H, W) pixels any image of the stack holds
    for s in range(slabs):
        m = idx == s
        if m.any():
            sig = float(w_map[m].mean()) / (2 * np.sqrt(2)) / pitch
            win = _window(m & live, int(3.0 * sig + 0.5) + 1)
            if win is not None:  # the blur of a slab reaches at most its kernel radius past its nonzero pixels
                part = np.where(m, img, 0.0)[(..., *win)]
                out[(..., *win)] += ndimage.gaussian_filter(part, lead + (sig, sig), mode="constant", truncate=3.0)
    return out


def _window(m: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """Rows and columns of the bounding box of ``m`` (H, W) grown by ``pad``, clipped; None when ``m`` is empty.
    A constant-mode Gaussian filter of an image that is zero outside the box, computed on this window, equals the
    whole image's filter on it bit for bit (the same taps over the same values, the zero border read as zeros)
    and the whole image's filter is zero outside it."""
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    if not len(rows):
        return None
    h, w = m.shape
    return slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)), slice(
        max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)
    )


def speckle(shape: tuple[int, int], w_mm: float, pitch: float, looks: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-mean gamma(looks) speckle with the grain of the coherent PSF (amplitude sigma = w / 2) [S21].

    The looks' real and imaginary fields are drawn in one call (the same stream as one look at a time) and
    filtered as one stack (the same arithmetic as a complex filter, which filters the two parts apart)."""
    sig = max(w_mm / 2 / pitch, 0.3)
    g = speckle_normals(shape, looks, rng)  # (L, 2, H, W) real, imaginary per look
    g = ndimage.gaussian_filter(g, (0, 0, sig, sig), mode="wrap")
    acc = np.zeros(shape)
    for k in range(looks):
        acc += np.abs(g[k, 0] + 1j * g[k, 1]) ** 2
    return acc / (looks * 2 * _psf_energy(sig))


def speckle_normals(shape: tuple[int, int], looks: int, rng: np.random.Generator) -> np.ndarray:
    """The draw of one speckle field, (looks, 2, H, W) standard normals: every speckle filter takes exactly this
    draw, so a field that is drawn but not filtered keeps its stream in step."""
    return rng.standard_normal((looks, 2, *shape))


@functools.lru_cache(maxsize=256)
def _psf_energy(sig: float) -> float:
    """Sum of squares of the discrete Gaussian kernel of ``sig`` pixels (the speckle field's variance)."""
    delta = np.zeros((int(8 * sig) * 2 + 3,) * 2)
    delta[delta.shape[0] // 2, delta.shape[1] // 2] = 1
    return float(np.sum(ndimage.gaussian_filter(delta, sig, mode="constant") ** 2))


def box_down(img: np.ndarray, s: int) -> np.ndarray:
    """Average s x s blocks (fine grid -> output pixels)."""
    h, w = img.shape[:2]
    return img.reshape(h // s, s, w // s, s, *img.shape[2:]).mean(axis=(1, 3))


class Filters(NamedTuple):
    """A backend's numerics of image formation: the PSF (``psf_blur``'s signature), the speckle (``speckle``'s),
    skin optics and normal-field curvature. The reference backend uses this module's; the batched backend an FFT
    speckle, a lookup-table skin optics and a one-pass curvature (sim/batch_filters.py)."""

    blur: Callable[[np.ndarray, np.ndarray, float, int], np.ndarray]
    speckle: Callable[[tuple[int, int], float, float, int, np.random.Generator], np.ndarray]
    skin_optics: Callable[..., tuple[np.ndarray, np.ndarray]] = skin_optics
    curvature: Callable[[np.ndarray, np.ndarray, float], np.ndarray] = curvature


FILTERS = Filters(psf_blur, speckle)
