"""One sample end to end (no file I/O): head -> pose -> garments -> fine-grid views -> THz concealed /
unconcealed / clean target, visible pair and aux arrays, all from one seed.

Random streams are independent children of SeedSequence([seed, SAMPLE_STREAM, index]) (expression, pose,
system, skin, garments, sensor, speckle, light, and the unconcealed capture's pose, sensor and speckle), so a
sample is reproducible on its own. ``cfg.pairing`` decides what the unconcealed scan shares with the concealed
one: everything (``shared``), the pose only (``independent-noise``) or only the person, scanner and expression
(``independent-capture``). The clean target is always the noise-free unconcealed head at the concealed pose.
The field of view is drawn once per dataset (one per scanner); skin optics, hair and glasses come from the
identity's traits.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np

from thzface.sim import head as H
from thzface.sim import physics as P
from thzface.sim.config import POPULATIONS, SimConfig
from thzface.sim.face_model import FaceModel, Identity, skin_field, visit_identity
from thzface.sim.parts import part_boxes
from thzface.sim.passive import draw_passive, passive_scene
from thzface.sim.pose import Pose, sample_pose
from thzface.sim.render import RenderRequest, View, project_landmarks, render_request
from thzface.sim.scene import Scene, SceneSetup, assemble_scene, setup_scene
from thzface.sim.scene import build_scene as build_scene  # re-exported: the reference scene of one pose
from thzface.sim.sensor import draw_sensor, measure, redraw_fields, to_uint8
from thzface.sim.thz import FILTERS, Filters, active_scene, beam_w, box_down, draw_active, speckle_normals
from thzface.sim.visible import draw_lighting, render_rgb

SAMPLE_STREAM = 2  # SeedSequence key of the per-sample draws
INSTRUMENT_STREAM = 3  # SeedSequence key of the instrument draw when cfg.instrument == "per_dataset"
FOV_STREAM = 4  # SeedSequence key of the dataset's field of view (one per scanner)
STREAMS = (
    "expr",
    "pose",
    "system",
    "skin",
    "garments",
    "sensor",
    "speckle",
    "light",
    "pose_u",
    "sensor_u",
    "speckle_u",
)
METAL_GAIN = 5.0  # metal frame reflectivity over skin's (R 1 vs about 0.2) [D]
LENS_T2 = 0.63  # two-way transmission of a plastic lens (about 1 dB one-way at 340 GHz) [I]
_TERMS = ("spec_u", "diff_u", "spec_c", "diff_c")


@dataclass
class SampleOutput:
    thz_concealed: np.ndarray  # (N, N) uint8
    thz_unconcealed: np.ndarray  # (N, N) uint8, its own capture unless cfg.pairing == "shared"
    clean: np.ndarray  # (N, N) uint8 noise-free unconcealed target at the concealed scan's exact pose
    visible_concealed: np.ndarray | None  # (N, N, 3) uint8; None unless cfg.write_visible
    visible_unconcealed: np.ndarray | None  # (N, N, 3) uint8; None unless cfg.write_visible
    aux: dict[str, np.ndarray] | None  # docs/dataset-format.md keys (+ gap, loss_db); None unless cfg.write_aux
    head: np.ndarray  # (N, N) bool head region of the concealed scan (and of the clean target)
    combo: str  # concealment combination, e.g. "scarf+hood"


def site_key(cfg: SimConfig, stream: int, seed: int, site: int) -> list[int]:
    """SeedSequence entropy of a site's scanner draw (``stream`` INSTRUMENT_STREAM or FOV_STREAM): the
    population, seed and site, so site k of a pretraining world and of an evaluation world of the same seed get
    different scanners. Evaluation keys keep their original three words; other populations append their nonzero
    POPULATIONS index (a trailing 0 would give the same SeedSequence state as no word)."""
    pop = POPULATIONS.index(cfg.population)
    return [seed, stream, site] if pop == 0 else [seed, stream, site, pop]


def dataset_fov(cfg: SimConfig, seed: int, site: int = 0) -> float:
    """The field of view of this dataset's scanner (mm), drawn once from the population, seed and site."""
    rng = np.random.default_rng(np.random.SeedSequence(site_key(cfg, FOV_STREAM, seed, site)))
    return float(rng.uniform(*cfg.fov_mm))


