"""Passive (radiometric) image formation, eq. (4): brightness temperature of skin, garments and the mirrored
room, blurred by an incoherent PSF; no glints and no speckle (thz-physics section 1.4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thzface.sim import physics as P
from thzface.sim.config import PassiveConfig, SkinConfig
from thzface.sim.garments import Garment
from thzface.sim.render import View, front_of
from thzface.sim.thz import garment_pixels, garment_stack, skin_optics


@dataclass
class PassiveDraw:
    """Per-sample radiometric scene, shared by the concealed and unconcealed images."""

    freq_ghz: float
    standoff_mm: float  # range to the sensor (depth map only)
    w0_mm: float  # incoherent PSF beam radius
    t_skin: float
    t_room: float
    t_cloth: float
    t_sensor: float
    patch_k: float  # temperature offset of a hot/cold patch in the environment
    patch_dir: tuple[float, float, float]  # its direction
    netd_k: float
    water: float


def draw_passive(
    cfg: PassiveConfig, rng: np.random.Generator, rng_skin: np.random.Generator, water: float
) -> PassiveDraw:
    """Instrument and room from ``rng``; this sample's skin and garment temperature from ``rng_skin``; the
    person's skin water share ``water`` (an identity trait)."""
    az, el = rng.uniform(-1.2, 1.2), rng.uniform(-0.8, 0.8)
    return PassiveDraw(
        freq_ghz=float(rng.uniform(*cfg.freq_ghz)),
        standoff_mm=float(rng.uniform(*cfg.standoff_mm)),
        w0_mm=P.waist_from_fwhm(float(rng.uniform(*cfg.psf_fwhm_mm))),
        t_skin=float(rng_skin.uniform(*cfg.t_skin_k)),
        t_room=float(rng.uniform(*cfg.t_room_k)),
        t_cloth=float(rng_skin.uniform(*cfg.t_cloth_k)),
        t_sensor=float(rng.uniform(*cfg.t_sensor_k)),
        patch_k=float(rng.uniform(*cfg.env_patch_k)),
        patch_dir=(float(np.sin(az) * np.cos(el)), float(np.sin(el)), float(np.cos(az) * np.cos(el))),
        netd_k=float(rng.uniform(*cfg.netd_k)),
        water=float(water),
    )


def env_temperature(normal: np.ndarray, d: PassiveDraw) -> np.ndarray:
    """T_env of the direction mirrored by a surface with this normal (view ray b = +z): room, the sensor
    itself around the back-reflection direction, one hot/cold patch."""
    b = np.array([0.0, 0.0, 1.0])
    r = 2 * normal[..., 2:3] * normal - b  # specular direction
    ang_s = np.arccos(np.clip(r[..., 2], -1, 1))
    ang_p = np.arccos(np.clip(np.sum(r * np.array(d.patch_dir), axis=-1), -1, 1))
    sensor = np.exp(-((ang_s / np.deg2rad(10.0)) ** 2))
    patch = np.exp(-((ang_p / np.deg2rad(25.0)) ** 2))
    return d.t_room + (d.t_sensor - d.t_room) * sensor + d.patch_k * patch


def passive_scene(
    skin: View,
    env: View | None,
    garments: list[Garment],
    labels: np.ndarray,
    region: np.ndarray,
    d: PassiveDraw,
    cfg: SkinConfig,
) -> dict[str, np.ndarray]:
    """Brightness temperature (K) on the fine grid, unconcealed and concealed; the background is the room."""
    n_skin, _ = skin_optics(labels, d.water, 0.0, 0.0, cfg, d.freq_ghz)
    theta = np.arccos(np.clip(skin.normal[..., 2], 0, 1))
    rs, rp = P.fresnel_oblique(n_skin, theta)
    emis = 1 - np.clip(0.5 * (rs + rp) * region, 0, 1)
    tb_u = np.where(skin.mask, emis * d.t_skin + (1 - emis) * env_temperature(skin.normal, d), d.t_room)
    out = {"tb_u": tb_u, "tb_c": tb_u.copy(), "loss_db": np.zeros(skin.mask.shape), "gap": np.zeros(skin.mask.shape)}
    if env is None or not garments:
        return out
    sel = front_of(env, skin)
    px = garment_pixels(garments, env, sel)
    n, dd, _, fab = garment_stack(garments, px, env, skin, n_skin, sel)
    air = np.ones(int(sel.sum()), dtype=np.complex128)
    r_c = P.stack_incoherent(n, dd, air, d.freq_ghz)  # fabric-only reflectivity
    loss = P.layer_loss_db(n[:, fab], dd[:, fab], d.freq_ghz).sum(-1)
    t_c = (1 - r_c) * 10 ** (-loss / 10)
    t_env_c = env_temperature(env.normal[sel], d)
    out["tb_c"][sel] = t_c * tb_u[sel] + np.clip(1 - t_c - r_c, 0, 1) * d.t_cloth + r_c * t_env_c
    out["loss_db"][sel] = 2 * loss * skin.mask[sel]
    out["gap"][sel] = dd[:, ~fab].sum(-1) * skin.mask[sel]
    return out
