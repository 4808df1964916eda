"""Dataset writer: identities x postures x samples -> the seed layout (thz/, clean/, visible/, aux/, meta.json,
contact_sheet.png), in parallel worker processes, byte-identical for a given seed whatever the worker count.

``shard=(i, n)`` writes the i-th of n contiguous blocks of samples plus a bookkeeping file under ``.shards/``;
:func:`finalize` turns the complete set of shards into meta.json and the contact sheet and removes ``.shards/``,
so the folder then holds exactly what a one-shot run writes. Triplet CSVs are not written here: the data
layer derives them after :func:`synthesize` / :func:`finalize` return.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import sys
from pathlib import Path

import thzface
from thzface.config import atomic_write_bytes, atomic_write_text
from thzface.data.naming import NUM_POSTURES, POSTURES, format_name
from thzface.sim.batch import block_size, blocks, head_build, simulate_batch, warm_up
from thzface.sim.config import SimConfig, sim_config_from_dict, sim_config_to_dict
from thzface.sim.face_model import FaceModel, Identity, build_face_model, make_identities
from thzface.sim.io import json_default, no_nan, npz_bytes, png_bytes
from thzface.sim.probes import aggregate_probes, dataset_probes, sample_probes
from thzface.sim.records import site_scanners, write_identities, write_poses
from thzface.sim.sample import simulate_sample
from thzface.sim.stats import aggregate, image_statistics

GENERATOR = "thzface.sim"
SUBDIRS = ("thz", "clean", "visible", "aux")
_OWN_FILES = ("meta.json", "contact_sheet.png", "train_val.csv", "test.csv", "identities.json", "poses.npz")
SHARD_DIR = ".shards"  # shard bookkeeping: manifest.json and one records file per finished shard
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_STATE: dict = {}  # per-process worker state (config, model, identities, output folder, seed)


class DatasetFolderError(ValueError):
    """The output folder cannot receive a dataset."""


def subdirs(cfg: SimConfig) -> tuple[str, ...]:
    """The image folders this config writes (visible/ and aux/ only when asked)."""
    return tuple(s for s in SUBDIRS if (s != "visible" or cfg.write_visible) and (s != "aux" or cfg.write_aux))


def prepare_folder(out: Path, make: tuple[str, ...] = SUBDIRS) -> None:
    """Create ``out`` (and the ``make`` subfolders) or clear a previous thzface dataset in it; refuse any other
    non-empty folder."""
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
        shutil.rmtree(out / SHARD_DIR, ignore_errors=True)
    for sub in make:
        (out / sub).mkdir(parents=True, exist_ok=True)


def _init(cfg_dict: dict, identities: list[Identity], out: str, seed: int, model: FaceModel | None = None) -> None:
    """Worker state; ``model`` is the caller's face model when it runs in this process (its per-person cache then
    serves the samples and the dataset's geometry probe alike)."""
    cfg = sim_config_from_dict(cfg_dict)
    model = model if model is not None else build_face_model(cfg.face_model)
    if "torch" in sys.modules:  # a forked worker: the parent's torch, one intra-op thread (no OpenMP pool)
        sys.modules["torch"].set_num_threads(1)
    _STATE.update(cfg=cfg, model=model, ids=identities, out=Path(out), seed=seed)


def task(index: int, samples: int) -> tuple[int, int, int]:
    """Sample index -> (identity index, posture label, sample number from 1), identity-major order."""
    return index // (NUM_POSTURES * samples), (index // samples) % NUM_POSTURES, index % samples + 1


def _outputs(block: range) -> list:
    """The SampleOutputs of the sample indices ``block`` by the configured backend."""
    cfg: SimConfig = _STATE["cfg"]
    jobs = [(_STATE["ids"][task(i, cfg.samples)[0]], task(i, cfg.samples)[1], i) for i in block]
    if cfg.backend == "batched":
        return simulate_batch(cfg, _STATE["model"], jobs, _STATE["seed"])
    return [simulate_sample(cfg, _STATE["model"], ident, p, _STATE["seed"], i) for ident, p, i in jobs]


