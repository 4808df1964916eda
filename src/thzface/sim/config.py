"""Typed simulator configuration: every parameter with its default and randomisation range.

A ``(lo, hi)`` pair is a uniform range drawn per sample (equal ends fix the value); tags cite thz-physics.md:
[S..] sourced, [D] derived, [I] assumption. Built by :func:`thzface.config.from_dict` (unknown keys rejected).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from thzface.config import ConfigError, from_dict, to_dict

Range = tuple[float, float]
FABRICS = ("cotton", "polyester", "wool_knit", "denim", "leather", "wet", "nonwoven")
PAIRINGS = ("shared", "independent-noise", "independent-capture")
POPULATIONS = ("eval", "pretrain")  # disjoint people: evaluation presets vs pretraining presets (face_model)
GARMENTS = ("balaclava", "scarf", "mask", "hood")
# concealment combinations ('+' joins garments, inner first) and weights; a hood alone leaves the face open
COMBOS = {"balaclava": 3.0, "scarf": 2.0, "mask": 2.0, "balaclava+hood": 1.0, "scarf+hood": 1.0, "mask+hood": 0.5}
DETECTORS = ("square_law", "heterodyne", "homodyne")
DISPLAYS = ("linear", "sqrt", "db")


class _Checked:
    """Mixin: every (lo, hi) range field must have lo <= hi; raises ValueError (turned into ConfigError)."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if f.type in ("Range", "tuple[int, int]") and len(v) != 2:
                raise ValueError(f"{f.name}: expected [low, high], got {list(v)}")
            if f.type in ("Range", "tuple[int, int]") and v[0] > v[1]:
                raise ValueError(f"{f.name}: range low {v[0]} > high {v[1]}")


@dataclass
class FaceModelConfig(_Checked):
    kind: str = "builtin"  # builtin (our anthropometric head, no file) | sfm (Surrey 3DMM read from `path`)
    path: str = ""  # sfm only: path to sfm_shape_3448.npz; empty = $THZFACE_SFM_PATH
    grid_deg: float = 1.5  # angular step of the head-surface grid in degrees (finer = smoother, slower)
    shape_sigma: float = 1.0  # spread of identity coefficients in population standard deviations
    expression_sigma: float = 0.2  # per-sample expression jitter (std of expression coefficients) [I]


@dataclass
class IdentityConfig(_Checked):
    count: int = 20  # identity folders written, twins included
    twin_pairs: int = 0  # how many base identities get a twin (each twin is one of `count`)
    twin_distance: float = 0.15  # twin coefficient offset as a share of the mean distance of two random ids
    facial_hair_prob: float = 0.3  # share of base identities with a moustache or beard (twins copy it)
    glasses_prob: float = 0.2  # share of base identities wearing glasses (metal frames glint, lenses attenuate)
    hair_db_per_mm: Range = (0.2, 0.6)  # one-way loss of the hair / beard layer per mm of thickness [I]
    hair_scatter_db: Range = (-40.0, -30.0)  # backscatter of a fully lossy hair layer ("weak speckled diffuse") [I]
    skull_scale_sd: float = 0.04  # sfm: SD of the skull / ear / neck width, height, length factors (breadth 6/152 mm)
    carriage_deg: float = 2.0  # per-person carriage bias of yaw and pitch, uniform in +-this [I]
    visit_variation: float = 1.0  # scale of the per-visit trait changes (face_model.visit_traits); 0 = frozen [I]


@dataclass
class PoseConfig(_Checked):
    front_deg: float = 5.0  # front: yaw and pitch uniform in +-this [I, section 4.3]
    turn_yaw_deg: Range = (15.0, 45.0)  # left/right: |yaw| range; FOI used 30 deg [S3]
    tilt_pitch_deg: Range = (10.0, 30.0)  # up/down: |pitch| range [I]
    cross_jitter_deg: float = 3.0  # left/right/up/down: jitter of the other axis, +-this [I]
    roll_deg: float = 5.0  # roll uniform in +-this, every class [I]
    lateral_mm: float = 10.0  # placement jitter in x and y, +-this [I]


