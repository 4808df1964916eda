"""Visible-light RGB images of the same head, pose and garments: albedo by region (skin tone, hair tone),
garment colours, Lambertian key light plus ambient, grey background. The privileged modality of the
distillation recipes; rendered from the same fine-grid views as the THz images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thzface.sim.config import VisibleConfig
from thzface.sim.render import View, front_of

SKIN_LIGHT, SKIN_DARK = np.array([0.93, 0.78, 0.67]), np.array([0.36, 0.23, 0.16])
HAIR_BLACK, HAIR_BLOND = np.array([0.08, 0.07, 0.06]), np.array([0.78, 0.62, 0.36])
GARMENT_COLOURS = np.array(
    [
        [0.08, 0.08, 0.09],
        [0.12, 0.16, 0.35],
        [0.45, 0.45, 0.47],
        [0.55, 0.1, 0.1],
        [0.15, 0.35, 0.18],
        [0.75, 0.68, 0.55],
        [0.9, 0.9, 0.88],
        [0.3, 0.2, 0.12],
    ]
)  # black, navy, grey, red, green, beige, white, brown


@dataclass
class Lighting:
    direction: np.ndarray  # (3,) unit vector towards the key light
    ambient: float  # ambient share
    background: float  # background grey
    garment_rgb: list[list[float]]  # one colour per garment

    def params(self) -> dict:
        return {
            "light_dir": self.direction.tolist(),
            "ambient": self.ambient,
            "background": self.background,
            "garment_rgb": self.garment_rgb,
        }


def draw_lighting(cfg: VisibleConfig, n_garments: int, rng: np.random.Generator) -> Lighting:
    az, el = np.deg2rad(rng.uniform(*cfg.light_azimuth_deg)), np.deg2rad(rng.uniform(*cfg.light_elevation_deg))
    d = np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])
    cols = [
        np.clip(GARMENT_COLOURS[rng.integers(len(GARMENT_COLOURS))] * rng.uniform(0.8, 1.2), 0, 1).tolist()
        for _ in range(n_garments)
    ]
    return Lighting(d, float(rng.uniform(*cfg.ambient)), float(rng.uniform(*cfg.background)), cols)


def albedo(labels: np.ndarray, traits: dict) -> np.ndarray:
    """(H, W) labels -> (H, W, 3) albedo for this identity (rows follow thzface.sim.head's label order)."""
    skin = SKIN_LIGHT + (SKIN_DARK - SKIN_LIGHT) * traits["skin_tone"]
    hair = HAIR_BLACK + (HAIR_BLOND - HAIR_BLACK) * traits["hair_tone"]
    table = np.stack(
        [np.zeros(3), skin, skin * [0.85, 0.55, 0.55], [0.55, 0.5, 0.48], hair, hair, skin * 0.95, skin * 0.97]
    )
    return table[labels]


def shade(rgb: np.ndarray, normal: np.ndarray, light: Lighting) -> np.ndarray:
    lam = np.clip(np.sum(normal * light.direction, axis=-1), 0, 1)[..., None]
    return rgb * (light.ambient + (1 - light.ambient) * lam)


def render_rgb(
    skin: View,
    labels: np.ndarray,
    traits: dict,
    light: Lighting,
    env: View | None = None,
    garment_id: np.ndarray | None = None,
) -> np.ndarray:
    """Fine-grid RGB in [0, 1]; with ``env`` the garments (colour per ``garment_id``) cover the skin."""
    out = np.full(skin.mask.shape + (3,), light.background)
    out[skin.mask] = shade(albedo(labels, traits), skin.normal, light)[skin.mask]
    if env is not None and garment_id is not None:
        front = front_of(env, skin)
        cols = np.asarray(light.garment_rgb)[np.clip(garment_id, 0, len(light.garment_rgb) - 1)]
        out[front] = shade(cols, env.normal, light)[front]
    return out
