"""What a world writes beside its images: ``identities.json`` (shape and traits per person), ``poses.npz`` (the
pose of every THz file) and the scanner of each site for meta.json.

Poses and scanners are re-drawn from the very streams :func:`thzface.sim.sample.simulate_sample` uses (the
``pose`` / ``pose_u`` children of SeedSequence([seed, SAMPLE_STREAM, index]); the site's instrument and field of
view streams), so they cost no render; a test checks them against the aux files of a rendered world.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from thzface.config import atomic_write_bytes, atomic_write_text
from thzface.data.naming import format_name
from thzface.data.overlap import IDENTITIES_FILE
from thzface.sim.config import SimConfig
from thzface.sim.face_model import Identity, identities_record
from thzface.sim.io import npz_bytes
from thzface.sim.passive import draw_passive
from thzface.sim.pose import Pose
from thzface.sim.sample import INSTRUMENT_STREAM, SAMPLE_STREAM, STREAMS, dataset_fov, draw_pose, site_key
from thzface.sim.sensor import draw_sensor
from thzface.sim.thz import draw_active

POSES_FILE = "poses.npz"  # not a .csv: every DIR/*.csv is a triplet file to `thzface data check`
POSE_COLUMNS = ("yaw", "pitch", "roll", "dx", "dy")  # degrees (yaw + = subject's left), mm
PERSON_KEYS = ("water", "fd_skin", "fd_hair", "t_skin", "t_cloth")  # drawn per person or sample, not the scanner


def capture_poses(cfg: SimConfig, ident: Identity, posture: int, seed: int, index: int) -> tuple[Pose, Pose]:
    """(concealed, unconcealed) capture poses of sample ``index``; equal unless pairing is independent-capture."""
    children = np.random.SeedSequence([seed, SAMPLE_STREAM, index]).spawn(len(STREAMS))
    rng = lambda k: np.random.default_rng(children[STREAMS.index(k)])  # noqa: E731
    pose = draw_pose(cfg, ident, posture, rng("pose"))
    return pose, draw_pose(cfg, ident, posture, rng("pose_u")) if cfg.pairing == "independent-capture" else pose


def write_poses(out: Path, cfg: SimConfig, seed: int, ids: list[Identity], samples: list[tuple[int, ...]]) -> None:
    """``out/poses.npz``: ``files`` (N,) THz file names and ``pose`` (N, 5) float32 yaw, pitch, roll, dx, dy of
    each file of ``samples`` (index, identity index, posture, sample number); the clean target shares its
    concealed file's pose."""
    files, rows = [], []
    for index, i, posture, k in samples:
        for concealed, pose in zip((True, False), capture_poses(cfg, ids[i], posture, seed, index), strict=True):
            files.append(format_name(ids[i].token, posture, concealed, k))
            rows.append((pose.yaw, pose.pitch, pose.roll, pose.dx, pose.dy))
    arrays = {"files": np.array(files), "pose": np.array(rows, np.float32).reshape(-1, len(POSE_COLUMNS))}
    atomic_write_bytes(out / POSES_FILE, npz_bytes(arrays))


def read_poses(folder: str | Path) -> dict[str, np.ndarray]:
    """``poses.npz`` -> {file name: (5,) float32 yaw, pitch, roll, dx, dy}."""
    with np.load(Path(folder) / POSES_FILE, allow_pickle=False) as z:
        return dict(zip(z["files"].tolist(), z["pose"], strict=True))


def write_identities(out: Path, ids: list[Identity]) -> None:
    """``out/identities.json``: {identity: {"shape": [...], "traits": {...}}}."""
    atomic_write_text(out / IDENTITIES_FILE, json.dumps(identities_record(ids), indent=0) + "\n")


def site_scanners(cfg: SimConfig, seed: int, ids: list[Identity]) -> list[dict]:
    """Per site: its identities, field of view and, with ``instrument: per_dataset``, its scanner settings
    (system and sensor settings as drawn; person-bound skin values left out)."""
    out = []
    for site in range(cfg.sites):
        fov = dataset_fov(cfg, seed, site)
        rec: dict = {"site": site, "identities": [i.token for i in ids if i.traits["site"] == site], "fov_mm": fov}
        if cfg.instrument == "per_dataset":
            rng = np.random.default_rng(np.random.SeedSequence(site_key(cfg, INSTRUMENT_STREAM, seed, site)))
            spare = np.random.default_rng(0)  # noise fields and per-sample temperatures: not the scanner's
            passive = cfg.mode == "passive"
            sd = draw_sensor(cfg.sensor, 8, fov / cfg.image_size, passive, rng, spare)
            person = {"water": 0.0, "fd_skin": 0.0, "fd_hair": 0.0}
            draw = draw_passive(cfg.passive, rng, spare, 0.0) if passive else draw_active(cfg.active, rng, person)
            rec["system"] = {k: v for k, v in dataclasses.asdict(draw).items() if k not in PERSON_KEYS}
            rec["sensor"] = sd.params()
        out.append(rec)
    return out
