"""Pure THz physics: water/skin permittivity, Fresnel, the layer stack (eq. 2), Gaussian beams, the glint lobe.

Every function is vectorised over numpy arrays and follows ../shared/thz-physics.md (section tags in
docstrings). Time convention e^{-iwt}: Im(n) > 0 means loss.
"""

from __future__ import annotations

import numpy as np

C_MM_PER_NS = 299.792458  # speed of light in mm/ns, so lambda[mm] = C / f[GHz]
DB_PER_NEPER_POWER = 10.0 / np.log(10.0)  # 4.343 dB per neper of power


def wavelength_mm(freq_ghz: float | np.ndarray) -> float | np.ndarray:
    """Free-space wavelength in mm (0.882 mm at 340 GHz) [D]."""
    return C_MM_PER_NS / np.asarray(freq_ghz, dtype=np.float64)


def wavenumber_per_mm(freq_ghz: float | np.ndarray) -> float | np.ndarray:
    """k0 = 2 pi / lambda in rad/mm."""
    return 2.0 * np.pi / wavelength_mm(freq_ghz)


def water_permittivity(freq_ghz: float, temp_k: float = 307.0) -> complex:
    """Liebe-Hufford-Manabe (1991) double-Debye permittivity of water [S8]; 5.24+5.31i at 340 GHz, 307 K."""
    if temp_k <= 0:
        raise ValueError(f"temp_k: must be positive kelvin, got {temp_k}")
    th = 1.0 - 300.0 / temp_k
    e0 = 77.66 - 103.3 * th
    e1 = 0.0671 * e0
    f1 = 20.2 + 146.4 * th + 316.0 * th * th
    e2 = 3.52 + 7.52 * th
    f2 = 39.8 * f1
    f = float(freq_ghz)
    return complex(e2 + (e1 - e2) / (1 - 1j * f / f2) + (e0 - e1) / (1 - 1j * f / f1))


def looyenga_mix(eps_a: complex, eps_b: complex, frac_a: float | np.ndarray) -> complex | np.ndarray:
    """Looyenga mixing eps^(1/3) = f*a^(1/3) + (1-f)*b^(1/3) (principal cube roots) [D, mixing rule I]."""
    fa = np.asarray(frac_a, dtype=np.float64)
    if np.any((fa < 0) | (fa > 1)):
        raise ValueError("frac_a: volume fraction must lie in [0, 1]")
    root = fa * np.complex128(eps_a) ** (1 / 3) + (1 - fa) * np.complex128(eps_b) ** (1 / 3)
    return root**3


def skin_index(
    freq_ghz: float, water_fraction: float | np.ndarray, temp_k: float = 307.0, dry_eps: complex = 2.5 + 0.25j
) -> np.ndarray:
    """Complex refractive index of skin: Liebe water mixed with dry tissue (Looyenga) [D]; 4.45+3.27i at 70 %."""
    eps = looyenga_mix(water_permittivity(freq_ghz, temp_k), dry_eps, water_fraction)
    return np.sqrt(np.asarray(eps, dtype=np.complex128))


def fresnel_normal(n1: complex | np.ndarray, n2: complex | np.ndarray) -> np.ndarray:
    """Amplitude reflection coefficient rho_{1,2} = (n1 - n2) / (n1 + n2) at normal incidence, eq. (2)."""
    n1 = np.asarray(n1, dtype=np.complex128)
    n2 = np.asarray(n2, dtype=np.complex128)
    return (n1 - n2) / (n1 + n2)


