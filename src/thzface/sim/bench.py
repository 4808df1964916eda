"""Simulator benchmark: time the generation of a preset (``bench-20`` by default) by each backend (reference,
batched; alternating, so contention hits both alike), report the preset's world's fidelity probes (sim/probes.py:
copy baseline, nearest-neighbour identity accuracy, energy drop per garment, glints) and how far apart identities,
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

BACKENDS = ("reference", "batched")


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


def _timed(cfg, out: Path, seed: int, workers: int) -> tuple[dict, dict]:
    """Generate ``cfg`` into ``out``; return its meta and the timing (wall, CPU of this process and its workers)."""
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    meta = synthesize(cfg, out, seed=seed, workers=workers, progress=False)
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    return meta, {"seconds": wall, "cpu_seconds": cpu, "load_average": os.getloadavg()[0]}


def bench_sim(
    out_dir: str | Path,
    workers: int = 2,
    preset: str = "bench-20",
    seed: int = 0,
    overrides: list[str] | None = None,
    backends: tuple[str, ...] = BACKENDS,
    rounds: int = 1,
) -> dict:
    """Generate ``preset`` into ``out_dir/<backend>`` once per backend and round (timed; the backends alternate,
    A B then B A, so contention from other work hits both alike) and report the speed of each backend, their
    ratio, and the separability numbers of the preset's own backend's world; ``out_dir`` is kept."""
    cfgs = {b: get_preset(preset, [*(overrides or []), f"backend={b}"]) for b in backends}
    main = get_preset(preset, overrides).backend
    main = main if main in backends else backends[-1]
    runs: dict[str, list[dict]] = {b: [] for b in backends}
    metas: dict[str, dict] = {}
    for r in range(rounds):
        for b in backends if r % 2 == 0 else tuple(reversed(backends)):
            metas[b], t = _timed(cfgs[b], Path(out_dir) / b, seed, workers)
            runs[b].append(t)
    n = metas[main]["counts"]["samples"]
    rows = {}
    for b, ts in runs.items():
        wall, cpu = sum(t["seconds"] for t in ts) / len(ts), sum(t["cpu_seconds"] for t in ts) / len(ts)
        rows[b] = {"seconds": wall, "cpu_seconds": cpu, "samples_per_second": n / wall, "samples_per_cpu_second":
                   n / max(cpu, 1e-9), "load_average": max(t["load_average"] for t in ts), "runs": ts}  # fmt: skip
    res = _report(cfgs[main], Path(out_dir) / main, metas[main], seed, workers, preset, rows[main], n)
    res["backends"] = rows
    if "reference" in rows and "batched" in rows:
        res["speedup"] = rows["batched"]["samples_per_second"] / rows["reference"]["samples_per_second"]
    return res


def _report(cfg, out: Path, meta: dict, seed: int, workers: int, preset: str, timing: dict, n: int) -> dict:
    """The separability report of one generated world."""
    model = build_face_model(cfg.face_model)
    ids = make_identities(model, cfg, seed)
    twins = {i.token: i.twin for i in ids if i.twin}
    shape = pair_distances(np.stack([i.shape for i in ids]), [i.token for i in ids], twins)
    return {
        "preset": preset,
        "seed": seed,
        "workers": workers,
        "backend": cfg.backend,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "timing": {
            "seconds": timing["seconds"],
            "cpu_seconds": timing["cpu_seconds"],  # this process and its (finished) workers
            "load_average": timing["load_average"],  # > cpus means other work competed for the cores
            "samples": n,
            "images_thz_and_visible": 4 * n if cfg.write_visible else 2 * n,
            "images_all": (5 if cfg.write_visible else 3) * n,
            "samples_per_second": n / timing["seconds"],
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


def backend_table(res: dict) -> list[str]:
    """One line per backend: samples/s (wall and per CPU-second), seconds, load; then the batched/reference
    ratio."""
    lines = [f"{'backend':10s} {'samples/s':>10s} {'per cpu-s':>10s} {'seconds':>9s} {'load':>5s}"]
    for b, r in res["backends"].items():
        lines.append(f"{b:10s} {r['samples_per_second']:10.2f} {r['samples_per_cpu_second']:10.2f} "
                     f"{r['seconds']:9.1f} {r['load_average']:5.1f}")  # fmt: skip
    if "speedup" in res:
        lines.append(f"batched / reference: {res['speedup']:.2f}x samples/s")
    return lines
