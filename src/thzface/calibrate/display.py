"""Display-map inversion and the maximum-likelihood fit of noise level and dynamic range to dark pixels.

The simulator's display map (eq. 3, ``sim.sensor.display``) sends power ``s`` (relative to the clip level) to
``y`` in [0, 1] with a floor ``f = 10^(-DR/10)``: linear ``(s - f)/(1 - f)``, sqrt
``(sqrt s - sqrt f)/(1 - sqrt f)``, dB ``10 log10(s / f) / DR``; values below the floor read 0.

In the noise-only background a square-law detector gives ``s = sigma n + o`` with ``n`` standard normal and a
row offset ``o``; marginally over rows this is normal with std ``sigma_tot``. With 8-bit display values, bin
``k`` holds ``s`` between the inverse images of ``(k -+ 0.5)/255`` and bin 0 also holds everything censored at
the floor, so the binned likelihood ``sum_k h_k log P_k(sigma_tot, DR)`` of the pooled dark-pixel histogram
``h`` is exact for that model; maximising it gives ``sigma_tot`` and, for the sqrt and dB maps, ``DR``.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.special import ndtr

DISPLAY_MODES = ("linear", "sqrt", "db")
MIN_POSITIVE = 50  # positive dark pixels needed before the dynamic range counts as identifiable


def invert_display(y: np.ndarray, mode: str, dr_db: float) -> np.ndarray:
    """Display values in [0, 1] -> power relative to the clip level (inverse of sim.sensor.display)."""
    f = 10.0 ** (-dr_db / 10.0)
    y = np.clip(np.asarray(y, np.float64), 0.0, 1.0)
    if mode == "linear":
        return f + y * (1.0 - f)
    if mode == "sqrt":
        b = np.sqrt(f)
        return (b + y * (1.0 - b)) ** 2
    if mode == "db":
        return f * 10.0 ** (y * dr_db / 10.0)
    raise ValueError(f"mode: {mode!r} is not one of {list(DISPLAY_MODES)}")


def _nll(log_sigma: float | np.ndarray, dr_db: float, hist: np.ndarray, mode: str) -> np.ndarray:
    """Negative binned log-likelihood per pixel of N(0, sigma^2) power seen through the display map, for one
    or several ``log_sigma`` (vectorised)."""
    n = len(hist)
    edges = invert_display((np.arange(1, n) - 0.5) / (n - 1), mode, dr_db)  # (n-1,) upper edges of bins 0..n-2
    sig = np.exp(np.atleast_1d(np.asarray(log_sigma, np.float64)))  # (S,)
    cdf = ndtr(edges[None, :] / sig[:, None])  # (S, n-1)
    ones = np.ones((len(sig), 1))
    p = np.diff(np.concatenate([0 * ones, cdf, ones], axis=1), axis=1)  # (S, n)
    return -(np.log(np.maximum(p, 1e-300)) @ hist) / max(float(hist.sum()), 1.0)


def fit_dark_noise(hist: np.ndarray, mode: str, dr_default: float) -> tuple[float, float, float]:
    """(sigma_tot, DR, mean negative log-likelihood per pixel) maximising the binned likelihood of the dark-pixel
    histogram ``hist`` (256 bins).

    DR is fitted for the sqrt and dB maps when at least :data:`MIN_POSITIVE` dark pixels are above 0;
    otherwise (and always for the linear map, where it only moves a sub-LSB floor) it is NaN and
    ``dr_default`` is used to evaluate the likelihood.
    """
    hist = np.asarray(hist, np.float64)
    if hist.ndim != 1 or len(hist) < 4 or hist.sum() <= 0:
        raise ValueError("hist: expected a non-empty 1-D histogram of dark-pixel display values")
    fit_dr = mode != "linear" and hist[1:].sum() >= MIN_POSITIVE
    drs = np.arange(10.0, 70.01, 2.0) if fit_dr else np.array([dr_default])
    sigmas = np.arange(-9.0, 0.51, 0.25)
    grid = np.stack([_nll(sigmas, d, hist, mode) for d in drs])  # (D, S)
    i, j = np.unravel_index(int(np.argmin(grid)), grid.shape)
    if fit_dr:
        res = optimize.minimize(
            lambda v: float(_nll(v[0], float(np.clip(v[1], 8.0, 75.0)), hist, mode)[0]),
            x0=[sigmas[j], drs[i]],
            method="Nelder-Mead",
            options={
                "xatol": 1e-3,
                "fatol": 1e-7,
                "initial_simplex": [[sigmas[j], drs[i]], [sigmas[j] + 0.25, drs[i]], [sigmas[j], drs[i] + 2.0]],
            },
        )
        return float(np.exp(res.x[0])), float(np.clip(res.x[1], 8.0, 75.0)), float(res.fun)
    res1 = optimize.minimize_scalar(
        lambda v: float(_nll(v, dr_default, hist, mode)[0]), bounds=(sigmas[j] - 0.5, sigmas[j] + 0.5), method="bounded"
    )
    return float(np.exp(res1.x)), float("nan"), float(res1.fun)