def fresnel_oblique(n2: complex | np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Power reflectivities (R_s, R_p) from air onto a half-space of index n2 at incidence ``theta`` (rad)."""
    n2 = np.asarray(n2, dtype=np.complex128)
    ci = np.cos(theta)
    ct = np.sqrt(1 - (np.sin(theta) / n2) ** 2)
    rs = (ci - n2 * ct) / (ci + n2 * ct)
    rp = (n2 * ci - ct) / (n2 * ci + ct)
    return np.abs(rs) ** 2, np.abs(rp) ** 2


def layer_loss_db(n: complex | np.ndarray, d_mm: float | np.ndarray, freq_ghz: float) -> np.ndarray:
    """One-way power absorption of a slab in dB: 8.686 * k0 * Im(n) * d (0.8 dB for thin cotton) [D]."""
    k0 = wavenumber_per_mm(freq_ghz)
    return 2.0 * DB_PER_NEPER_POWER * k0 * np.imag(np.asarray(n, dtype=np.complex128)) * np.asarray(d_mm)


def fabric_index(eps_real: float | np.ndarray, tan_delta: float | np.ndarray) -> np.ndarray:
    """n = sqrt(eps' (1 + i tan delta)) for a fabric layer [section 1.1]."""
    return np.sqrt(np.asarray(eps_real, dtype=np.complex128) * (1 + 1j * np.asarray(tan_delta)))


def stack_coherent(n: np.ndarray, d_mm: np.ndarray, n_back: np.ndarray, freq_ghz: float) -> np.ndarray:
    """Complex reflection Gamma of air | layers | half-space, recursion eq. (2), vectorised per pixel.

    ``n``, ``d_mm``: (..., K) layer indices and thicknesses, outermost first (air gaps are layers with n=1);
    ``n_back``: (...) index of the half-space behind the last layer (skin, or 1 for nothing).
    """
    n = np.asarray(n, dtype=np.complex128)
    d = np.asarray(d_mm, dtype=np.float64)
    k0 = wavenumber_per_mm(freq_ghz)
    k = n.shape[-1]
    r = fresnel_normal(n[..., k - 1] if k else 1.0, n_back)
    for j in range(k - 1, -1, -1):
        outer = n[..., j - 1] if j > 0 else np.ones_like(n[..., 0])
        rho = fresnel_normal(outer, n[..., j])
        ph = np.exp(2j * k0 * n[..., j] * d[..., j])
        r = (rho + r * ph) / (1 + rho * r * ph)
    return r


def stack_incoherent(n: np.ndarray, d_mm: np.ndarray, n_back: np.ndarray, freq_ghz: float) -> np.ndarray:
    """Power reflectivity of the same stack with phases averaged out (wideband / incoherent systems) [D]."""
    n = np.asarray(n, dtype=np.complex128)
    d = np.asarray(d_mm, dtype=np.float64)
    k0 = wavenumber_per_mm(freq_ghz)
    k = n.shape[-1]
    big_r = np.abs(fresnel_normal(n[..., k - 1] if k else 1.0, n_back)) ** 2
    for j in range(k - 1, -1, -1):
        outer = n[..., j - 1] if j > 0 else np.ones_like(n[..., 0])
        rf = np.abs(fresnel_normal(outer, n[..., j])) ** 2
        att = np.exp(-4.0 * k0 * np.imag(n[..., j]) * d[..., j])  # round-trip power attenuation
        big_r = rf + (1 - rf) ** 2 * big_r * att / (1 - rf * big_r * att)
    return big_r


def beam_radius(z_mm: np.ndarray, w0_mm: float, z_focus_mm: float, freq_ghz: float) -> np.ndarray:
    """Gaussian beam radius w(z) = w0 sqrt(1 + ((z - z_f)/z_R)^2), z_R = pi w0^2 / lambda [S22, S24]."""
    zr = rayleigh_range(w0_mm, freq_ghz)
    return w0_mm * np.sqrt(1 + ((np.asarray(z_mm) - z_focus_mm) / zr) ** 2)


def rayleigh_range(w0_mm: float, freq_ghz: float) -> float:
    """z_R = pi w0^2 / lambda in mm; the depth of field is 2 z_R [D]."""
    return float(np.pi * w0_mm**2 / wavelength_mm(freq_ghz))


def waist_from_fwhm(fwhm_mm: float) -> float:
    """Beam radius w0 whose two-way intensity PSF has the given FWHM (FWHM = 0.83 w) [D]."""
    return fwhm_mm / TWO_WAY_FWHM_PER_W


TWO_WAY_FWHM_PER_W = float(np.sqrt(np.log(2)))  # exp(-4 rho^2 / w^2) has FWHM sqrt(ln 2) w = 0.83 w


def diffraction_waist(freq_ghz: float, standoff_mm: float, aperture_mm: float) -> float:
    """Diffraction-limited waist w0 = lambda z / (pi w_L) with w_L = D/2 [D]."""
    return float(wavelength_mm(freq_ghz) * standoff_mm / (np.pi * aperture_mm / 2))


def acceptance_angle(standoff_mm: float, aperture_mm: float) -> float:
    """Gaussian specular acceptance theta_0 = w_L / (2 z) = D / (4 z) in rad (1.4-4.3 deg at 1 m) [D]."""
    return float(aperture_mm / (4.0 * standoff_mm))


def glint_lobe(theta: np.ndarray, theta_0: float, theta_c: np.ndarray | float = 0.0) -> np.ndarray:
    """Specular power lobe of a patch tilted by ``theta``, normalised by curvature broadening [D].

    theta_a^2 = theta_0^2 + theta_c^2; power = (theta_0^2 / theta_a^2) exp(-theta^2 / theta_a^2). For a flat
    patch (theta_c = 0) this is section 1.3's exp(-theta^2/theta_a^2); a curved patch spreads the same
    returned power over a wider lobe (stationary-phase PO result for a doubly curved surface).
    """
    ta2 = theta_0**2 + np.asarray(theta_c) ** 2
    return (theta_0**2 / ta2) * np.exp(-(np.asarray(theta) ** 2) / ta2)


def curvature_broadening(w_mm: np.ndarray, curvature_per_mm: np.ndarray) -> np.ndarray:
    """theta_c = w kappa / 2: the normal spread seen inside a spot of radius w on curvature kappa [D]."""
    return 0.5 * np.asarray(w_mm) * np.asarray(curvature_per_mm)