@dataclass
class SkinConfig(_Checked):
    water_fraction: Range = (0.5, 0.9)  # Looyenga water share; R 0.14-0.24 at 340 GHz [D, S8]
    dry_eps: tuple[float, float] = (2.5, 0.25)  # dry-tissue permittivity (real, imag) [I]
    temp_k: float = 307.0  # skin temperature for the water model [S16]
    regional_sigma: float = 0.2  # std of the smooth multiplicative reflectivity field (+-20 %) [I, S7]
    regional_deg: float = 15.0  # correlation length of that field on the head grid (degrees) [I]
    diffuse_skin: Range = (0.02, 0.15)  # diffuse fraction f_d of smooth skin [I, section 2]
    diffuse_hair: Range = (0.3, 0.8)  # f_d of hair, brows, beard [I]
    eye_water: float = 0.95  # water share of the tear film (eyes may glint) [I]
    lip_water_add: float = 0.1  # extra water share on the lips [I]


@dataclass
class ActiveConfig(_Checked):
    freq_ghz: Range = (340.0, 340.0)  # carrier; randomise (300, 360) for robustness [S1, S2]
    standoff_mm: Range = (800.0, 1500.0)  # sensor range, unknown for METU [I]
    aperture_mm: Range = (100.0, 300.0)  # aperture D: theta_0 = D/(4z), diffraction limit [D]
    psf_fwhm_mm: Range = (2.0, 10.0)  # two-way intensity PSF FWHM at focus (>= diffraction) [D, section 2]
    focus_offset_dof: Range = (-0.5, 0.5)  # focus offset as a share of the depth of field [I]
    depth_slabs: int = 4  # depth bins of the depth-dependent PSF (1 = one blur for all) [section 4.2]
    coherent_prob: float = 0.5  # share of CW (gap fringes on) vs wideband (fringes averaged) systems [I]
    detector_weights: dict[str, float] = field(
        default_factory=lambda: {"square_law": 0.6, "heterodyne": 0.3, "homodyne": 0.1}
    )  # detection type weights [I, section 4.3]
    speckle_looks: list[int] = field(default_factory=lambda: [1, 2, 4])  # N looks, gamma(N) speckle [S21]


@dataclass
class PassiveConfig(_Checked):
    freq_ghz: Range = (250.0, 250.0)  # passive band centre [S37]
    standoff_mm: Range = (2000.0, 4000.0)  # range to the radiometer (3 m in [S16]); sets the depth map
    psf_fwhm_mm: Range = (4.0, 12.0)  # incoherent PSF FWHM [I]
    t_skin_k: Range = (305.0, 309.0)  # skin temperature [S16]
    t_room_k: Range = (293.0, 300.0)  # walls / room [S16]
    t_cloth_k: Range = (300.0, 306.0)  # garment temperature [I]
    t_sensor_k: Range = (285.0, 300.0)  # the instrument, seen in the specular direction [I]
    env_patch_k: Range = (-15.0, 15.0)  # hot/cold patch in the reflected environment [I]
    netd_k: Range = (0.03, 0.5)  # receiver NETD [S10, S36, S16]
    floor_k: float = 3.0  # display floor: room temperature minus this maps to black [I]


