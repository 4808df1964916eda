"""The FaceModel interface, the factory from config, and identities (shape coefficients, traits, twins).

A face model maps (identity coefficients, expression coefficients, traits) to a :class:`HeadSurface` on the
shared radial grid: radius map, region labels and 68 landmarks. Adding a model = one class with the methods of
:class:`FaceModel` plus a branch in :func:`build_face_model`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from thzface.sim.config import FaceModelConfig, IdentityConfig, SimConfig, VisibleConfig
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
    traits: dict = field(default_factory=dict)  # hairline_mm, hair_mm, facial_hair, skin_tone, hair_tone
    twin: str | None = None  # token of the twin, if any


def _traits(rng: np.random.Generator, icfg: IdentityConfig, vcfg: VisibleConfig) -> dict:
    beard = rng.random() < icfg.facial_hair_prob
    return {
        "hairline_mm": float(rng.uniform(45.0, 70.0)),  # hairline above the brows
        "hair_mm": float(rng.uniform(2.0, 15.0)),  # scalp hair volume
        "facial_hair": int(rng.integers(1, 3)) if beard else 0,  # 0 none, 1 moustache, 2 beard
        "skin_tone": float(rng.uniform(*vcfg.skin_tone)),
        "hair_tone": float(rng.uniform(0.0, 1.0)),  # 0 black .. 1 blond
    }


def make_identities(model: FaceModel, cfg: SimConfig, seed: int) -> list[Identity]:
    """``icfg.count`` identities; the first ``twin_pairs`` base identities get a twin ``<token>t``.

    A twin's coefficients differ from its sibling's by a random direction of length
    twin_distance * E|z1 - z2| (the mean distance between two random identities); traits are shared.
    """
    icfg = cfg.identities
    rng = np.random.default_rng(np.random.SeedSequence([seed, IDENTITY_STREAM]))
    n_base = icfg.count - icfg.twin_pairs
    width = max(3, len(str(n_base - 1)))
    out: list[Identity] = []
    for i in range(n_base):
        token = f"id{i:0{width}d}"
        shape = model.sample_shape(rng)
        traits = _traits(rng, icfg, cfg.visible)
        u = rng.standard_normal(model.n_shape)
        if i < icfg.twin_pairs:
            spread = cfg.face_model.shape_sigma * np.sqrt(2.0 * model.n_shape)  # E|z1 - z2| of two random ids
            offset = u / np.linalg.norm(u) * icfg.twin_distance * spread
            out.append(Identity(token, shape, traits, twin=token + "t"))
            out.append(Identity(token + "t", shape + offset, dict(traits), twin=token))
        else:
            out.append(Identity(token, shape, traits))
    return out
