"""Each direct estimator on synthetic images with known parameters (tolerances stated per test)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from thzface.calibrate import features as F
from thzface.sim.sensor import ar1

NAN = float("nan")


def _feats(tot: dict) -> dict[str, float]:
    return F.features(tot, sigma_tot=0.01, dr_db=NAN, size=32, pitch_mm=1.0)


def _texture(rng: np.random.Generator, size: int = 32, blur: float = 1.0) -> np.ndarray:
    """Isotropic positive texture (log of a blurred white field), values about 0.05..0.8."""
    f = ndimage.gaussian_filter(rng.standard_normal((size, size)), blur, mode="wrap")
    return np.clip(0.2 * np.exp(f / f.std() * 0.5), 0.04, 0.85)


def test_dropped_rows_finds_zero_and_repeated_rows_exactly() -> None:
    y = 0.3 + 0.2 * np.random.default_rng(0).random((32, 32))
    y[10] = 0.0
    y[20] = y[19]
    drop, elig = F.dropped_rows(y)
    assert np.flatnonzero(drop).tolist() == [10, 20]
    assert np.flatnonzero(~elig).tolist() == [0, 9, 11, 31]  # edges and the zero row's neighbours


def test_dropped_pixels_counts_isolated_zeros_exactly() -> None:
    y = 0.3 + 0.2 * np.random.default_rng(1).random((32, 32))
    for r, c in ((3, 4), (10, 10), (20, 25), (28, 7)):
        y[r, c] = 0.0
    iso, elig = F.dropped_pixels(y, np.ones(32, bool))
    assert iso == 4
    assert elig == 30 * 30 - 4 * 8  # interior pixels minus the neighbours of the four zeros


def test_noise_estimator_recovers_white_noise_std() -> None:
    # tolerance 3 %: mean |horizontal difference| / 1.128 of 60 images of N(0.5, sigma^2)
    rng = np.random.default_rng(2)
    sigma, tot = 0.02, {}
    for _ in range(60):
        s = 0.5 + sigma * rng.standard_normal((32, 32))
        for k, v in F.noise_sums(s, np.ones((32, 32), bool)).items():
            tot[k] = tot.get(k, 0) + v
    snr = _feats(tot)["snr_db"]
    assert 10 ** (-snr / 10) == pytest.approx(sigma, rel=0.03)


def test_offset_estimators_recover_ar1_row_drift() -> None:
    # tolerance: offset std within 10 %, lag-1 correlation within 0.05 (300 images of 32 rows, rho = 0.8)
    rng = np.random.default_rng(3)
    sig_o, rho, tot = 0.01, 0.8, {}
    for _ in range(300):
        s = 0.1 + sig_o * ar1(32, rho, rng)[:, None] + 0.005 * rng.standard_normal((32, 32))
        for k, v in F.noise_sums(s, np.ones((32, 32), bool)).items():
            tot[k] = tot.get(k, 0) + v
    f = _feats(tot)
    assert f["offset_sigma"] == pytest.approx(sig_o, rel=0.1)
    assert f["offset_rho"] == pytest.approx(rho, abs=0.05)


def test_gain_estimator_sees_row_gain_on_isotropic_texture() -> None:
    # tolerance 25 %: gain_innov ~ std of log g_r - log g_{r-1} = sigma_g sqrt(2 (1 - rho)); 0 without gain
    rng = np.random.default_rng(4)
    sig_g, rho = 0.1, 0.5

    def innov(gain: bool) -> float:
        tot = np.zeros(4)
        for _ in range(200):
            g = 1 + sig_g * ar1(32, rho, rng) if gain else np.ones(32)
            tot += F.gain_sums(_texture(rng) * g[:, None])
        return _feats({"gain": tot})["gain_innov"]

    assert innov(True) == pytest.approx(sig_g * np.sqrt(2 * (1 - rho)), rel=0.25)
    assert innov(False) < 0.3 * sig_g * np.sqrt(2 * (1 - rho))


@pytest.mark.parametrize("fwhm", [2.5, 4.0])
def test_psf_estimator_recovers_gaussian_blur(fwhm: float) -> None:
    # tolerance 15 %: sparse random points blurred by a Gaussian of known FWHM (pixels), no noise
    rng = np.random.default_rng(5)
    spec = np.zeros(16)
    for _ in range(40):
        pts = (rng.random((32, 32)) < 0.05) * rng.random((32, 32))
        spec += F.radial_spectrum(ndimage.gaussian_filter(pts, fwhm / 2.3548, mode="wrap"))
    assert F.psf_fwhm_px(spec / 40, 0.0, 32) == pytest.approx(fwhm, rel=0.15)


def test_sparsity_and_attenuation_are_exact_on_constructed_pairs() -> None:
    yu = np.zeros((32, 32))
    yu[8:16, 8:16] = 0.3 + 0.5 * np.random.default_rng(6).random((8, 8))  # 64 of 1024 pixels above 10 % clip
    yb = yu * 10 ** (-3.0 / 10)  # 3 dB darker in power
    bg = np.zeros((32, 32), bool)
    bg[:, :4] = True
    tot = F.pass2(yb, yu, bg, "linear", 60.0)
    f = _feats(tot)
    assert f["sparsity10"] == pytest.approx(np.log(64 / 960), abs=1e-6)  # logit(64 / 1024)
    assert f["attenuation_db"] == pytest.approx(3.0, abs=0.01)


def test_background_mask_picks_where_the_head_rarely_is() -> None:
    imgs = np.zeros((5, 32, 32))
    imgs[:, 4:28, 6:26] = 0.6
    bg = F.background_mask(imgs, share=0.15)
    assert bg.mean() == pytest.approx(0.15, abs=0.05)
    assert not bg[8:24, 10:22].any()
    with pytest.raises(ValueError, match="images"):
        F.background_mask(np.zeros((32, 32)))