def draw_pose(cfg: SimConfig, ident: Identity, posture: int, rng: np.random.Generator) -> Pose:
    """Posture draw plus the person's carriage bias of yaw and pitch."""
    p = sample_pose(posture, cfg.pose, rng)
    t = ident.traits
    return dataclasses.replace(p, yaw=p.yaw + t.get("carriage_yaw", 0.0), pitch=p.pitch + t.get("carriage_pitch", 0.0))


def identity_maps(cfg: SimConfig, surf: H.HeadSurface, traits: dict) -> tuple[np.ndarray, np.ndarray]:
    """Head-grid (E, A) maps fixed by the person: reflectivity multiplier (regional skin field x two-way hair
    transmission x glasses) and the hair layer's backscatter."""
    field = skin_field(surf.grid, traits, cfg.skin.regional_sigma, cfg.skin.regional_deg)  # person x visit
    hair = surf.hair if surf.hair is not None else np.zeros(surf.r.shape)
    t2 = 10 ** (-2 * traits["hair_db_per_mm"] * hair / 10)  # two-way transmission of the hair layer
    glasses = surf.glasses if surf.glasses is not None else np.zeros(surf.r.shape, np.uint8)
    region = field * t2 * np.where(glasses == 2, METAL_GAIN, np.where(glasses == 1, LENS_T2, 1.0))
    return region, 10 ** (traits["hair_scatter_db"] / 10) * (1 - t2)


def _signals(
    cfg: SimConfig, sc: Scene, draw, idm: tuple, rng_c, rng_u=None, flt: Filters = FILTERS, skip_u: bool = False
) -> dict:
    """Output-resolution signals (noisy-to-be, clean) of both states of scene ``sc`` for the system ``draw``;
    speckle and carrier phase from ``rng_c`` (the unconcealed state draws its own from ``rng_u`` if given); the
    PSF and speckle by the filters ``flt``. ``skip_u``: the unconcealed state's noisy signal is not wanted (the
    sample has its own unconcealed capture), so its speckle is drawn (``rng_u`` stays in step) but not filtered
    and ``sig_u`` is None."""
    s, pitch = cfg.render_scale, sc.cam.pitch_mm
    region, scat = sc.skin.attr(idm[0]), sc.skin.attr(idm[1])
    if cfg.mode == "passive":
        maps = passive_scene(sc.skin, sc.env, sc.garments, sc.labels, region, draw, cfg.skin)
        base = draw.t_room - cfg.passive.floor_k  # display floor
        both = flt.blur(np.stack([maps["tb_u"], maps["tb_c"]]) - base, np.full(sc.front.shape, draw.w0_mm), pitch, 1)
        sig_u, sig_c = box_down(both[0], s), box_down(both[1], s)
        zero = np.zeros_like(sig_u)
        return {"sig_u": sig_u, "sig_c": sig_c, "clean_u": sig_u, "clean_c": sig_c, "maps": maps,
                "psi_u": zero, "psi_c": zero}  # fmt: skip
    d = draw
    maps = active_scene(sc.skin, sc.env, sc.garments, sc.labels, region, d, cfg.skin, pitch, 0.0, scat, flt)
    lit = sc.skin.mask | (sc.env.mask if sc.env is not None else False)
    w_map = np.where(lit, beam_w(sc.front, 0.0, d), d.w0_mm)
    terms = _TERMS if sc.env is not None else _TERMS[:2]  # bare head: concealed terms equal the unconcealed
    blurred = flt.blur(np.stack([maps[k] for k in terms]), w_map, pitch, cfg.active.depth_slabs)
    parts = dict(zip(terms, blurred, strict=True))
    if sc.env is None:
        parts["spec_c"], parts["diff_c"] = parts["spec_u"], parts["diff_u"]
    spk_c = flt.speckle(sc.skin.mask.shape, d.w0_mm, pitch, d.looks, rng_c)
    phase_c = rng_c.uniform(0, 2 * np.pi)
    spk_u, phase_u = spk_c, phase_c
    if rng_u is not None:
        shape = sc.skin.mask.shape
        spk_u = speckle_normals(shape, d.looks, rng_u) if skip_u else flt.speckle(shape, d.w0_mm, pitch, d.looks, rng_u)
        phase_u = rng_u.uniform(0, 2 * np.pi)
    k2 = 2 * P.wavenumber_per_mm(d.freq_ghz)
    return {
        "sig_u": None if skip_u and rng_u is not None else box_down(parts["spec_u"] + parts["diff_u"] * spk_u, s),
        "sig_c": box_down(parts["spec_c"] + parts["diff_c"] * spk_c, s),
        "clean_u": box_down(parts["spec_u"] + parts["diff_u"], s),
        "clean_c": box_down(parts["spec_c"] + parts["diff_c"], s),
        "maps": maps,
        "psi_c": k2 * box_down(sc.front, s) + phase_c,
        "psi_u": k2 * box_down(sc.skin.height, s) + phase_u,
    }


