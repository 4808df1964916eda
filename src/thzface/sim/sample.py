"""One sample end to end (no file I/O): head -> pose -> garments -> fine-grid views -> THz concealed /
unconcealed / clean target, visible pair and aux arrays, all from one seed.

Random streams are independent children of SeedSequence([seed, SAMPLE_STREAM, index]) (expression, pose,
system, skin field, garments, sensor, speckle, light), so a sample is reproducible on its own and the
concealed and unconcealed scans share the pose, the system and the noise realisation.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from thzface.sim import head as H
from thzface.sim import physics as P
from thzface.sim.config import SimConfig
from thzface.sim.face_model import FaceModel, Identity
from thzface.sim.garments import Garment, sample_concealment
from thzface.sim.passive import draw_passive, passive_scene
from thzface.sim.pose import Pose, rotation, sample_pose
from thzface.sim.render import Camera, View, front_of, project_landmarks, render_surface, rotate
from thzface.sim.sensor import SensorDraw, draw_sensor, measure, to_uint8
from thzface.sim.thz import active_scene, beam_w, box_down, draw_active, psf_blur, speckle
from thzface.sim.visible import draw_lighting, render_rgb

SAMPLE_STREAM = 2  # SeedSequence key of the per-sample draws
INSTRUMENT_STREAM = 3  # SeedSequence key of the instrument draw when cfg.instrument == "per_dataset"
PART_NAMES = ("left_eye", "right_eye", "nose", "mouth", "chin")  # left = image left (iBUG 36-41)
_PARTS = ((36, 42), (42, 48), (27, 36), (48, 68), (5, 12))
_TERMS = ("spec_u", "diff_u", "spec_c", "diff_c")


@dataclass
class SampleOutput:
    thz_concealed: np.ndarray  # (N, N) uint8
    thz_unconcealed: np.ndarray  # (N, N) uint8, same pose, system and noise draw
    clean: np.ndarray  # (N, N) uint8 noise-free unconcealed target
    visible_concealed: np.ndarray  # (N, N, 3) uint8
    visible_unconcealed: np.ndarray  # (N, N, 3) uint8
    aux: dict[str, np.ndarray]  # docs/dataset-format.md keys (+ gap, loss_db)


@dataclass
class Scene:
    """Fine-grid geometry of one sample, shared by every image of it."""

    surf: H.HeadSurface  # head with this sample's expression
    expr: np.ndarray  # expression coefficients
    pose: Pose  # drawn pose
    rot: np.ndarray  # (3, 3) head -> world
    shift: np.ndarray  # (3,) head -> world translation (face centre at the origin)
    cam: Camera  # fine grid
    fov_mm: float  # field of view
    skin: View  # the bare head
    env: View | None  # the garment envelope (None without garments)
    garments: list[Garment]  # inner first
    garment_id: np.ndarray | None  # (H, W) outermost garment index per fine pixel (visible colours)
    labels: np.ndarray  # (H, W) region label of the skin
    front: np.ndarray  # (H, W) height of the first surface the beam meets

    @property
    def covered(self) -> np.ndarray:
        """Fine pixels where a garment lies in front of the skin."""
        return self.skin.mask & front_of(self.env, self.skin) if self.env is not None else np.zeros_like(self.skin.mask)


def part_boxes(lm: np.ndarray, size: int) -> np.ndarray:
    """(5, 4) boxes x0, y0, x1, y1 around landmark groups, padded by 15 % of the eye distance, clipped."""
    pad = 0.15 * float(np.linalg.norm(lm[45] - lm[36]))
    out = np.zeros((5, 4), np.float32)
    for k, (a, b) in enumerate(_PARTS):
        pts = lm[a:b] if k != 4 else np.vstack([lm[a:b], lm[57:58]])
        lo, hi = pts.min(0) - pad, pts.max(0) + pad
        out[k] = np.clip([lo[0], lo[1], hi[0], hi[1]], 0, size - 1)
    return out


def build_scene(cfg: SimConfig, model: FaceModel, ident: Identity, posture: int, rngs: dict) -> Scene:
    """Head, pose, garments and the two fine-grid views (skin, garment envelope)."""
    expr = model.sample_expression(rngs["expr"], cfg.face_model.expression_sigma)
    surf = model.build(ident.shape, expr, ident.traits)
    g = surf.grid
    pose = sample_pose(posture, cfg.pose, rngs["pose"])
    rot = rotation(pose.yaw, pose.pitch, pose.roll)
    lv = H.frame_levels(surf.landmarks)
    centre = np.array([0.0, 0.5 * (lv["y_eye"] + lv["y_sto"]), 50.0])  # face centre -> image centre, height 0
    shift = np.array([pose.dx, pose.dy, 0.0]) - rotate(centre[None], rot)[0]
    fov = float(rngs["system"].uniform(*cfg.fov_mm))
    cam = Camera(cfg.image_size * cfg.render_scale, fov / (cfg.image_size * cfg.render_scale), 0.0, 0.0)
    skin = render_surface(surf.r, g, rot, shift, cam)
    garments = sample_concealment(surf, cfg.concealment, cfg.fabrics, rngs["garments"])
    r_env, cover, gid = surf.r.copy(), np.zeros(g.shape, bool), np.zeros(g.shape, np.int64)
    for k, gm in enumerate(garments):  # the envelope is the outermost garment face
        r_env = np.where(gm.cover, np.maximum(np.where(cover, r_env, 0.0), gm.r_outer), r_env)
        gid = np.where(gm.cover, k, gid)
        cover |= gm.cover
    env = render_surface(r_env, g, rot, shift, cam, cover=cover) if cover.any() else None
    front = skin.height if env is None else np.where(front_of(env, skin), env.height, skin.height)
    return Scene(surf, expr, pose, rot, shift, cam, fov, skin, env, garments,
                 env.attr(gid, nearest=True) if env is not None else None,
                 skin.attr(surf.labels, nearest=True), front)  # fmt: skip


def _signals(cfg: SimConfig, sc: Scene, sd: SensorDraw, rngs: dict) -> dict:
    """Output-resolution signals (noisy-to-be, clean) of both states plus what the sensor chain needs."""
    s, pitch = cfg.render_scale, sc.cam.pitch_mm
    field = 1 + cfg.skin.regional_sigma * H.smooth_noise(sc.surf.grid, cfg.skin.regional_deg, rngs["skin"])
    region = sc.skin.attr(np.clip(field, 0.2, None))
    if cfg.mode == "passive":
        pd = draw_passive(cfg.passive, cfg.skin, rngs["system"], rngs["skin"])
        maps = passive_scene(sc.skin, sc.env, sc.garments, sc.labels, region, pd, cfg.skin)
        base = pd.t_room - cfg.passive.floor_k  # display floor
        both = psf_blur(np.stack([maps["tb_u"], maps["tb_c"]]) - base, np.full(sc.front.shape, pd.w0_mm), pitch, 1)
        sig_u, sig_c = box_down(both[0], s), box_down(both[1], s)
        return {"sig_u": sig_u, "sig_c": sig_c, "clean_u": sig_u, "clean_c": sig_c, "maps": maps,
                "psi": np.zeros_like(sig_u), "detector": "square_law", "dr": 80.0, "sigma": pd.netd_k,
                "system": dataclasses.asdict(pd), "freq_ghz": pd.freq_ghz}  # fmt: skip
    d = draw_active(cfg.active, cfg.skin, rngs["system"], rngs["skin"])
    maps = active_scene(sc.skin, sc.env, sc.garments, sc.labels, region, d, cfg.skin, pitch, 0.0)
    lit = sc.skin.mask | (sc.env.mask if sc.env is not None else False)
    w_map = np.where(lit, beam_w(sc.front, 0.0, d), d.w0_mm)
    blurred = psf_blur(np.stack([maps[k] for k in _TERMS]), w_map, pitch, cfg.active.depth_slabs)
    parts = dict(zip(_TERMS, blurred, strict=True))
    spk = speckle(sc.skin.mask.shape, d.w0_mm, pitch, d.looks, rngs["speckle"])
    return {
        "sig_u": box_down(parts["spec_u"] + parts["diff_u"] * spk, s),
        "sig_c": box_down(parts["spec_c"] + parts["diff_c"] * spk, s),
        "clean_u": box_down(parts["spec_u"] + parts["diff_u"], s),
        "clean_c": box_down(parts["spec_c"] + parts["diff_c"], s),
        "maps": maps,
        "psi": 2 * P.wavenumber_per_mm(d.freq_ghz) * box_down(sc.front, s) + rngs["speckle"].uniform(0, 2 * np.pi),
        "detector": d.detector,
        "dr": min(sd.dynamic_range_db, sd.snr_db + 3.0),  # the display floor sits near the noise floor [I]
        "sigma": None,
        "system": dataclasses.asdict(d),
        "freq_ghz": d.freq_ghz,
    }


def _aux(cfg: SimConfig, sc: Scene, ident: Identity, head: np.ndarray, sig: dict, params: dict) -> dict:
    s, n_out = cfg.render_scale, cfg.image_size
    uv, vis = project_landmarks(sc.surf.landmarks, sc.rot, sc.shift, sc.cam, sc.skin, tol_mm=2 * sc.cam.pitch_mm + 1)
    lm = (uv + 0.5) / s - 0.5  # fine pixel centres -> output pixel coordinates
    cover = box_down(sc.skin.mask.astype(np.float64), s)
    depth = box_down(np.where(sc.skin.mask, sig["system"]["standoff_mm"] - sc.skin.height, 0.0), s)
    return {
        "depth": np.where(head, depth / np.maximum(cover, 1e-9), 0).astype(np.float32),
        "face_mask": head.astype(np.uint8),
        "garment_mask": (box_down(sc.covered.astype(np.float64), s) > 0.5).astype(np.uint8),
        "labels": sc.labels[s // 2 :: s, s // 2 :: s].astype(np.uint8),
        "landmarks": lm.astype(np.float32),
        "landmarks_visible": vis,
        "part_boxes": part_boxes(lm, n_out),
        "shape_coeffs": np.asarray(ident.shape, np.float32),
        "expr_coeffs": np.asarray(sc.expr, np.float32),
        "pose": sc.pose.angles(),
        "params": np.array(json.dumps(params, sort_keys=True, default=float)),
        "gap": box_down(sig["maps"]["gap"], s).astype(np.float32),
        "loss_db": box_down(sig["maps"]["loss_db"], s).astype(np.float32),
    }


def simulate_sample(
    cfg: SimConfig, model: FaceModel, ident: Identity, posture: int, seed: int, index: int
) -> SampleOutput:
    """All images and aux data of sample ``index`` (identity ``ident``, 0-based ``posture``) for ``seed``."""
    names = ("expr", "pose", "system", "skin", "garments", "sensor", "speckle", "light")
    children = np.random.SeedSequence([seed, SAMPLE_STREAM, index]).spawn(len(names))
    rngs = {k: np.random.default_rng(c) for k, c in zip(names, children, strict=True)}
    if cfg.instrument == "per_dataset":  # the same instrument draw for every sample of this seed
        rngs["system"] = np.random.default_rng(np.random.SeedSequence([seed, INSTRUMENT_STREAM]))
    sc = build_scene(cfg, model, ident, posture, rngs)
    s = cfg.render_scale
    passive = cfg.mode == "passive"
    sd = draw_sensor(cfg.sensor, cfg.image_size, sc.fov_mm / cfg.image_size, passive, rngs["system"], rngs["sensor"])
    sig = _signals(cfg, sc, sd, rngs)
    sd.dynamic_range_db = sig["dr"]
    head = box_down(sc.skin.mask.astype(np.float64), s) > 0.5

    def ref(im: np.ndarray) -> float:  # glint clip level: percentile over the head
        return max(float(np.percentile(im[head], sd.clip_percentile)) if head.any() else float(im.max()), 1e-12)

    clip_u = ref(sig["clean_u"])
    clip_c = clip_u if cfg.sensor.normalise == "pair" else ref(sig["clean_c"])
    sigma = sig["sigma"] if sig["sigma"] is not None else clip_u * 10 ** (-sd.snr_db / 10)  # active: from SNR
    det, psi = sig["detector"], sig["psi"]
    light = draw_lighting(cfg.visible, len(sc.garments), rngs["light"])
    rgb_b = render_rgb(sc.skin, sc.labels, ident.traits, light, sc.env, sc.garment_id)
    params = {
        "identity": ident.token, "posture": posture, "mode": cfg.mode, "fov_mm": sc.fov_mm,
        "pitch_mm": sc.fov_mm / cfg.image_size, "pose": dataclasses.asdict(sc.pose), "system": sig["system"],
        "sensor": sd.params(), "clip_level": clip_u, "clip_level_concealed": clip_c, "noise_sigma": sigma,
        "freq_ghz": sig["freq_ghz"], "face_model": model.name, "garments": [g.params for g in sc.garments],
        "light": light.params(),
    }  # fmt: skip
    return SampleOutput(
        thz_concealed=to_uint8(measure(sig["sig_c"], sd, clip_c, sigma, det, psi)),
        thz_unconcealed=to_uint8(measure(sig["sig_u"], sd, clip_u, sigma, det, psi)),
        clean=to_uint8(measure(sig["clean_u"], sd, clip_u, 0.0, det, psi, clean=True)),
        visible_concealed=to_uint8(box_down(rgb_b, s)),
        visible_unconcealed=to_uint8(box_down(render_rgb(sc.skin, sc.labels, ident.traits, light), s)),
        aux=_aux(cfg, sc, ident, head, sig, params),
    )  # fmt: skip
