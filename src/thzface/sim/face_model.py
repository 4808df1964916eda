"""The FaceModel interface, the factory from config, identities (shape coefficients, traits, twins, site) drawn
per population, and the traits of one visit.

A face model maps (identity coefficients, expression coefficients, traits) to a :class:`HeadSurface` on the
shared radial grid: radius map, region labels and 68 landmarks. Adding a model = one class with the methods of
:class:`FaceModel` plus a branch in :func:`build_face_model`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from thzface.sim.config import POPULATIONS, FaceModelConfig, SimConfig
from thzface.sim.head import Grid, HeadSurface, smooth_noise

IDENTITY_STREAM = 1  # SeedSequence key of the identity draws (samples use other keys)
VISIT_STREAM = 5  # SeedSequence key of the per-visit trait draws (a visit = one sample index)
PERSON_INDEX_BASE = {"eval": 0, "pretrain": 1 << 40}  # disjoint person-index ranges inside the identity key
# per-visit changes at identities.visit_variation = 1 [I]: skin water share SD (sweat, humidity), share of the
# skin field's variance drawn anew, share of visits a glasses owner leaves them off, hair / beard thickness
# factor uniform in 1 -+ this (growth, cuts, shaving)
VISIT_WATER_SD, VISIT_SKIN_SHARE, VISIT_GLASSES_OFF, VISIT_HAIR_VAR = 0.03, 0.5, 0.3, 0.3


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
    """Person-bound traits, drawn once per identity; :func:`visit_traits` varies some of them per visit."""
    icfg, sk = cfg.identities, cfg.skin
    u = lambda r: float(rng.uniform(r[0], r[1]))  # noqa: E731
    beard = rng.random() < icfg.facial_hair_prob
    c, k = icfg.carriage_deg, icfg.skull_scale_sd
    return {
        "hairline_mm": float(rng.uniform(45.0, 70.0)),  # hairline above the brows
        "hair_mm": float(rng.uniform(2.0, 15.0)),  # usual scalp hair layer thickness
        "facial_hair": int(rng.integers(1, 3)) if beard else 0,  # 0 none, 1 moustache, 2 beard
        "beard_mm": float(rng.uniform(2.0, 12.0)),  # usual moustache / beard thickness (used if facial_hair)
        "skin_tone": u(cfg.visible.skin_tone),
        "hair_tone": float(rng.uniform(0.0, 1.0)),  # 0 black .. 1 blond
        "water": u(sk.water_fraction),  # usual skin water share (Looyenga)
        "fd_skin": u(sk.diffuse_skin),  # diffuse fraction of smooth skin
        "fd_hair": u(sk.diffuse_hair),  # diffuse fraction of skin under hair, brows, beard
        "skin_seed": int(rng.integers(2**62)),  # seed of the person's part of the regional reflectivity field
        "hair_db_per_mm": u(icfg.hair_db_per_mm),  # one-way loss of the hair layer per mm
        "hair_scatter_db": u(icfg.hair_scatter_db),  # hair-layer backscatter
        "glasses": bool(rng.random() < icfg.glasses_prob),  # owns glasses (worn on some visits)
        "skull_width": 1.0 + k * float(rng.uniform(-1.0, 1.0)),  # sfm: skull / ear / neck scale across (x)
        "skull_height": 1.0 + k * float(rng.uniform(-1.0, 1.0)),  # ... up (y), independent, within +-1 SD
        "skull_length": 1.0 + k * float(rng.uniform(-1.0, 1.0)),  # ... front to back (z)
        "carriage_yaw": float(rng.uniform(-c, c)),  # habitual head carriage, added to every pose
        "carriage_pitch": float(rng.uniform(-c, c)),
    }


def visit_traits(traits: dict, cfg: SimConfig, rng: np.random.Generator) -> dict:
    """The person's traits on one visit: skin wetness, a fresh share of the skin field, glasses worn or not,
    hair and beard length vary (scaled by ``identities.visit_variation``); shape and the rest stay the person's."""
    v = cfg.identities.visit_variation
    t = dict(traits)
    t["water"] = float(np.clip(traits["water"] + v * VISIT_WATER_SD * rng.standard_normal(), 0.05, 0.98))
    t["skin_visit_seed"] = int(rng.integers(2**62))  # seed of this visit's share of the skin field
    t["skin_visit_share"] = min(v * VISIT_SKIN_SHARE, 1.0)
    t["glasses"] = bool(traits["glasses"]) and bool(rng.random() >= v * VISIT_GLASSES_OFF)
    hair, beard = rng.uniform(1.0 - v * VISIT_HAIR_VAR, 1.0 + v * VISIT_HAIR_VAR, 2)
    t["hair_mm"], t["beard_mm"] = float(traits["hair_mm"] * hair), float(traits["beard_mm"] * beard)
    return t