def draw_system(cfg: SimConfig, sc: Scene, ident: Identity, rngs: dict) -> tuple:
    """The instrument (active or passive draw, sensor settings and the concealed scan's noise fields) and its
    summary: detector, displayed range, noise sigma (None = from the SNR), system params, carrier."""
    passive = cfg.mode == "passive"
    sd = draw_sensor(cfg.sensor, cfg.image_size, sc.fov_mm / cfg.image_size, passive, rngs["system"], rngs["sensor"])
    if passive:
        pd = draw_passive(cfg.passive, rngs["system"], rngs["skin"], ident.traits["water"])
        sd.dynamic_range_db = 80.0
        return pd, sd, {"detector": "square_law", "sigma": pd.netd_k, "system": dataclasses.asdict(pd)}
    d = draw_active(cfg.active, rngs["system"], ident.traits)
    sd.dynamic_range_db = min(sd.dynamic_range_db, sd.snr_db + 3.0)  # the display floor sits near the noise floor
    return d, sd, {"detector": d.detector, "sigma": None, "system": dataclasses.asdict(d)}


def _landmarks(cfg: SimConfig, sc: Scene) -> tuple[np.ndarray, np.ndarray]:
    """(68, 2) output-pixel landmarks of scene ``sc`` and their not-self-occluded flags."""
    s = cfg.render_scale
    uv, vis = project_landmarks(sc.surf.landmarks, sc.rot, sc.shift, sc.cam, sc.skin, tol_mm=2 * sc.cam.pitch_mm + 1)
    return (uv + 0.5) / s - 0.5, vis  # fine pixel centres -> output pixel coordinates