@dataclass
class SensorConfig(_Checked):
    snr_db: Range = (10.0, 40.0)  # peak (clip level) to noise power, active mode [I]
    corr_noise_frac: Range = (0.0, 0.5)  # share of spatially correlated noise [S18]
    corr_noise_px: float = 1.5  # correlation length of that noise (output pixels) [I]
    row_gain_sigma: Range = (0.0, 0.05)  # AR(1) row-gain drift std (stripes) [S17, I]
    row_offset_sigma: Range = (0.0, 0.02)  # AR(1) row-offset drift std, share of clip level [S17, I]
    ar_rho: Range = (0.9, 0.99)  # AR(1) coefficient along the scan [I]
    serpentine_px: Range = (0.0, 1.5)  # odd-row offset of a bidirectional scan [I]
    motion_mm: Range = (0.0, 2.0)  # lateral sway during the scan (row shear) [I, S3]
    drop_row_frac: Range = (0.0, 0.005)  # dropped rows [I]
    drop_pixel_frac: Range = (0.0, 0.001)  # dropped pixels [I]
    adc_bits: list[int] = field(default_factory=lambda: [8, 12, 16])  # ADC resolution choices [I]
    display_weights: dict[str, float] = field(
        default_factory=lambda: {"linear": 1.0, "sqrt": 1.0, "db": 1.0}
    )  # display mapping weights (passive images always use linear) [I]
    dynamic_range_db: Range = (20.0, 50.0)  # displayed range below the clip level, at most SNR + 3 dB [I]
    clip_percentile: Range = (99.0, 99.9)  # glint clip level: percentile of the clean head pixels [I]
    normalise: str = "pair"  # pair: one gain for concealed+unconcealed (physical) | image: per image


@dataclass
class FabricConfig(_Checked):
    eps_real: Range = (1.5, 1.8)  # eps' of the layer [I, S14]
    tan_delta: Range = (0.03, 0.07)  # loss tangent [I]
    thickness_mm: Range = (0.3, 0.6)  # layer thickness [I]
    diffuse: Range = (0.2, 0.5)  # yarn-texture diffuse share of the fabric's own reflection [S13, S15, I]
    scatter_db: Range = (-46.0, -38.0)  # yarn-scale backscatter, share of the incident power (textured) [S13-S15, I]


def _fab(e: Range, t: Range, d: Range, f: Range, s: Range = (-46.0, -38.0)) -> Any:
    return field(default_factory=lambda: FabricConfig(e, t, d, f, s))


@dataclass
class FabricsConfig(_Checked):
    cotton: FabricConfig = _fab((1.5, 1.8), (0.03, 0.07), (0.3, 0.6), (0.2, 0.5))  # 0.3-1.5 dB one-way
    polyester: FabricConfig = _fab((1.4, 1.7), (0.02, 0.05), (0.5, 1.0), (0.2, 0.5))  # 0.3-1.5 dB
    wool_knit: FabricConfig = _fab((1.3, 1.6), (0.05, 0.09), (1.2, 2.2), (0.3, 0.7), (-38.0, -30.0))  # 2-8 dB
    denim: FabricConfig = _fab((1.8, 2.0), (0.04, 0.08), (0.8, 1.2), (0.2, 0.4), (-40.0, -32.0))  # 1.5-3 dB
    leather: FabricConfig = _fab((2.5, 3.0), (0.08, 0.15), (0.8, 1.4), (0.05, 0.2), (-44.0, -36.0))  # 3-10 dB
    wet: FabricConfig = _fab((1.8, 2.6), (0.1, 0.25), (0.4, 0.8), (0.2, 0.5))  # wet cotton x2-x5 [S12]
    nonwoven: FabricConfig = _fab((1.2, 1.5), (0.002, 0.01), (0.2, 0.5), (0.1, 0.3), (-54.0, -46.0))  # < 0.2 dB


@dataclass
class GarmentConfig(_Checked):
    fabric_weights: dict[str, float] = field(default_factory=lambda: {"cotton": 1.0})  # fabric preset weights
    layers: tuple[int, int] = (1, 1)  # number of fabric layers (scarf wraps), uniform integer range
    bridge_mm: Range = (10.0, 25.0)  # widest concavity the fabric bridges (drape closing size) [I]
    max_gap_mm: Range = (3.0, 20.0)  # largest fabric-skin gap [I, section 2]
    gap_noise_mm: Range = (0.5, 3.0)  # low-frequency gap noise std [I]
    standoff_mm: Range = (0.0, 0.0)  # extra constant offset (loose hoods) [I]


def _garment(**kw: Any) -> Any:
    return field(default_factory=lambda: GarmentConfig(**kw))


