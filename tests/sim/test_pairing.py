"""Pairing modes, person-bound traits, one field of view per scanner, names unique per (preset, seed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from thzface.sim.face_model import build_face_model, make_identities, skin_field
from thzface.sim.presets import get_preset
from thzface.sim.probes import sample_probes
from thzface.sim.sample import identity_maps, simulate_sample

# a transparent surgical mask: the copy baseline then only measures what the two scans share
CLEAR = [
    "concealment.weights={mask: 1.0}",
    "concealment.mask.fabric_weights={nonwoven: 1.0}",
    "fabrics.nonwoven.tan_delta=[0.0001, 0.0001]",
    "fabrics.nonwoven.scatter_db=[-90.0, -90.0]",
    "sensor.snr_db=[15.0, 15.0]",
]


def _samples(pairing: str, fast: list[str], extra: list[str] = (), n: int = 4) -> list:
    cfg = get_preset("tiny", fast + [f"pairing={pairing}", *extra])
    model = build_face_model(cfg.face_model)
    ident = make_identities(model, cfg, seed=0)[0]
    return [simulate_sample(cfg, model, ident, 0, 0, i) for i in range(n)]


def _copy_ssim(outs: list) -> float:
    return float(
        np.mean(
            [sample_probes(o.thz_concealed, o.thz_unconcealed, o.clean, o.head)["copy_ssim_scan_head"] for o in outs]
        )
    )


def test_pairing_modes_share_only_what_they_should(fast):
    runs = {p: _samples(p, fast, CLEAR) for p in ("shared", "independent-noise", "independent-capture")}
    for p, outs in runs.items():  # the concealed scan and the clean target never depend on the pairing
        for a, b in zip(outs, runs["shared"], strict=True):
            assert np.array_equal(a.thz_concealed, b.thz_concealed) and np.array_equal(a.clean, b.clean), p
    for p in ("independent-noise", "independent-capture"):
        pairs = zip(runs[p], runs["shared"], strict=True)
        assert not any(np.array_equal(a.thz_unconcealed, b.thz_unconcealed) for a, b in pairs)
    pose = {p: [json.loads(str(o.aux["params"])) for o in outs] for p, outs in runs.items()}
    assert all(q["pose"] == q["pose_unconcealed"] for p in ("shared", "independent-noise") for q in pose[p])
    assert all(q["pose"] != q["pose_unconcealed"] for q in pose["independent-capture"])  # steps back in
    boxes = {p: [(o.aux["part_boxes"], o.aux["part_boxes_unconcealed"]) for o in outs] for p, outs in runs.items()}
    assert all(np.array_equal(a, b) for a, b in boxes["shared"])
    assert not any(np.array_equal(a, b) for a, b in boxes["independent-capture"])
    shared, noise, capture = (_copy_ssim(runs[p]) for p in ("shared", "independent-noise", "independent-capture"))
    assert shared > 0.85  # one sensor draw: copying the input nearly reproduces the target (the old world)
    assert noise < shared - 0.1 and capture < shared - 0.1


def test_clean_target_is_noise_free_at_the_concealed_pose(fast):
    (o,) = _samples("independent-capture", fast, CLEAR, n=1)
    # the clean target sits where the concealed head is; the unconcealed capture is elsewhere
    assert (o.clean[o.head] > 0).mean() > (o.clean[~o.head] > 0).mean()
    assert o.clean.shape == o.thz_concealed.shape and o.head.shape == o.clean.shape


def test_traits_constant_per_identity_and_one_fov(fast):
    over = ["instrument=per_sample", "identities.glasses_prob=1.0", "identities.visit_variation=0"]  # frozen visits
    cfg = get_preset("tiny", fast + over)
    model = build_face_model(cfg.face_model)
    ids = make_identities(model, cfg, seed=3)
    a, b = ids[0], ids[2]
    skull = ("skull_width", "skull_height", "skull_length")
    keys = {"water", "fd_skin", "fd_hair", "skin_seed", "hair_db_per_mm", "glasses", "carriage_yaw", "site", *skull}
    assert keys <= set(a.traits) and a.traits != b.traits
    sd = cfg.identities.skull_scale_sd
    assert all(1 - sd <= i.traits[k] <= 1 + sd for i in ids for k in skull)  # within +-1 SD
    assert len({a.traits[k] for k in skull}) == 3  # independent width, height and length factors
    outs = [simulate_sample(cfg, model, a, p, 3, i) for p, i in ((0, 0), (2, 7))]
    prm = [json.loads(str(o.aux["params"])) for o in outs]
    for k in ("water", "fd_skin", "fd_hair"):
        assert prm[0]["system"][k] == prm[1]["system"][k] == a.traits[k]
    assert prm[0]["system"]["standoff_mm"] != prm[1]["system"]["standoff_mm"]  # the scanner varies per sample
    assert prm[0]["fov_mm"] == prm[1]["fov_mm"]  # but the field of view is the scanner's, not the sample's
    surfs = [model.build(a.shape, model.sample_expression(np.random.default_rng(s), 0.2), a.traits) for s in (0, 1)]
    m0, m1 = identity_maps(cfg, surfs[0], a.traits), identity_maps(cfg, surfs[1], a.traits)
    assert (surfs[0].glasses == 2).any()  # metal frames on every face here
    same = np.corrcoef(m0[0].ravel(), m1[0].ravel())[0, 1]  # only the expression changed
    sk = cfg.skin.regional_sigma, cfg.skin.regional_deg
    mine, other = skin_field(model.grid, a.traits, *sk), skin_field(model.grid, b.traits, *sk)  # another person's
    assert same > 0.9 and abs(np.corrcoef(mine.ravel(), other.ravel())[0, 1]) < 0.5


def test_identity_names_unique_per_preset_and_seed():
    names = set()
    for preset in ("tiny", "bench-20"):
        for seed in (0, 1):
            cfg = get_preset(preset, ["face_model.grid_deg=4", "identities.count=3", "identities.twin_pairs=1"])
            tokens = {i.token for i in make_identities(build_face_model(cfg.face_model), cfg, seed)}
            assert len(tokens) == 3 and not tokens & names
            names |= tokens


def test_bad_pairing_is_one_line_error():
    with pytest.raises(Exception, match="pairing"):
        get_preset("tiny", ["pairing=mixed"])