def _aux(cfg: SimConfig, sc: Scene, sc_u: Scene, ident: Identity, head: np.ndarray, maps: dict, params: dict) -> dict:
    """Aux arrays of the concealed scan (and the clean target, same pose); ``*_unconcealed`` keys follow the
    unconcealed capture's own pose."""
    s, n_out = cfg.render_scale, cfg.image_size
    lm, vis = _landmarks(cfg, sc)
    lm_u = lm if sc_u is sc else _landmarks(cfg, sc_u)[0]
    cover = box_down(sc.skin.mask.astype(np.float64), s)
    depth = box_down(np.where(sc.skin.mask, params["system"]["standoff_mm"] - sc.skin.height, 0.0), s)
    return {
        "depth": np.where(head, depth / np.maximum(cover, 1e-9), 0).astype(np.float32),
        "face_mask": head.astype(np.uint8),
        "garment_mask": (box_down(sc.covered.astype(np.float64), s) > 0.5).astype(np.uint8),
        "labels": sc.labels[s // 2 :: s, s // 2 :: s].astype(np.uint8),
        "landmarks": lm.astype(np.float32),
        "landmarks_visible": vis,
        "part_boxes": part_boxes(lm, n_out),
        "landmarks_unconcealed": lm_u.astype(np.float32),
        "part_boxes_unconcealed": part_boxes(lm_u, n_out),
        "shape_coeffs": np.asarray(ident.shape, np.float32),
        "expr_coeffs": np.asarray(sc.expr, np.float32),
        "pose": sc.pose.angles(),
        "params": np.array(json.dumps(params, sort_keys=True, default=float)),
        "gap": box_down(maps["gap"], s).astype(np.float32),
        "loss_db": box_down(maps["loss_db"], s).astype(np.float32),
    }


@dataclass
class Prepared:
    """A sample's draws up to rendering: the visit's identity, the streams, expression, surface and scenes."""

    ident: Identity  # this visit's identity (traits of the visit)
    posture: int
    rngs: dict[str, np.random.Generator]
    expr: np.ndarray  # expression coefficients
    surf: H.HeadSurface
    fov: float
    setups: list[SceneSetup]  # the concealed scene, then the unconcealed capture's if it has its own pose

    def requests(self) -> list[RenderRequest]:
        """Every render of the sample, in the order :func:`finish_sample` takes the views."""
        return [q for st in self.setups for q in st.requests(self.surf)]


def prepare_sample(
    cfg: SimConfig, model: FaceModel, ident: Identity, posture: int, seed: int, index: int, build=None
) -> Prepared:
    """Draw sample ``index`` up to rendering (both backends): visit traits, streams, expression, head surface (by
    ``build``, default ``model.build``), poses and garments."""
    children = np.random.SeedSequence([seed, SAMPLE_STREAM, index]).spawn(len(STREAMS))
    rngs = {k: np.random.default_rng(c) for k, c in zip(STREAMS, children, strict=True)}
    ident, site = visit_identity(cfg, ident, seed, index), ident.traits.get("site", 0)  # this visit's traits
    if cfg.instrument == "per_dataset":  # the same instrument draw for every sample of this seed
        rngs["system"] = np.random.default_rng(np.random.SeedSequence(site_key(cfg, INSTRUMENT_STREAM, seed, site)))
    expr = model.sample_expression(rngs["expr"], cfg.face_model.expression_sigma)
    head = (build or model.build)(ident.shape, expr, ident.traits)
    fov = dataset_fov(cfg, seed, site)
    setups = [setup_scene(cfg, head, draw_pose(cfg, ident, posture, rngs["pose"]), fov, rngs["garments"])]
    if cfg.pairing == "independent-capture":  # the person steps back in front of the scanner
        setups.append(setup_scene(cfg, head, draw_pose(cfg, ident, posture, rngs["pose_u"]), fov))
    return Prepared(ident, posture, rngs, expr, head, fov, setups)


def simulate_sample(
    cfg: SimConfig, model: FaceModel, ident: Identity, posture: int, seed: int, index: int
) -> SampleOutput:
    """All images and aux data of sample ``index`` (identity ``ident``, 0-based ``posture``) for ``seed``, by the
    reference (per-sample) renderer."""
    prep = prepare_sample(cfg, model, ident, posture, seed, index)
    return finish_sample(cfg, model, prep, [render_request(q, prep.surf.grid) for q in prep.requests()])


def finish_sample(
    cfg: SimConfig, model: FaceModel, prep: Prepared, views: list[View], flt: Filters = FILTERS, lean: bool = True
) -> SampleOutput:
    """Images and aux data of a prepared sample from its rendered views (in ``prep.requests()`` order), its PSF
    and speckle by the filters ``flt``; ``lean`` skips work whose result no image uses (the concealed scene's
    unconcealed speckle when the sample has its own unconcealed capture), the same draws and images."""
    ident, posture, rngs, surf, expr, fov = prep.ident, prep.posture, prep.rngs, prep.surf, prep.expr, prep.fov
    n_c = len(prep.setups[0].requests(surf))
    sc = assemble_scene(surf, expr, fov, prep.setups[0], views[:n_c])
    capture = len(prep.setups) > 1
    sc_u = assemble_scene(surf, expr, fov, prep.setups[1], views[n_c:]) if capture else sc
    draw, sd, info = draw_system(cfg, sc, ident, rngs)
    idm = identity_maps(cfg, surf, ident.traits)
    s, n_out = cfg.render_scale, cfg.image_size
    rng_u = rngs["speckle_u"] if cfg.pairing != "shared" else None
    sig = _signals(cfg, sc, draw, idm, rngs["speckle"], rng_u, flt, skip_u=lean and capture)
    sig_u = _signals(cfg, sc_u, draw, idm, rngs["speckle_u"], None, flt) if capture else sig
    sd_u = sd if cfg.pairing == "shared" else redraw_fields(sd, cfg.sensor, n_out, rngs["sensor_u"])
    head = box_down(sc.skin.mask.astype(np.float64), s) > 0.5
    head_u = box_down(sc_u.skin.mask.astype(np.float64), s) > 0.5

    def ref(im: np.ndarray, m: np.ndarray) -> float:  # glint clip level: percentile over the head
        return max(float(np.percentile(im[m], sd.clip_percentile)) if m.any() else float(im.max()), 1e-12)

    clip_t = ref(sig["clean_u"], head)  # the clean target's level (= the unconcealed scan's when shared)
    clip_u = clip_t if not capture else ref(sig_u["clean_u"], head_u)
    clip_c = clip_t if cfg.sensor.normalise == "pair" else ref(sig["clean_c"], head)
    noise = lambda clip: info["sigma"] if info["sigma"] is not None else clip * 10 ** (-sd.snr_db / 10)  # noqa: E731
    det = info["detector"]
    out = SampleOutput(
        thz_concealed=to_uint8(measure(sig["sig_c"], sd, clip_c, noise(clip_t), det, sig["psi_c"])),
        thz_unconcealed=to_uint8(measure(sig_u["sig_u"], sd_u, clip_u, noise(clip_u), det, sig_u["psi_u"])),
        clean=to_uint8(measure(sig["clean_u"], sd, clip_t, 0.0, det, sig["psi_u"], clean=True)),
        visible_concealed=None, visible_unconcealed=None, aux=None, head=head,
        combo="+".join(g.kind for g in sc.garments),
    )  # fmt: skip
    if cfg.write_visible:
        light = draw_lighting(cfg.visible, len(sc.garments), rngs["light"])
        rgb_b = render_rgb(sc.skin, sc.labels, ident.traits, light, sc.env, sc.garment_id)
        rgb_n = render_rgb(sc_u.skin, sc_u.labels, ident.traits, light)
        out.visible_concealed, out.visible_unconcealed = to_uint8(box_down(rgb_b, s)), to_uint8(box_down(rgb_n, s))
    if cfg.write_aux:
        params = {
            "identity": ident.token, "posture": posture, "mode": cfg.mode, "pairing": cfg.pairing, "fov_mm": fov,
            "pitch_mm": fov / n_out, "pose": dataclasses.asdict(sc.pose),
            "pose_unconcealed": dataclasses.asdict(sc_u.pose), "system": info["system"], "sensor": sd.params(),
            "clip_level": clip_u, "clip_level_concealed": clip_c, "noise_sigma": noise(clip_t),
            "freq_ghz": draw.freq_ghz, "face_model": model.name, "garments": [g.params for g in sc.garments],
        }  # fmt: skip
        if cfg.write_visible:
            params["light"] = light.params()
        out.aux = _aux(cfg, sc, sc_u, ident, head, sig["maps"], params)
    return out