def visit_identity(cfg: SimConfig, ident: Identity, seed: int, index: int) -> Identity:
    """``ident`` with the traits of visit ``index`` (drawn from SeedSequence([seed, VISIT_STREAM, index]))."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, VISIT_STREAM, index]))
    return dataclasses.replace(ident, traits=visit_traits(ident.traits, cfg, rng))


def skin_field(grid: Grid, traits: dict, sigma: float, corr_deg: float) -> np.ndarray:
    """(E, A) regional reflectivity multiplier 1 + sigma * noise (clipped at 0.2): the person's smooth noise,
    with ``traits["skin_visit_share"]`` of its variance drawn anew on a visit (:func:`visit_traits`)."""
    noise = smooth_noise(grid, corr_deg, np.random.default_rng(traits["skin_seed"]))
    share = float(traits.get("skin_visit_share", 0.0))
    if share > 0:
        fresh = smooth_noise(grid, corr_deg, np.random.default_rng(traits["skin_visit_seed"]))
        noise = np.sqrt(1.0 - share) * noise + np.sqrt(share) * fresh
    return np.clip(1 + sigma * noise, 0.2, None)


def identity_prefix(preset: str, seed: int) -> str:
    """Token prefix unique per (preset, seed), e.g. ``bench-20-s0-`` (tokens allow [A-Za-z0-9-] only)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", preset) + f"-s{seed}-"


def person_key(population: str, seed: int, index: int) -> list[int]:
    """SeedSequence entropy of base person ``index`` of a population: six uint32 words (stream, population key,
    seed as two words, person index from the population's own range as two words). Fixed-width words keep the
    map injective (numpy splits a big int into several words and pads with zeros, so [s, 1, p, i] would not be)."""
    if population not in POPULATIONS:
        raise ValueError(f"population: {population!r} is not one of {list(POPULATIONS)}")
    if not 0 <= seed < 2**64 or not 0 <= index < 2**40:
        raise ValueError(f"seed {seed} / identity {index}: need 0 <= seed < 2**64 and 0 <= identity < 2**40")
    person = PERSON_INDEX_BASE[population] + index
    words = [seed & 0xFFFFFFFF, seed >> 32, person & 0xFFFFFFFF, person >> 32]
    return [IDENTITY_STREAM, POPULATIONS.index(population), *words]


def make_identities(model: FaceModel, cfg: SimConfig, seed: int) -> list[Identity]:
    """``icfg.count`` identities named ``<preset>-s<seed>-<i>``; the first ``twin_pairs`` get a twin ``<token>t``.

    Base person i is drawn from its own stream :func:`person_key` (cfg.population, seed, i) and belongs to site
    ``i * sites // n_base`` (traits["site"]). A twin's coefficients differ from its sibling's by a random direction
    of length twin_distance * E|z1 - z2| (the mean distance between two random identities); traits are shared.
    """
    icfg = cfg.identities
    n_base = icfg.count - icfg.twin_pairs
    width = max(3, len(str(n_base - 1)))
    prefix = identity_prefix(cfg.preset, seed)
    out: list[Identity] = []
    for i in range(n_base):
        rng = np.random.default_rng(np.random.SeedSequence(person_key(cfg.population, seed, i)))
        token = f"{prefix}{i:0{width}d}"
        shape = model.sample_shape(rng)
        traits = {**_traits(rng, cfg), "site": i * cfg.sites // n_base}
        if i < icfg.twin_pairs:
            u = rng.standard_normal(model.n_shape)
            spread = cfg.face_model.shape_sigma * np.sqrt(2.0 * model.n_shape)  # E|z1 - z2| of two random ids
            offset = u / np.linalg.norm(u) * icfg.twin_distance * spread
            out.append(Identity(token, shape, traits, twin=token + "t"))
            out.append(Identity(token + "t", shape + offset, dict(traits), twin=token))
        else:
            out.append(Identity(token, shape, traits))
    return out


def identities_record(ids: list[Identity]) -> dict:
    """``identities.json``: {token: {"shape": [...], "traits": {...}}} (the person's traits, site included)."""
    return {i.token: {"shape": [float(v) for v in i.shape], "traits": dict(i.traits)} for i in ids}
