"""Simulator benchmark: time the generation of ``bench-20`` and measure how far apart identities, twins and
samples of one identity are, on the clean geometry (coefficients, 3-D landmarks, depth maps) and on the
THz images. Returns a dict; the caller (CLI) writes bench.json.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
from PIL import Image

from thzface.data.naming import NUM_POSTURES, format_name
from thzface.sim.config import SimConfig
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.presets import get_preset
from thzface.sim.world import synthesize


def pair_distances(vectors: np.ndarray, owners: list[str], twins: dict[str, str]) -> dict[str, float]:
    """Mean RMS distance (Euclidean / sqrt(dim)) over pairs of rows: same owner ("within"), twin owners,
    other owners; plus the leave-one-out nearest-neighbour rate of finding the same owner (``nn_same``)."""
    v = np.asarray(vectors, dtype=np.float64).reshape(len(owners), -1)
    sq = np.sum(v * v, axis=1)
    d = np.sqrt(np.clip(sq[:, None] + sq[None] - 2 * np.einsum("ik,jk->ij", v, v), 0, None) / v.shape[1])
    own = np.asarray(owners)
    iu = np.triu_indices(len(owners), k=1)
    a, b = own[iu[0]], own[iu[1]]
    same = a == b
    twin = np.array([twins.get(x) == y for x, y in zip(a, b, strict=True)], bool)
    out: dict[str, float] = {}
    for name, m in (("within", same), ("twin", twin), ("between", ~same & ~twin)):
        out[name] = float(d[iu][m].mean()) if m.any() else float("nan")
        out[f"{name}_pairs"] = int(m.sum())
    np.fill_diagonal(d, np.inf)
    out["nn_same"] = float(np.mean(own[np.argmin(d, axis=1)] == own))
    out["nn_chance"] = float(np.mean([(own == o).sum() - 1 for o in own]) / (len(own) - 1))
    return out


def _images(folder: Path, sub: str, tokens: list[str], posture: int, concealed: bool, samples: int, key: str = ""):
    vecs, owners = [], []
    for t in tokens:
        for k in range(1, samples + 1):
            name = format_name(t, posture, concealed, k)
            if key:
                with np.load(folder / "aux" / (format_name(t, posture, True, k)[:-4] + ".npz")) as z:
                    a = z[key].astype(np.float64)
                    a = np.where(z["face_mask"] > 0, a - a[z["face_mask"] > 0].mean(), 0.0)
            else:
                with Image.open(folder / sub / name) as im:
                    a = np.asarray(im, dtype=np.float64) / 255.0
            vecs.append(a.ravel())
            owners.append(t)
    return np.stack(vecs), owners


def _per_posture(folder: Path, meta: dict, sub: str, concealed: bool, key: str = "") -> dict[str, float]:
    rows = []
    for p in range(NUM_POSTURES):
        vecs, owners = _images(folder, sub, meta["identities"], p, concealed, meta["samples"], key)
        rows.append(pair_distances(vecs, owners, meta["twins"]))
    out = {}
    for k in rows[0]:
        vals = np.array([r[k] for r in rows], dtype=np.float64)
        out[k] = float(vals[~np.isnan(vals)].mean()) if (~np.isnan(vals)).any() else float("nan")
    return out


def landmark_distances(cfg: SimConfig, seed: int, draws: int = 5) -> dict[str, dict[str, float]]:
    """3-D landmark (68 x 3, head frame, centred) distances with ``draws`` expression draws per identity."""
    model = build_face_model(cfg.face_model)
    ids = make_identities(model, cfg, seed)
    rng = np.random.default_rng(seed)
    vecs, owners = [], []
    for ident in ids:
        for _ in range(draws):
            lm = model.build(
                ident.shape, model.sample_expression(rng, cfg.face_model.expression_sigma), ident.traits
            ).landmarks
            vecs.append((lm - lm.mean(0)).ravel())
            owners.append(ident.token)
    twins = {i.token: i.twin for i in ids if i.twin}
    shape = pair_distances(np.stack([i.shape for i in ids]), [i.token for i in ids], twins)
    return {"landmarks_mm": pair_distances(np.stack(vecs), owners, twins), "shape_coeffs": shape}


def _cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bench_sim(
    out_dir: str | Path, workers: int = 2, preset: str = "bench-20", seed: int = 0, overrides: list[str] | None = None
) -> dict:
    """Generate ``preset`` into ``out_dir`` (timed) and report separability numbers; ``out_dir`` is kept."""
    cfg = get_preset(preset, overrides)
    out = Path(out_dir)
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    meta = synthesize(cfg, out, seed=seed, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    n = meta["counts"]["samples"]
    geo = landmark_distances(cfg, seed)
    return {
        "preset": preset,
        "seed": seed,
        "workers": workers,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "timing": {
            "seconds": wall,
            "cpu_seconds": cpu,  # this process and its (finished) workers
            "load_average": os.getloadavg()[0],  # > cpus means other work competed for the cores
            "samples": n,
            "images_thz_and_visible": 4 * n,
            "images_all": 5 * n,
            "samples_per_second": n / wall,
        },
        "distances": {
            **geo,
            "depth_mm": _per_posture(out, meta, "aux", True, key="depth"),
            "thz_unconcealed": _per_posture(out, meta, "thz", False),
            "thz_concealed": _per_posture(out, meta, "thz", True),
            "clean": _per_posture(out, meta, "clean", False),
        },
        "statistics": meta["statistics"],
    }
