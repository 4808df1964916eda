"""Dataset writer: identities x postures x samples -> the seed layout (thz/, clean/, visible/, aux/, meta.json,
contact_sheet.png), in parallel worker processes, byte-identical for a given seed whatever the worker count.

Triplet CSVs are not written here: the data layer derives them after :func:`synthesize` returns.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np

import thzface
from thzface.config import atomic_write_bytes, atomic_write_text
from thzface.data.naming import NUM_POSTURES, POSTURES, format_name
from thzface.sim.config import SimConfig, sim_config_from_dict, sim_config_to_dict
from thzface.sim.face_model import FaceModel, Identity, build_face_model, make_identities
from thzface.sim.io import npz_bytes, png_bytes
from thzface.sim.sample import simulate_sample
from thzface.sim.stats import aggregate, image_statistics

GENERATOR = "thzface.sim"
SUBDIRS = ("thz", "clean", "visible", "aux")
_OWN_FILES = ("meta.json", "contact_sheet.png", "train_val.csv", "test.csv")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_STATE: dict = {}  # per-process worker state (config, model, identities, output folder, seed)


class DatasetFolderError(ValueError):
    """The output folder cannot receive a dataset."""


def prepare_folder(out: Path) -> None:
    """Create ``out`` or clear a previous thzface dataset in it; refuse any other non-empty folder."""
    if out.exists() and not out.is_dir():
        raise DatasetFolderError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        meta = out / "meta.json"
        try:
            gen = json.loads(meta.read_text(encoding="utf-8")).get("generator") if meta.is_file() else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            gen = None
        if gen != GENERATOR:
            raise DatasetFolderError(
                f"{out}: folder is not empty and holds no thzface.sim dataset; use an empty folder"
            )
        for sub in SUBDIRS:
            for p in (out / sub).glob("*.npz" if sub == "aux" else "*.png"):
                p.unlink()
        for name in _OWN_FILES:
            (out / name).unlink(missing_ok=True)
    for sub in SUBDIRS:
        (out / sub).mkdir(parents=True, exist_ok=True)


def _init(cfg_dict: dict, identities: list[Identity], out: str, seed: int) -> None:
    cfg = sim_config_from_dict(cfg_dict)
    _STATE.update(cfg=cfg, model=build_face_model(cfg.face_model), ids=identities, out=Path(out), seed=seed)


def task(index: int, samples: int) -> tuple[int, int, int]:
    """Sample index -> (identity index, posture label, sample number from 1), identity-major order."""
    return index // (NUM_POSTURES * samples), (index // samples) % NUM_POSTURES, index % samples + 1


def _job(index: int) -> list[tuple[str, dict]]:
    """Simulate and write sample ``index``; return the statistics of its two THz images."""
    cfg: SimConfig = _STATE["cfg"]
    ident_i, posture, k = task(index, cfg.samples)
    ident = _STATE["ids"][ident_i]
    o = simulate_sample(cfg, _STATE["model"], ident, posture, _STATE["seed"], index)
    out: Path = _STATE["out"]
    name_b, name_n = format_name(ident.token, posture, True, k), format_name(ident.token, posture, False, k)
    atomic_write_bytes(out / "thz" / name_b, png_bytes(o.thz_concealed))
    atomic_write_bytes(out / "thz" / name_n, png_bytes(o.thz_unconcealed))
    atomic_write_bytes(out / "clean" / name_n, png_bytes(o.clean))
    atomic_write_bytes(out / "visible" / name_b, png_bytes(o.visible_concealed))
    atomic_write_bytes(out / "visible" / name_n, png_bytes(o.visible_unconcealed))
    atomic_write_bytes(out / "aux" / (name_b[: -len(".png")] + ".npz"), npz_bytes(o.aux))
    return [(name_b, image_statistics(o.thz_concealed)), (name_n, image_statistics(o.thz_unconcealed))]


def _run(cfg: SimConfig, ids: list[Identity], out: Path, seed: int, workers: int, progress: bool) -> list:
    n = len(ids) * NUM_POSTURES * cfg.samples
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a declared dependency
        tqdm = None
    bar = tqdm(total=n, desc="thzface.sim", unit="sample", disable=not progress) if tqdm else None
    records: list = []
    args = (sim_config_to_dict(cfg), ids, str(out), seed)
    if workers <= 1:
        _init(*args)
        try:
            for i in range(n):
                records.extend(_job(i))
                if bar:
                    bar.update(1)
        finally:
            _STATE.clear()
    else:
        chunk = max(1, min(NUM_POSTURES * cfg.samples, n // (4 * workers)))
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: "1" for k in _THREAD_VARS})  # one BLAS/OpenMP thread per worker process
        try:
            pool = mp.get_context("spawn").Pool(workers, initializer=_init, initargs=args)
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        with pool:
            for r in pool.imap(_job, range(n), chunksize=chunk):
                records.extend(r)
                if bar:
                    bar.update(1)
    if bar:
        bar.close()
    return records


def build_meta(cfg: SimConfig, model: FaceModel, ids: list[Identity], seed: int, statistics: dict) -> dict:
    twins = {i.token: i.twin for i in ids if i.twin}
    return {
        "generator": GENERATOR,
        "version": thzface.__version__,
        "preset": cfg.preset,
        "seed": seed,
        "face_model": {
            "name": model.name,
            "kind": cfg.face_model.kind,
            "path": getattr(model, "path", ""),
            "n_shape": model.n_shape,
            "n_expr": model.n_expr,
        },
        "identities": [i.token for i in ids],
        "twins": twins,
        "postures": list(POSTURES),
        "samples": cfg.samples,
        "image_size": cfg.image_size,
        "mode": cfg.mode,
        "num_images": statistics.get("images", 0),  # THz PNGs (concealed + unconcealed)
        "counts": {"samples": len(ids) * NUM_POSTURES * cfg.samples, "thz": statistics.get("images", 0)},
        "statistics": statistics,
        "config": sim_config_to_dict(cfg),
    }


def synthesize(cfg: SimConfig, out: str | Path, seed: int = 0, workers: int = 1, progress: bool = True) -> dict:
    """Generate a dataset into ``out`` and return its meta (also written to ``out/meta.json``)."""
    if workers < 1:
        raise ValueError(f"workers: expected >= 1, got {workers}")
    out = Path(out)
    model = build_face_model(cfg.face_model)  # fails early, e.g. on a missing Surrey model file
    ids = make_identities(model, cfg, seed)
    prepare_folder(out)
    records = _run(cfg, ids, out, seed, workers, progress)
    meta = build_meta(cfg, model, ids, seed, aggregate(records))
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=1, default=_json_default) + "\n")
    if cfg.contact_sheet:
        from thzface.sim.contact import write_contact_sheet

        write_contact_sheet(out, [i.token for i in ids], cfg.image_size)
    return meta


def _json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