def _job(block: range) -> list[tuple[list[tuple[str, dict]], tuple[str, str, dict]]]:
    """Simulate and write the samples ``block``; per sample, the statistics of its two THz images and its probes."""
    cfg: SimConfig = _STATE["cfg"]
    res = []
    for index, o in zip(block, _outputs(block), strict=True):
        ident_i, posture, k = task(index, cfg.samples)
        ident = _STATE["ids"][ident_i]
        out: Path = _STATE["out"]
        name_b, name_n = format_name(ident.token, posture, True, k), format_name(ident.token, posture, False, k)
        atomic_write_bytes(out / "thz" / name_b, png_bytes(o.thz_concealed))
        atomic_write_bytes(out / "thz" / name_n, png_bytes(o.thz_unconcealed))
        atomic_write_bytes(out / "clean" / name_n, png_bytes(o.clean))
        if o.visible_concealed is not None and o.visible_unconcealed is not None:
            atomic_write_bytes(out / "visible" / name_b, png_bytes(o.visible_concealed))
            atomic_write_bytes(out / "visible" / name_n, png_bytes(o.visible_unconcealed))
        if o.aux is not None:
            atomic_write_bytes(out / "aux" / (name_b[: -len(".png")] + ".npz"), npz_bytes(o.aux))
        stats = [(name_b, image_statistics(o.thz_concealed)), (name_n, image_statistics(o.thz_unconcealed))]
        res.append((stats, (name_b, o.combo, sample_probes(o.thz_concealed, o.thz_unconcealed, o.clean, o.head))))
    return res


