"""identities.json, poses.npz and the per-site scanners of meta.json agree with what was rendered; visits vary
the person's changeable traits only; the Surrey skull scales on independent axes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from thzface.data.check import check_dataset
from thzface.data.naming import parse_name
from thzface.sim.face_model import build_face_model, make_identities, skin_field, visit_traits
from thzface.sim.presets import get_preset
from thzface.sim.records import PERSON_KEYS, read_poses
from thzface.sim.world import synthesize


def test_identities_json_and_poses_match_the_world(tiny_dataset):
    out, meta = tiny_dataset
    ids = json.loads((out / "identities.json").read_text())
    assert sorted(ids) == sorted(meta["identities"])
    for rec in ids.values():
        assert set(rec) == {"shape", "traits"} and rec["traits"]["site"] == 0
    poses = read_poses(out)
    assert check_dataset(out) == []  # the extra files do not trouble `thzface data check`
    assert sorted(poses) == sorted(p.name for p in (out / "thz").glob("*.png"))
    for aux in sorted((out / "aux").glob("*.npz")):
        with np.load(aux) as z:
            name = aux.stem + ".png"
            assert np.allclose(poses[name][:3], z["pose"], atol=1e-3)  # yaw, pitch, roll of the concealed scan
            prm = json.loads(str(z["params"]))
            unc = parse_name(name)
            n_name = f"{unc.identity}_n{unc.posture + 1}n_{unc.sample}.png"
            p_u = prm["pose_unconcealed"]
            assert np.allclose(poses[n_name], [p_u[k] for k in ("yaw", "pitch", "roll", "dx", "dy")], atol=1e-3)
            assert np.allclose(z["shape_coeffs"], ids[unc.identity]["shape"], atol=1e-6)


def test_sites_have_their_own_scanner_recorded_in_meta(tmp_path, fast):
    over = ["instrument=per_dataset", "sites=2", "identities.count=4", "identities.twin_pairs=0", "write_visible=false"]
    out = tmp_path / "w"
    meta = synthesize(get_preset("tiny", [*fast[:2], *over]), out, seed=2, workers=1, progress=False)
    sites = meta["sites"]
    assert [len(s["identities"]) for s in sites] == [2, 2] and sites[0]["system"] != sites[1]["system"]
    site_of = {t: r["traits"]["site"] for t, r in json.loads((out / "identities.json").read_text()).items()}
    for aux in sorted((out / "aux").glob("*.npz")):
        prm = json.loads(str(np.load(aux)["params"]))
        s = sites[site_of[prm["identity"]]]
        assert prm["identity"] in s["identities"] and prm["fov_mm"] == s["fov_mm"]
        assert {k: v for k, v in prm["system"].items() if k not in PERSON_KEYS} == s["system"]
        keep = lambda d: {k: v for k, v in d.items() if k != "dynamic_range_db"}  # noqa: E731 (capped per mode)
        assert keep(prm["sensor"]) == keep(s["sensor"])


def test_visits_vary_changeable_traits_and_keep_the_person(fast):
    cfg = get_preset("tiny", [*fast, "identities.glasses_prob=1.0"])
    model = build_face_model(cfg.face_model)
    a = make_identities(model, cfg, seed=1)[0]
    visits = [visit_traits(a.traits, cfg, np.random.default_rng(v)) for v in range(40)]
    fixed = ("skin_seed", "fd_skin", "hair_db_per_mm", "skull_width", "carriage_yaw", "site", "facial_hair")
    assert all(v[k] == a.traits[k] for v in visits for k in fixed)
    for k in ("water", "hair_mm", "beard_mm"):
        vals = np.array([v[k] for v in visits])
        assert vals.std() > 0 and abs(np.median(vals) / a.traits[k] - 1) < 0.15  # around the person's usual value
    worn = np.mean([v["glasses"] for v in visits])
    assert 0.4 < worn < 0.95  # an owner wears them on some visits
    sk = cfg.skin.regional_sigma, cfg.skin.regional_deg
    f = [skin_field(model.grid, v, *sk).ravel() for v in visits[:11]]  # one person, 11 visits
    others = [skin_field(model.grid, dict(v, skin_seed=k), *sk).ravel() for k, v in enumerate(visits[11:21])]
    between_visits = np.mean([np.corrcoef(f[i], f[i + 1])[0, 1] for i in range(10)])  # expected 1 - share = 0.5
    between_people = np.mean([np.corrcoef(f[i], o)[0, 1] for i, o in enumerate(others)])  # expected 0
    assert 0.3 < between_visits < 0.7 and abs(between_people) < 0.15
    frozen = get_preset("tiny", [*fast, "identities.visit_variation=0"])
    v0 = visit_traits(a.traits, frozen, np.random.default_rng(0))
    assert all(v0[k] == a.traits[k] for k in ("water", "hair_mm", "beard_mm", "glasses"))


def test_surrey_skull_scales_on_independent_axes(sfm_path):
    from thzface.sim.sfm import SurreyFaceModel, scale_radial

    m = SurreyFaceModel(str(sfm_path), grid_deg=3.0)
    r_skull, g = m._skull[0], m.grid
    size = lambda r: np.ptp((r[..., None] * g.dirs).reshape(-1, 3), axis=0)  # noqa: E731 (x, y, z) extent
    for axis in range(3):
        k = np.ones(3)
        k[axis] = 1.04
        want = np.ones(3)
        want[axis] = 1.04
        assert size(scale_radial(r_skull, g, k)) / size(r_skull) == pytest.approx(want, abs=0.005)
    shape, expr = np.zeros(m.n_shape), np.zeros(m.n_expr)
    base = {"hairline_mm": 60.0, "facial_hair": 0, "hair_mm": 5.0, "beard_mm": 0.0, "glasses": False}
    head = lambda **k: size(m.build(shape, expr, {**base, **k}).r)  # noqa: E731 whole head, face shell unscaled
    w0, wide, long_ = head(), head(skull_width=1.04), head(skull_length=1.04)
    assert wide[0] / w0[0] > 1.015 and wide[2] / w0[2] == pytest.approx(1.0, abs=0.01)
    assert long_[2] / w0[2] > 1.01 and long_[0] / w0[0] == pytest.approx(1.0, abs=0.01)


def test_pretraining_and_evaluation_worlds_of_one_seed_draw_different_scanners():
    from thzface.sim.records import site_scanners
    from thzface.sim.sample import INSTRUMENT_STREAM, site_key

    scanners = {}
    for pop in ("eval", "pretrain"):
        cfg = get_preset("pretrain-2k", [f"population={pop}", "identities.count=6", "sites=3"])
        scanners[pop] = site_scanners(cfg, 0, [])
    for ev, pt in zip(scanners["eval"], scanners["pretrain"], strict=True):
        assert ev["fov_mm"] != pt["fov_mm"]
        assert ev["system"]["standoff_mm"] != pt["system"]["standoff_mm"] and ev["sensor"] != pt["sensor"]
    ev_cfg = get_preset("pretrain-2k", ["population=eval"])
    assert site_key(ev_cfg, INSTRUMENT_STREAM, 5, 2) == [5, INSTRUMENT_STREAM, 2]  # evaluation worlds as before
    sites = [s["system"]["standoff_mm"] for s in scanners["pretrain"]]
    assert len(set(sites)) == len(sites)  # sites still differ within a world
