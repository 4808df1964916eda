"""Simulator benchmark: time the generation of ``bench-20``, report its fidelity probes (sim/probes.py: copy
baseline, nearest-neighbour identity accuracy, energy drop per garment, glints) and how far apart identities,
twins and samples of one identity are, on the clean geometry (coefficients, 3-D landmarks, depth maps) and on
the THz images. Returns a dict; the caller (CLI) writes bench.json.
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
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.presets import get_preset
from thzface.sim.probes import pair_distances
from thzface.sim.world import synthesize


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
    model = build_face_model(cfg.face_model)
    ids = make_identities(model, cfg, seed)
    twins = {i.token: i.twin for i in ids if i.twin}
    shape = pair_distances(np.stack([i.shape for i in ids]), [i.token for i in ids], twins)
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
            "images_thz_and_visible": 4 * n if cfg.write_visible else 2 * n,
            "images_all": (5 if cfg.write_visible else 3) * n,
            "samples_per_second": n / wall,
        },
        "probes": meta["probes"],
        "distances": {
            "landmarks_mm": meta["probes"]["geometry_landmarks_mm"],
            "shape_coeffs": shape,
            **({"depth_mm": _per_posture(out, meta, "aux", True, key="depth")} if cfg.write_aux else {}),
            "thz_unconcealed": _per_posture(out, meta, "thz", False),
            "thz_concealed": _per_posture(out, meta, "thz", True),
            "clean": _per_posture(out, meta, "clean", False),
        },
        "statistics": meta["statistics"],
    }