def _run(cfg: SimConfig, model: FaceModel, ids: list[Identity], out: Path, seed: int, workers: int, progress: bool,
         todo: range):  # fmt: skip
    """Simulate the sample indices ``todo``; return (statistics records, probe rows)."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a declared dependency
        tqdm = None
    bar = tqdm(total=len(todo), desc="thzface.sim", unit="sample", disable=not progress) if tqdm else None
    records: list = []
    probes: list = []
    args = (sim_config_to_dict(cfg), ids, str(out), seed)

    def take(rows: list) -> None:
        for r in rows:
            records.extend(r[0])
            probes.append(r[1])
        if bar:
            bar.update(len(rows))

    todo_blocks = blocks(todo, block_size(cfg))
    warm_up(cfg)  # before any fork: workers inherit the compiled renderer
    if workers <= 1:
        _init(*args, model=model)
        try:
            for b in todo_blocks:
                take(_job(b))
        finally:
            _STATE.clear()
    else:
        chunk = max(1, len(todo_blocks) // (8 * workers))
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: "1" for k in _THREAD_VARS})  # one BLAS/OpenMP thread per worker process
        try:
            fork = sys.platform.startswith("linux")  # forked workers inherit the imports (torch ~2 CPU-s), model
            ctx, init = mp.get_context("fork" if fork else "spawn"), (*args, model if fork else None)
            pool = ctx.Pool(workers, initializer=_init, initargs=init)
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        with pool:
            for r in pool.imap(_job, todo_blocks, chunksize=chunk):
                take(r)
    if bar:
        bar.close()
    return records, probes


def build_meta(cfg: SimConfig, model: FaceModel, ids: list[Identity], seed: int, statistics: dict) -> dict:
    twins = {i.token: i.twin for i in ids if i.twin}
    return {
        "generator": GENERATOR,
        "version": thzface.__version__,
        "preset": cfg.preset,
        "seed": seed,
        "population": cfg.population,  # eval | pretrain (disjoint people)
        "sites": site_scanners(cfg, seed, ids),  # per site: identities, field of view, scanner settings
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
        "pairing": cfg.pairing,
        "num_images": statistics.get("images", 0),  # THz PNGs (concealed + unconcealed)
        "counts": {"samples": len(ids) * NUM_POSTURES * cfg.samples, "thz": statistics.get("images", 0)},
        "statistics": statistics,
        "config": sim_config_to_dict(cfg),
    }


def _finish(cfg: SimConfig, model: FaceModel, ids: list[Identity], out: Path, seed: int, records, probes) -> dict:
    """meta.json (statistics and fidelity probes) and the contact sheet of a complete folder."""
    stats = aggregate([(n, s) for n, s in records])
    meta = build_meta(cfg, model, ids, seed, stats)
    meta["probes"] = no_nan(
        {
            **aggregate_probes([(n, c, p) for n, c, p in probes]),
            "glints": {g: stats[g]["glints"]["mean"] for g in ("concealed", "unconcealed") if g in stats},
            **dataset_probes(out, meta, model, ids, cfg.face_model.expression_sigma, head_build(cfg, model)),
        }
    )
    write_identities(out, ids)
    n_samples = len(ids) * NUM_POSTURES * cfg.samples
    write_poses(out, cfg, seed, ids, [(j, *task(j, cfg.samples)) for j in range(n_samples)])
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=1, default=json_default) + "\n")
    if cfg.contact_sheet:
        from thzface.sim.contact import write_contact_sheet

        write_contact_sheet(out, [i.token for i in ids], cfg.image_size)
    return meta


def _manifest(cfg: SimConfig, seed: int, n: int) -> dict:
    return {"generator": GENERATOR, "seed": seed, "shards": n, "config": sim_config_to_dict(cfg)}


def _prepare_shard_folder(out: Path, manifest: dict, make: tuple[str, ...]) -> None:
    """An empty folder, a finished thzface dataset (cleared), or the shards of this very run."""
    man = out / SHARD_DIR / "manifest.json"
    if man.is_file():
        if json.loads(man.read_text(encoding="utf-8")) != json.loads(json.dumps(manifest, default=json_default)):
            raise DatasetFolderError(f"{out}: holds shards of another run (config, seed or shard count differ)")
    elif out.is_dir() and not {p.name for p in out.iterdir()} <= {*SUBDIRS, SHARD_DIR}:
        prepare_folder(out, make)  # clears an old dataset, refuses anything else
    for sub in (*make, SHARD_DIR):
        (out / sub).mkdir(parents=True, exist_ok=True)
    if not man.is_file():
        atomic_write_text(man, json.dumps(manifest, indent=1, default=json_default) + "\n")


def shard_range(n_samples: int, shard: tuple[int, int]) -> range:
    """Sample indices of shard i of n: contiguous, identity-major blocks."""
    i, n = shard
    if not 0 <= i < n:
        raise ValueError(f"shard: expected i/N with 0 <= i < N, got {i}/{n}")
    return range(i * n_samples // n, (i + 1) * n_samples // n)


def synthesize(
    cfg: SimConfig,
    out: str | Path,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
) -> dict:
    """Generate a dataset into ``out`` and return its meta (also written to ``out/meta.json``); with
    ``shard=(i, n)`` write only shard i of n and return {"shard": ..., "samples": ...} (no meta yet)."""
    if workers < 1:
        raise ValueError(f"workers: expected >= 1, got {workers}")
    out = Path(out)
    model = build_face_model(cfg.face_model)  # fails early, e.g. on a missing Surrey model file
    ids = make_identities(model, cfg, seed)
    n_samples = len(ids) * NUM_POSTURES * cfg.samples
    if shard is None:
        prepare_folder(out, subdirs(cfg))
        records, probes = _run(cfg, model, ids, out, seed, workers, progress, range(n_samples))
        return _finish(cfg, model, ids, out, seed, records, probes)
    todo = shard_range(n_samples, shard)
    _prepare_shard_folder(out, _manifest(cfg, seed, shard[1]), subdirs(cfg))
    records, probes = _run(cfg, model, ids, out, seed, workers, progress, todo)
    done = {"shard": list(shard), "records": records, "probes": probes}
    atomic_write_text(out / SHARD_DIR / f"shard-{shard[0]:05d}.json", json.dumps(done, default=json_default))
    return {"shard": f"{shard[0]}/{shard[1]}", "samples": len(todo), "out": str(out)}


def finalize(out: str | Path) -> tuple[SimConfig, int, dict]:
    """Shards -> meta.json and contact sheet; removes ``.shards/``. Returns (config, seed, meta)."""
    out = Path(out)
    man = out / SHARD_DIR / "manifest.json"
    if not man.is_file():
        raise DatasetFolderError(f"{out}: no shards to finalize (missing {SHARD_DIR}/manifest.json)")
    m = json.loads(man.read_text(encoding="utf-8"))
    cfg, seed, n = sim_config_from_dict(m["config"]), int(m["seed"]), int(m["shards"])
    files = [out / SHARD_DIR / f"shard-{i:05d}.json" for i in range(n)]
    missing = [str(i) for i, f in enumerate(files) if not f.is_file()]
    if missing:
        raise DatasetFolderError(f"{out}: shard(s) {', '.join(missing)} of {n} not finished")
    records: list = []
    probes: list = []
    for f in files:
        d = json.loads(f.read_text(encoding="utf-8"))
        records += [tuple(r) for r in d["records"]]
        probes += [tuple(p) for p in d["probes"]]
    model = build_face_model(cfg.face_model)
    meta = _finish(cfg, model, make_identities(model, cfg, seed), out, seed, records, probes)
    shutil.rmtree(out / SHARD_DIR)
    return cfg, seed, meta
