"""In-memory simulation for calibration: a fixed set of samples of a SimConfig, returned as image arrays.

Every call with the same ``(n, seed)`` simulates the same identities, postures and random streams (common
random numbers), so two configs that differ in one parameter give images that differ only through it; that
keeps the finite-difference Jacobian of the fit smooth. Nothing is written to disk.
"""

from __future__ import annotations

import multiprocessing as mp

import numpy as np

from thzface.calibrate.scans import Scans
from thzface.data.naming import NUM_POSTURES
from thzface.sim.config import SimConfig, sim_config_from_dict, sim_config_to_dict
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.sample import simulate_sample

_STATE: dict = {}  # per-process worker state


def task(index: int, samples: int) -> tuple[int, int, int]:
    """Sample index -> (identity index, posture label, sample number from 1), the dataset writer's order."""
    return index // (NUM_POSTURES * samples), (index // samples) % NUM_POSTURES, index % samples + 1


def sample_indices(cfg: SimConfig, n: int) -> np.ndarray:
    """``n`` sample indices spread evenly over identities x postures x samples of ``cfg``."""
    total = cfg.identities.count * NUM_POSTURES * cfg.samples
    n = max(1, min(int(n), total))
    return (np.arange(n) * total) // n


def _init(cfg_dict: dict, seed: int) -> None:
    cfg = sim_config_from_dict(cfg_dict)
    model = build_face_model(cfg.face_model)
    _STATE.update(cfg=cfg, model=model, ids=make_identities(model, cfg, seed), seed=seed)


def _job(index: int) -> tuple[np.ndarray, np.ndarray]:
    cfg: SimConfig = _STATE["cfg"]
    ident_i, posture, _ = task(int(index), cfg.samples)
    o = simulate_sample(cfg, _STATE["model"], _STATE["ids"][ident_i], posture, _STATE["seed"], int(index))
    return o.thz_concealed, o.thz_unconcealed


def simulate_scans(cfg: SimConfig, n: int, seed: int, workers: int = 1) -> Scans:
    """Simulate ``n`` samples of ``cfg`` (both states) with the same streams for the same ``(n, seed)``."""
    if workers < 1:
        raise ValueError(f"workers: expected >= 1, got {workers}")
    idx = sample_indices(cfg, n)
    args = (sim_config_to_dict(cfg), int(seed))
    if workers == 1 or len(idx) < 4 * workers:
        _init(*args)
        try:
            pairs = [_job(int(i)) for i in idx]
        finally:
            _STATE.clear()
    else:
        with mp.get_context("spawn").Pool(workers, initializer=_init, initargs=args) as pool:
            pairs = pool.map(_job, [int(i) for i in idx], chunksize=max(1, len(idx) // (4 * workers)))
    b = np.stack([p[0] for p in pairs]).astype(np.float32) / 255.0  # (N, H, W)
    u = np.stack([p[1] for p in pairs]).astype(np.float32) / 255.0  # (N, H, W)
    ones = np.ones(len(idx), bool)
    names = []
    for i in idx:
        ident_i, posture, k = task(int(i), cfg.samples)
        names.append(f"id{ident_i}_{posture + 1}_{k}")
    return Scans(b, u, ones, ones.copy(), names)