@dataclass
class ConcealmentConfig(_Checked):
    weights: dict[str, float] = field(default_factory=lambda: dict(COMBOS))  # garment combinations, see COMBOS
    breath_wetness: Range = (1.5, 4.0)  # loss multiplier near mouth/nose on covering garments [I, S12]
    balaclava: GarmentConfig = _garment(
        fabric_weights={"wool_knit": 3.0, "polyester": 2.0, "cotton": 1.0, "wet": 0.3}, max_gap_mm=(3.0, 12.0)
    )  # full head except the eyes
    scarf: GarmentConfig = _garment(
        fabric_weights={"wool_knit": 2.0, "cotton": 2.0, "polyester": 1.0, "wet": 0.3},
        layers=(2, 4),
        bridge_mm=(15.0, 35.0),
        gap_noise_mm=(1.0, 3.0),
    )  # nose down to the neck, 2-4 wraps
    mask: GarmentConfig = _garment(
        fabric_weights={"nonwoven": 3.0, "cotton": 1.0, "polyester": 1.0}, bridge_mm=(20.0, 40.0)
    )  # mouth and nose; a surgical (nonwoven) mask is nearly transparent
    hood: GarmentConfig = _garment(
        fabric_weights={"cotton": 1.0, "polyester": 1.0, "denim": 2.0, "leather": 2.0},
        bridge_mm=(20.0, 40.0),
        standoff_mm=(3.0, 20.0),
    )  # top, sides and back of the head


@dataclass
class VisibleConfig(_Checked):
    skin_tone: Range = (0.0, 1.0)  # 0 light .. 1 dark, drawn per identity (palette interpolation)
    ambient: Range = (0.25, 0.5)  # ambient light share
    light_azimuth_deg: Range = (-40.0, 40.0)  # key-light direction around the vertical axis
    light_elevation_deg: Range = (5.0, 45.0)  # key-light elevation
    background: Range = (0.35, 0.75)  # background grey level


@dataclass
class SimConfig(_Checked):
    preset: str = "custom"  # preset name (informational; written to meta.json)
    population: str = "eval"  # eval | pretrain: whose people; the two share nobody for any seeds
    sites: int = 1  # scanners in the world, each with its own people (contiguous blocks of identities)
    mode: str = "active"  # active (monostatic 340 GHz, eq. 1-3) | passive (250 GHz radiometer, eq. 4)
    image_size: int = 64  # output images are image_size x image_size
    render_scale: int = 2  # fine render grid = image_size * render_scale (box-averaged to the output)
    fov_mm: Range = (190.0, 230.0)  # square field of view, drawn once per dataset (one per scanner, never per
    # sample, so head size stays an identity cue); pitch = fov / image_size (3-3.6 mm at 64 px) [I]
    samples: int = 7  # samples per (identity, posture)
    instrument: str = "per_sample"  # per_sample: system and sensor drawn per sample | per_dataset: once per site
    pairing: str = "independent-capture"  # shared (ablation) | independent-noise | independent-capture: own pose
    write_visible: bool = True  # write visible/ RGB companions (the THz-only fast path skips their render)
    write_aux: bool = True  # write aux/ npz (depth, masks, landmarks, params)
    contact_sheet: bool = True  # write contact_sheet.png into the dataset folder
    backend: str = "batched"  # batched: torch, many samples at once, GPU if present | reference: numpy per sample
    face_model: FaceModelConfig = field(default_factory=FaceModelConfig)  # geometry source
    identities: IdentityConfig = field(default_factory=IdentityConfig)  # who
    pose: PoseConfig = field(default_factory=PoseConfig)  # posture angle ranges
    skin: SkinConfig = field(default_factory=SkinConfig)  # skin electromagnetics
    active: ActiveConfig = field(default_factory=ActiveConfig)  # active optics and detection
    passive: PassiveConfig = field(default_factory=PassiveConfig)  # passive radiometry
    sensor: SensorConfig = field(default_factory=SensorConfig)  # measurement chain, eq. (3)
    fabrics: FabricsConfig = field(default_factory=FabricsConfig)  # fabric presets
    concealment: ConcealmentConfig = field(default_factory=ConcealmentConfig)  # garments
    visible: VisibleConfig = field(default_factory=VisibleConfig)  # RGB companion images

    def __post_init__(self) -> None:
        super().__post_init__()
        validate(self)


