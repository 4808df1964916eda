"""The FaceModel interface, the factory from config, and identities (shape coefficients, traits, twins).

A face model maps (identity coefficients, expression coefficients, traits) to a :class:`HeadSurface` on the
shared radial grid: radius map, region labels and 68 landmarks. Adding a model = one class with the methods of
:class:`FaceModel` plus a branch in :func:`build_face_model`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from thzface.sim.config import FaceModelConfig, SimConfig
from thzface.sim.head import HeadSurface

IDENTITY_STREAM = 1  # SeedSequence key of the identity draws (samples use other keys)


class FaceModel(Protocol):
    name: str  # written to meta.json
    n_shape: int  # identity coefficients
    n_expr: int  # expression coefficients

    def sample_shape(self, rng: np.random.Generator) -> np.ndarray: ...

    def sample_expression(self, rng: np.random.Generator, sigma: float) -> np.ndarray: ...

    def build(self, shape: np.ndarray, expr: np.ndarray, traits: dict) -> HeadSurface: ...


def build_face_model(cfg: FaceModelConfig) -> FaceModel:
    """Factory: ``builtin`` (no file) or ``sfm`` (Surrey 3DMM from cfg.path / $THZFACE_SFM_PATH)."""
    if cfg.kind == "builtin":
        from thzface.sim.builtin_face import BuiltinFaceModel

        return BuiltinFaceModel(cfg.grid_deg, cfg.shape_sigma)
    if cfg.kind == "sfm":
        from thzface.sim.sfm import SurreyFaceModel

        return SurreyFaceModel(cfg.path, cfg.grid_deg, cfg.shape_sigma)
    raise ValueError(f"face_model.kind: unknown {cfg.kind!r}; known: builtin, sfm")


@dataclass(frozen=True)
class Identity:
    """One identity folder token and everything fixed about that person."""

    token: str  # e.g. id007 or its twin id007t
    shape: np.ndarray = field(repr=False)  # identity coefficients of the face model
    traits: dict = field(default_factory=dict)  # everything else fixed about the person (see _traits)
    twin: str | None = None  # token of the twin, if any


def _traits(rng: np.random.Generator, cfg: SimConfig) -> dict:
    """Person-bound traits, drawn once per identity and kept across samples, scanners and garments."""
    icfg, sk = cfg.identities, cfg.skin
    u = lambda r: float(rng.uniform(r[0], r[1]))  # noqa: E731
    beard = rng.random() < icfg.facial_hair_prob
    c = icfg.carriage_deg
    return {
        "hairline_mm": float(rng.uniform(45.0, 70.0)),  # hairline above the brows
        "hair_mm": float(rng.uniform(2.0, 15.0)),  # scalp hair layer thickness
        "facial_hair": int(rng.integers(1, 3)) if beard else 0,  # 0 none, 1 moustache, 2 beard
        "beard_mm": float(rng.uniform(2.0, 12.0)),  # moustache / beard layer thickness (used if facial_hair)
        "skin_tone": u(cfg.visible.skin_tone),
        "hair_tone": float(rng.uniform(0.0, 1.0)),  # 0 black .. 1 blond
        "water": u(sk.water_fraction),  # skin water share (Looyenga)
        "fd_skin": u(sk.diffuse_skin),  # diffuse fraction of smooth skin
        "fd_hair": u(sk.diffuse_hair),  # diffuse fraction of skin under hair, brows, beard
        "skin_seed": int(rng.integers(2**62)),  # seed of the regional reflectivity field on the head grid
        "hair_db_per_mm": u(icfg.hair_db_per_mm),  # one-way loss of the hair layer per mm
        "hair_scatter_db": u(icfg.hair_scatter_db),  # hair-layer backscatter
        "glasses": bool(rng.random() < icfg.glasses_prob),
        "skull_scale": 1.0 + icfg.skull_scale_sd * float(rng.uniform(-1.0, 1.0)),  # within +-1 SD
        "carriage_yaw": float(rng.uniform(-c, c)),  # habitual head carriage, added to every pose
        "carriage_pitch": float(rng.uniform(-c, c)),
    }


def identity_prefix(preset: str, seed: int) -> str:
    """Token prefix unique per (preset, seed), e.g. ``bench-20-s0-`` (tokens allow [A-Za-z0-9-] only)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", preset) + f"-s{seed}-"


def make_identities(model: FaceModel, cfg: SimConfig, seed: int) -> list[Identity]:
    """``icfg.count`` identities named ``<preset>-s<seed>-<i>``; the first ``twin_pairs`` get a twin ``<token>t``.

    A twin's coefficients differ from its sibling's by a random direction of length
    twin_distance * E|z1 - z2| (the mean distance between two random identities); traits are shared.
    """
    icfg = cfg.identities
    rng = np.random.default_rng(np.random.SeedSequence([seed, IDENTITY_STREAM]))
    n_base = icfg.count - icfg.twin_pairs
    width = max(3, len(str(n_base - 1)))
    prefix = identity_prefix(cfg.preset, seed)
    out: list[Identity] = []
    for i in range(n_base):
        token = f"{prefix}{i:0{width}d}"
        shape = model.sample_shape(rng)
        traits = _traits(rng, cfg)
        u = rng.standard_normal(model.n_shape)
        if i < icfg.twin_pairs:
            spread = cfg.face_model.shape_sigma * np.sqrt(2.0 * model.n_shape)  # E|z1 - z2| of two random ids
            offset = u / np.linalg.norm(u) * icfg.twin_distance * spread
            out.append(Identity(token, shape, traits, twin=token + "t"))
            out.append(Identity(token + "t", shape + offset, dict(traits), twin=token))
        else:
            out.append(Identity(token, shape, traits))
    return out
