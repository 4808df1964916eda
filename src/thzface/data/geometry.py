"""Privileged geometry of simulated captures, for training only: the person's shape coefficients
(``DIR/identities.json``) and each scan's pose (``DIR/poses.npz``: yaw, pitch, roll in degrees, dx, dy in mm), as
docs/dataset-format.md describes them. Real folders have neither; the reader is then None and nothing asks for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from thzface.data.overlap import IDENTITIES_FILE as IDENTITIES
from thzface.data.overlap import read_identities

POSES = "poses.npz"
POSE_DIM = 5  # yaw, pitch, roll, dx, dy

GeometryReader = Callable[[str], tuple[np.ndarray, np.ndarray] | None]  # concealed name → (shape (S,), pose (5,))
InPlaneReader = Callable[[str], np.ndarray | None]  # scan name (either state) → (3,) roll, tx, ty (models.align)
META = "meta.json"


def folder_geometry(root: str | Path) -> GeometryReader | None:
    """Reader of (shape coefficients, pose) of a concealed scan of ``root``; None when the folder holds neither
    file. A scan whose person or pose is missing reads as None."""
    root = Path(root)
    ids_file, poses_file = root / IDENTITIES, root / POSES
    if not (ids_file.is_file() and poses_file.is_file()):
        return None
    shapes = read_identities(root, "shape", lambda v: np.asarray(v, dtype=np.float32))
    poses = _read_poses(poses_file)

    def read(name: str) -> tuple[np.ndarray, np.ndarray] | None:
        shape, pose = shapes.get(name.rsplit("_", 2)[0]), poses.get(name)
        return None if shape is None or pose is None else (shape, pose)

    return read


def _read_poses(poses_file: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(poses_file) as z:
            return dict(zip((str(f) for f in z["files"]), z["pose"].astype(np.float32), strict=True))
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{poses_file}: unreadable ({e})") from None


def inplane_pose(pose: np.ndarray, fov_mm: float) -> np.ndarray:
    """A scan's in-plane pose (3,) float32 from the simulator's pose (5,) — yaw, pitch, roll (deg), dx, dy (mm, y
    up) — and the scanner's square field of view: roll, dx / (fov / 2), -dy / (fov / 2), the last two in the grid
    units of ``F.affine_grid`` (x right, y down, the image spanning [-1, 1]): the aligner's target
    (:mod:`thzface.models.align`)."""
    half = float(fov_mm) / 2
    return np.array([pose[2], pose[3] / half, -pose[4] / half], dtype=np.float32)


def folder_inplane(root: str | Path) -> InPlaneReader | None:
    """Reader of the in-plane pose (:func:`inplane_pose`) of any scan of a simulated folder (each person's field
    of view from ``meta.json``'s sites); None for a folder without poses.npz or sites (real data, older worlds).
    A scan whose pose or person is missing reads as None."""
    root = Path(root)
    meta, poses_file = root / META, root / POSES
    if not (meta.is_file() and poses_file.is_file()):
        return None
    try:
        sites = json.loads(meta.read_text(encoding="utf-8")).get("sites") or []
        fov = {str(i): float(s["fov_mm"]) for s in sites for i in s["identities"]}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{meta}: unreadable sites ({e})") from None
    if not fov:
        return None
    poses = _read_poses(poses_file)

    def read(name: str) -> np.ndarray | None:
        pose, f = poses.get(name), fov.get(name.rsplit("_", 2)[0])
        return None if pose is None or f is None else inplane_pose(pose, f)

    return read


def folder_sites(root: str | Path) -> dict[str, str]:
    """The site (scanner) of every person of a simulated folder (``traits.site`` in ``identities.json``, `sites: N`
    worlds); ValueError naming the file when it is missing or a person has no site (real folders have none)."""
    path = Path(root) / IDENTITIES
    if not path.is_file():
        raise ValueError(f"{path}: not found; train.pk_domain=site needs the simulator's identities.json "
                         "(set train.pk_domain=none for a folder without sites)")  # fmt: skip
    try:
        return read_identities(root, "traits", lambda traits: str(traits["site"]))
    except ValueError as e:
        why = "no site for every person: a world before sites (v3)? set train.pk_domain=none"
        raise ValueError(f"{e}; {why}") from None


def person_sites(root: str | Path) -> dict[str, str] | None:
    """The site (scanner) of every person of a multi-site simulated folder, for scoring impostor pairs within a
    scanner as a deployment meets them; None for a folder without ``identities.json`` (real data), a world before
    sites, or a world of one site."""
    try:
        sites = folder_sites(root)
    except ValueError:
        return None
    return sites if len(set(sites.values())) > 1 else None


def geometry_tensors(read: list[tuple[np.ndarray, np.ndarray] | None]) -> dict[str, torch.Tensor]:
    """``shape`` (N, S), ``pose`` (N, 5) and ``has_geometry`` (N,) of the captures' readings (zeros where None)."""
    dim = next((len(g[0]) for g in read if g is not None), 0)
    shape, pose = np.zeros((len(read), dim), np.float32), np.zeros((len(read), POSE_DIM), np.float32)
    for i, g in enumerate(read):
        if g is not None:
            shape[i], pose[i] = g
    has = torch.tensor([g is not None for g in read], dtype=torch.bool)  # (N,)
    return {"shape": torch.from_numpy(shape), "pose": torch.from_numpy(pose), "has_geometry": has}
