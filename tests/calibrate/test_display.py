"""Display inversion against the simulator's own display map, and the dark-noise likelihood fit."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.calibrate.display import DISPLAY_MODES, fit_dark_noise, invert_display
from thzface.sim.sensor import display


@pytest.mark.parametrize("mode", DISPLAY_MODES)
@pytest.mark.parametrize("dr", [20.0, 35.0, 50.0])
def test_invert_display_undoes_the_simulator_map(mode: str, dr: float) -> None:
    s = np.geomspace(10 ** (-dr / 10) * 1.01, 1.0, 200)
    y = display(s, 1.0, mode, dr)
    np.testing.assert_allclose(invert_display(y, mode, dr), s, rtol=1e-9)


def test_invert_display_floor_and_bad_mode() -> None:
    assert invert_display(np.array([0.0]), "db", 30.0)[0] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="mode"):
        invert_display(np.zeros(2), "log", 30.0)


def _dark_hist(sigma: float, dr: float, mode: str, n: int = 40000, seed: int = 0) -> np.ndarray:
    s = sigma * np.random.default_rng(seed).standard_normal(n)
    y = np.rint(display(s, 1.0, mode, dr) * 255).astype(int)
    return np.bincount(y, minlength=256).astype(float)


@pytest.mark.parametrize("mode", ["sqrt", "db"])
def test_fit_dark_noise_recovers_sigma_and_dynamic_range(mode: str) -> None:
    # tolerance: sigma within 5 %, DR within 1.5 dB from 40k pixels of the exact model (noise 3 dB above floor)
    for sigma_db, dr in ((-20.0, 23.0), (-30.0, 33.0)):
        sigma = 10 ** (sigma_db / 10)
        s_hat, dr_hat, nll = fit_dark_noise(_dark_hist(sigma, dr, mode), mode, 40.0)
        assert s_hat == pytest.approx(sigma, rel=0.05)
        assert dr_hat == pytest.approx(dr, abs=1.5)
        assert np.isfinite(nll)


def test_fit_dark_noise_linear_fits_sigma_only() -> None:
    sigma = 0.02
    s_hat, dr_hat, _ = fit_dark_noise(_dark_hist(sigma, 30.0, "linear"), "linear", 30.0)
    assert s_hat == pytest.approx(sigma, rel=0.05)
    assert np.isnan(dr_hat)


def test_fit_dark_noise_rejects_empty_histogram() -> None:
    with pytest.raises(ValueError, match="hist"):
        fit_dark_noise(np.zeros(256), "db", 30.0)