def pick(weights: dict[str, float], rng: Any) -> str:
    """Draw one key of a weights dict (keys sorted, so the draw does not depend on dict order)."""
    keys = sorted(weights)
    p = [float(weights[k]) for k in keys]
    return keys[int(rng.choice(len(keys), p=[v / sum(p) for v in p]))]


def _check_weights(w: dict[str, float], known: tuple[str, ...], where: str, split: bool = False) -> None:
    if not w or sum(float(v) for v in w.values()) <= 0:
        raise ValueError(f"{where}: needs at least one positive weight")
    for k, v in w.items():
        names = k.split("+") if split else [k]
        bad = [n for n in names if n not in known]
        if bad or float(v) < 0:
            raise ValueError(f"{where}: bad entry {k!r}: {v!r} (known: {list(known)})")


def validate(cfg: SimConfig) -> None:
    """Cross-field checks; raises ValueError with the offending key."""
    for key, value, known in (
        ("mode", cfg.mode, ("active", "passive")),
        ("face_model.kind", cfg.face_model.kind, ("builtin", "sfm")),
        ("instrument", cfg.instrument, ("per_sample", "per_dataset")),
        ("pairing", cfg.pairing, PAIRINGS),
        ("sensor.normalise", cfg.sensor.normalise, ("pair", "image")),
        ("population", cfg.population, POPULATIONS),
        ("backend", cfg.backend, ("reference", "batched")),
    ):
        if value not in known:
            raise ValueError(f"{key}: {value!r} is not one of {list(known)}")
    ic, looks, bits = cfg.identities, cfg.active.speckle_looks, cfg.sensor.adc_bits
    for ok, problem in (
        (8 <= cfg.image_size <= 1024 and 1 <= cfg.render_scale <= 8, "image_size must be 8..1024, render_scale 1..8"),
        (cfg.samples >= 1 and ic.count >= 1, "samples and identities.count must be >= 1"),
        (0 <= 2 * ic.twin_pairs <= ic.count, "identities.twin_pairs: need 2 * twin_pairs <= identities.count"),
        (1 <= cfg.sites <= max(ic.count - ic.twin_pairs, 1), "sites: need 1 <= sites <= count - twin_pairs"),
        (0.5 <= cfg.face_model.grid_deg <= 5, "face_model.grid_deg: must lie in [0.5, 5] degrees"),
        (cfg.active.depth_slabs >= 1 and bool(looks) and min(looks) >= 1, "active.depth_slabs, speckle_looks >= 1"),
        (bool(bits) and min(bits) >= 4, "sensor.adc_bits: give bit depths >= 4"),
    ):
        if not ok:
            raise ValueError(problem)
    _check_weights(cfg.active.detector_weights, DETECTORS, "active.detector_weights")
    _check_weights(cfg.sensor.display_weights, DISPLAYS, "sensor.display_weights")
    _check_weights(cfg.concealment.weights, GARMENTS, "concealment.weights", split=True)
    for g in GARMENTS:
        gc: GarmentConfig = getattr(cfg.concealment, g)
        _check_weights(gc.fabric_weights, FABRICS, f"concealment.{g}.fabric_weights")
        if gc.layers[0] < 1:
            raise ValueError(f"concealment.{g}.layers: need at least one layer")


def sim_config_from_dict(data: dict | None, where: str = "sim") -> SimConfig:
    """Plain dict -> SimConfig; unknown keys, wrong types and bad values raise ConfigError."""
    try:
        return from_dict(SimConfig, data or {}, where)
    except ConfigError:
        raise
    except ValueError as e:  # nested __post_init__ errors surface as ValueError
        raise ConfigError(f"{where}: {e}") from e


sim_config_to_dict = to_dict  # SimConfig -> plain dict (YAML / JSON ready)
