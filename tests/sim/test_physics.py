"""Physics pieces against hand-derived values (thz-physics.md sections 1.2-1.4, 2)."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.sim import physics as P


def test_water_and_skin_match_the_physics_note():
    eps = P.water_permittivity(340.0, 307.0)
    assert eps.real == pytest.approx(5.24, abs=0.01) and eps.imag == pytest.approx(5.31, abs=0.01)
    eps_skin = P.looyenga_mix(eps, 2.5 + 0.25j, 0.7)
    assert complex(eps_skin) == pytest.approx(4.45 + 3.27j, abs=0.01)
    r_skin = abs(P.fresnel_normal(1.0, P.skin_index(340.0, 0.7))) ** 2
    assert r_skin == pytest.approx(0.187, abs=0.002)
    assert abs(P.fresnel_normal(1.0, np.sqrt(eps))) ** 2 == pytest.approx(0.253, abs=0.002)


def test_bare_skin_stack_equals_fresnel():
    n_skin = P.skin_index(340.0, np.array([0.5, 0.7, 0.9]))
    fres = np.abs(P.fresnel_normal(1.0, n_skin)) ** 2
    empty = np.zeros((3, 0))
    assert np.allclose(np.abs(P.stack_coherent(empty, empty, n_skin, 340.0)) ** 2, fres)
    assert np.allclose(P.stack_incoherent(empty, empty, n_skin, 340.0), fres)
    zero_cloth = (np.full((3, 1), P.fabric_index(1.6, 0.05)), np.zeros((3, 1)))  # zero thickness: no effect
    assert np.allclose(np.abs(P.stack_coherent(*zero_cloth, n_skin, 340.0)) ** 2, fres)


@pytest.mark.parametrize(
    "eps,tand,d,lo,hi",
    [(1.6, 0.05, 0.4, 0.07, 0.20), (1.4, 0.08, 1.5, 0.009, 0.047), (2.8, 0.15, 1.2, 0.054, 0.104)],
)
def test_gap_sweep_reproduces_the_worked_example(eps, tand, d, lo, hi):
    g = np.linspace(0, 3, 1201)
    n = np.stack([np.full(g.shape, P.fabric_index(eps, tand)), np.ones(g.shape, complex)], -1)
    dd = np.stack([np.full(g.shape, d), g], -1)
    r = np.abs(P.stack_coherent(n, dd, np.full(g.shape, P.skin_index(340.0, 0.7)), 340.0)) ** 2
    assert r.min() == pytest.approx(lo, abs=0.006) and r.max() == pytest.approx(hi, abs=0.006)
    period = P.wavelength_mm(340.0) / 2  # standing waves repeat every lambda/2 of gap
    k = int(round(period / (g[1] - g[0])))
    assert np.allclose(r[:-k], r[k:], atol=1e-3)


def test_fabric_loss_lowers_the_return_as_configured():
    n_skin = P.skin_index(340.0, 0.7)
    r_bare = abs(P.fresnel_normal(1.0, n_skin)) ** 2
    prev = r_bare
    for tand in (0.02, 0.05, 0.1, 0.2):
        nf = P.fabric_index(1.5, tand)
        n = np.array([[nf, 1.0]])
        d = np.array([[1.0, 2.0]])
        r_tot = P.stack_incoherent(n, d, np.array([n_skin]), 340.0)[0]
        r_fab = P.stack_incoherent(n, d, np.array([1.0 + 0j]), 340.0)[0]
        through = r_tot - r_fab  # the skin's share of the return
        two_way = 10 ** (-2 * P.layer_loss_db(nf, 1.0, 340.0) / 10)
        assert through < prev
        assert through == pytest.approx(r_bare * two_way * (1 - r_fab) ** 2, rel=0.05)
        prev = through
    assert P.layer_loss_db(P.fabric_index(1.6, 0.05), 0.4, 340.0) == pytest.approx(0.8, abs=0.05)


def _po_lobe(theta: float, w: float, k0: float) -> float:
    """Physical-optics return of a flat patch tilted by theta under the two-way Gaussian spot exp(-2 rho^2/w^2)."""
    x = np.linspace(-3 * w, 3 * w, 601)
    xx, yy = np.meshgrid(x, x)
    field = np.exp(-2 * (xx**2 + yy**2) / w**2) * np.exp(2j * k0 * xx * np.sin(theta))
    flat = np.exp(-2 * (xx**2 + yy**2) / w**2)
    return float(abs(field.sum()) ** 2 / abs(flat.sum()) ** 2)


def test_glint_lobe_matches_physical_optics_and_narrows_with_the_illuminated_aperture():
    k0 = P.wavenumber_per_mm(340.0)
    widths = []
    for w in (2.0, 4.0, 8.0):  # illuminated aperture (spot radius) grows
        theta0 = 1.0 / (k0 * w)
        for th in np.deg2rad([0.5, 1.0, 2.0]):
            assert P.glint_lobe(th, theta0) == pytest.approx(_po_lobe(th, w, k0), abs=2e-3)
        ths = np.deg2rad(np.linspace(0, 20, 2001))
        widths.append(ths[np.argmax(P.glint_lobe(ths, theta0) < 0.5)])
    assert widths[0] > widths[1] > widths[2]
    # the focused system's acceptance D/(4z) is the same law for its diffraction-limited waist
    w0 = P.diffraction_waist(340.0, 1000.0, 200.0)
    assert P.acceptance_angle(1000.0, 200.0) == pytest.approx(1.0 / (k0 * w0), rel=1e-9)


def test_curvature_spreads_the_lobe_at_constant_power():
    th = np.deg2rad(np.linspace(-30, 30, 6001))
    flat, curved = P.glint_lobe(th, 0.03), P.glint_lobe(th, 0.03, 0.1)
    assert curved.max() < flat.max()
    assert np.trapezoid(curved * np.abs(th), th) == pytest.approx(np.trapezoid(flat * np.abs(th), th), rel=0.02)


def _fwhm(profile: np.ndarray, pitch: float) -> float:
    """Full width at half maximum of a single-peaked 1-D profile, half-max crossings linearly interpolated."""
    half = profile.max() / 2
    above = np.flatnonzero(profile >= half)
    i0, i1 = above[0], above[-1]
    left = i0 - 1 + (half - profile[i0 - 1]) / (profile[i0] - profile[i0 - 1])
    right = i1 + (profile[i1] - half) / (profile[i1] - profile[i1 + 1])
    return float((right - left) * pitch)


@pytest.mark.parametrize("fwhm_mm", [2.0, 5.0, 10.0])
def test_point_target_renders_the_configured_psf_fwhm(fwhm_mm):
    """A point target blurred by the beam of waist_from_fwhm(F) shows FWHM F (within 2 %), active and passive."""
    from thzface.sim.thz import psf_blur

    pitch, n = 0.1, 401
    img = np.zeros((n, n))
    img[n // 2, n // 2] = 1.0
    w0 = P.waist_from_fwhm(fwhm_mm)
    out = psf_blur(img, np.full((n, n), w0), pitch, 1)
    assert _fwhm(out[n // 2], pitch) == pytest.approx(fwhm_mm, rel=0.02)
    assert _fwhm(out[:, n // 2], pitch) == pytest.approx(fwhm_mm, rel=0.02)
