"""The optimiser: indirect inference, i.e. find simulator parameters whose images give the same features.

1. Display map: for each map, start from the direct estimates, take one bias-correcting step
   ``u1 = u0 + (T_real - T_sim(u0))`` on the directly estimated parameters, and keep the map whose simulation
   matches the real display-value histograms best (Wasserstein-1 of all pixels + dark pixels).
2. Jacobian ``J = dT/du`` by one-sided finite differences (common random numbers: every simulation uses the same
   identities, postures and noise streams, so differences are smooth).
3. Levenberg-Marquardt on ``|W^1/2 (T_real - T_sim(u))|^2`` with Broyden updates of ``J`` after every
   simulation; ``W`` = inverse of (bootstrap variance of the real features + the simulation's own variance).
4. Uncertainty: ``Cov(u) = (J^T W J)^-1`` at the best point, times the cost per feature when above 1 (misfit
   inflation); a parameter counts as identified when its 1-sigma
   interval is narrower than a quarter of its search range.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from thzface.calibrate.display import DISPLAY_MODES
from thzface.calibrate.features import FEATURES, REPORT_ONLY
from thzface.calibrate.measure import Measurement, bootstrap, measure
from thzface.calibrate.params import BY_NAME, PARAMS, apply_params, base_values
from thzface.calibrate.scans import Scans
from thzface.calibrate.simulate import simulate_scans
from thzface.sim.config import SimConfig

log = logging.getLogger(__name__)

# feature -> the parameter it estimates directly (u coordinates), for the start point and the display step
DIRECT = {
    "snr_db": "snr_db",
    "dr_db": "dynamic_range_db",
    "offset_sigma": "row_offset_sigma",
    "drop_rows": "drop_row_frac",
    "drop_pixels": "drop_pixel_frac",
}


@dataclass
class FitSettings:
    """Effort of one calibration (defaults: 6 x 12 + 11 x 12 + 7 x 48 = 540 simulated samples)."""

    n_sim: int = 48  # samples (concealed + unconcealed) per simulation of the search
    n_select: int = 12  # samples per simulation while choosing the display map
    n_jacobian: int = 12  # samples per simulation of the finite-difference Jacobian
    iterations: int = 6  # Levenberg-Marquardt simulations after the Jacobian
    n_boot: int = 40  # bootstrap resamples of the real features
    seed: int = 0  # simulation seed (common random numbers) and bootstrap seed
    workers: int = 1  # simulation worker processes


@dataclass
class FitResult:
    """Fitted parameters with uncertainties, and the trail of the search."""

    display: str  # chosen display map
    values: dict[str, float]  # parameter -> fitted value (natural units)
    sigma: dict[str, float]  # parameter -> 1-sigma uncertainty (natural units, delta method)
    interval: dict[str, tuple[float, float]]  # parameter -> 1-sigma interval (natural units)
    identified: dict[str, bool]  # parameter -> constrained by the data
    fitted: list[str]  # parameters that were free in the fit
    real_features: dict[str, float]  # features of the real scans (chosen display map)
    sim_features: dict[str, float]  # features of the best simulation
    feature_sd: dict[str, float]  # noise std used to weight each feature
    display_scores: dict[str, float]  # display map -> histogram distance at its corrected start
    cost: float  # weighted squared residual at the best point (per feature)
    simulations: int  # simulations run
    seconds: float  # wall time
    history: list[dict] = field(default_factory=list)  # per simulation: phase, cost


def _hist(m: Measurement, scans: Scans) -> tuple[np.ndarray, np.ndarray]:
    ys = np.concatenate(
        [scans.concealed[scans.has_concealed].ravel(), scans.unconcealed[scans.has_unconcealed].ravel()]
    )
    h = np.bincount(np.clip(np.rint(ys * 255), 0, 255).astype(np.int64), minlength=256).astype(np.float64)
    d = m.units1["hist_dark"].sum(axis=0)
    return h / max(h.sum(), 1.0), d / max(d.sum(), 1.0)


def _w1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.cumsum(a) - np.cumsum(b)).sum() / (len(a) - 1))


class _Search:
    """Simulation-backed feature map T(u) for one base config, display map and sample set."""

    def __init__(self, base: SimConfig, size: int, pitch_mm: float, dr_default: float, st: FitSettings):
        self.base, self.size, self.pitch, self.dr_default, self.st = base, size, pitch_mm, dr_default, st
        self.count = 0
        self.history: list[dict] = []

    def run(self, u: dict[str, float], mode: str, n: int) -> tuple[Measurement, Scans]:
        values = {k: BY_NAME[k].from_u(v) for k, v in u.items()}
        # per_sample: what is not fitted (detector, correlated noise, ADC, FOV ...) is averaged over its base
        # ranges, as the real scanner's single unknown draw cannot be reproduced
        cfg = apply_params(self.base, values, mode, image_size=self.size, instrument="per_sample")
        t = time.time()
        scans = simulate_scans(cfg, n, self.st.seed, self.st.workers)
        self.count += 1
        log.info("calibrate: simulation %d (%s, %d samples) in %.1f s", self.count, mode, n, time.time() - t)
        return measure(scans, mode, self.dr_default, self.pitch), scans


def _start(m: Measurement, base_u: dict[str, float], free: list[str]) -> dict[str, float]:
    u = {k: base_u[k] for k in free}
    for feat, name in DIRECT.items():
        v = m.features.get(feat, float("nan"))
        if name in u and np.isfinite(v):
            u[name] = BY_NAME[name].to_u(v)
    return u


def _direct_step(u: dict[str, float], real: Measurement, sim: Measurement) -> dict[str, float]:
    out = dict(u)
    for feat, name in DIRECT.items():
        a, b = real.features.get(feat, np.nan), sim.features.get(feat, np.nan)
        if name in out and np.isfinite(a) and np.isfinite(b):
            p = BY_NAME[name]
            lo, hi = p.u_bounds()
            out[name] = float(np.clip(out[name] + (a - b), lo, hi))
    return out


def free_params(mode: str, real: Measurement) -> list[str]:
    """Parameters the data can move: all but the row gain (no matched feature separates it from the face), the
    dynamic range under the linear map, and without pairs the garment loss."""
    out = [p.name for p in PARAMS if p.name != "row_gain_sigma"]
    if mode == "linear" or not np.isfinite(real.features["dr_db"]):
        out.remove("dynamic_range_db")
    if not np.isfinite(real.features["attenuation_db"]):
        out.remove("fabric_loss_scale")
    return out


def choose_display(real_scans: Scans, search: _Search, base_u: dict[str, float]) -> tuple[str, dict, dict]:
    """(display map, start point u per map, histogram distance per map)."""
    scores, starts = {}, {}
    for mode in DISPLAY_MODES:
        m = measure(real_scans, mode, search.dr_default, search.pitch)
        u0 = _start(m, base_u, free_params(mode, m))
        s0, _ = search.run(u0, mode, search.st.n_select)
        u1 = _direct_step(u0, m, s0)
        s1, sim_scans = search.run(u1, mode, search.st.n_select)
        hr, hs = _hist(m, real_scans), _hist(s1, sim_scans)
        scores[mode] = _w1(hr[0], hs[0]) + _w1(hr[1], hs[1])
        starts[mode] = u1
        search.history.append({"phase": f"display:{mode}", "score": scores[mode]})
    return min(scores, key=lambda k: scores[k]), starts, scores


def _vec(m: Measurement, feats: list[str]) -> np.ndarray:
    return np.array([m.features[f] for f in feats], np.float64)


def _cost(t: np.ndarray, target: np.ndarray, sd: np.ndarray) -> float:
    r = np.where(np.isfinite(t), (target - t) / sd, 5.0)  # a feature the simulation cannot measure: 5 sd off
    return float(np.mean(r**2))


def _clamp(u: np.ndarray, names: list[str]) -> np.ndarray:
    b = np.array([BY_NAME[k].u_bounds() for k in names])  # (P, 2)
    return np.clip(u, b[:, 0], b[:, 1])


def jacobian(search: _Search, free: list[str], u: np.ndarray, mode: str, feats: list[str]) -> np.ndarray:
    """(F, P) one-sided finite differences of the features at ``u`` (inwards at a bound), n_jacobian samples."""
    n = search.st.n_jacobian
    t_u = _vec(search.run(dict(zip(free, u, strict=True)), mode, n)[0], feats)
    jac = np.zeros((len(feats), len(free)))
    for j, k in enumerate(free):
        p = BY_NAME[k]
        h = p.step if u[j] + p.step <= p.u_bounds()[1] else -p.step
        uj = u.copy()
        uj[j] += h
        jac[:, j] = np.nan_to_num((_vec(search.run(dict(zip(free, uj, strict=True)), mode, n)[0], feats) - t_u) / h)
    return jac


def fit(real_scans: Scans, base: SimConfig, pitch_mm: float, st: FitSettings) -> FitResult:
    """Calibrate ``base`` to ``real_scans``: display map, then every identifiable parameter (module docstring)."""
    t0 = time.time()
    bvals = base_values(base)
    base_u = {p.name: p.to_u(bvals[p.name]) for p in PARAMS}
    search = _Search(base, real_scans.size, pitch_mm, bvals["dynamic_range_db"], st)
    mode, starts, scores = choose_display(real_scans, search, base_u)
    real = measure(real_scans, mode, search.dr_default, pitch_mm)
    free = free_params(mode, real)
    feats = [f for f in FEATURES if np.isfinite(real.features[f]) and f not in REPORT_ONLY]
    boot = bootstrap(real, st.n_boot, np.random.default_rng(st.seed))[:, [FEATURES.index(f) for f in feats]]
    var = np.nanvar(boot, axis=0) * (1.0 + len(real_scans) / st.n_sim)  # real + simulation sampling noise
    sd = np.sqrt(np.maximum(var, 1e-12 + (1e-3 * np.abs(_vec(real, feats))) ** 2))
    target = _vec(real, feats)

    u = np.array([starts[mode].get(k, base_u[k]) for k in free])
    steps = np.array([BY_NAME[k].step for k in free])
    jac = jacobian(search, free, u, mode, feats)
    m0, _ = search.run(dict(zip(free, u, strict=True)), mode, st.n_sim)
    t_u = _vec(m0, feats)
    best = (u, t_u, _cost(t_u, target, sd), m0)
    search.history.append({"phase": "start", "cost": best[2]})
    lam = 0.1
    for _ in range(st.iterations):
        u_b, t_b, c_b, _m = best
        a = jac / sd[:, None]  # (F, P)
        r = np.nan_to_num((target - t_b) / sd)  # (F,)
        hess = a.T @ a
        step = np.linalg.solve(hess + lam * np.diag(np.diag(hess) + 1e-9), a.T @ r)
        u_new = _clamp(u_b + np.clip(step, -3 * steps, 3 * steps), free)  # trust region: 3 FD steps
        m_new, _ = search.run(dict(zip(free, u_new, strict=True)), mode, st.n_sim)
        t_new = _vec(m_new, feats)
        du = u_new - u_b
        if du @ du > 0:  # Broyden rank-one update from the point we stepped from
            jac += np.outer(np.nan_to_num(t_new - t_b) - jac @ du, du) / (du @ du)
        c_new = _cost(t_new, target, sd)
        search.history.append({"phase": "lm", "cost": c_new, "lambda": lam})
        if c_new < c_b:
            best, lam = (u_new, t_new, c_new, m_new), lam / 3
        else:
            lam *= 4
    u_b, t_b, c_b, m_b = best
    a = jac / sd[:, None]
    hess = a.T @ a
    # a direction the features do not constrain must get a large variance, not pinv's zero
    cov = np.linalg.inv(hess + 1e-6 * max(float(np.max(np.diag(hess))), 1e-12) * np.eye(len(free)))  # (P, P)
    cov *= max(1.0, c_b)  # misfit (cost per feature > 1: the model cannot match) widens the intervals
    su = np.sqrt(np.clip(np.diag(cov), 0, None))
    values, sigma, interval, ident = {}, {}, {}, {}
    for p in PARAMS:
        if p.name in free:
            j = free.index(p.name)
            lo, hi = p.u_bounds()
            x = p.from_u(u_b[j])
            iv = (p.from_u(u_b[j] - su[j]), p.from_u(u_b[j] + su[j]))
            values[p.name], interval[p.name] = x, iv
            sigma[p.name] = 0.5 * (iv[1] - iv[0])
            ident[p.name] = bool(su[j] < (hi - lo) / 4)
        else:
            values[p.name], sigma[p.name], interval[p.name], ident[p.name] = (
                bvals[p.name],
                np.nan,
                (np.nan, np.nan),
                False,
            )
    return FitResult(
        display=mode, values=values, sigma=sigma, interval=interval, identified=ident, fitted=free,
        real_features=real.features, sim_features=m_b.features,
        feature_sd=dict(zip(feats, sd.tolist(), strict=True)), display_scores=scores, cost=c_b,
        simulations=search.count, seconds=time.time() - t0, history=search.history,
    )  # fmt: skip
