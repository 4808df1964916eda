"""The dataset writer: layout, aux keys, meta, statistics, determinism across worker counts, folder safety."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from thzface.data.naming import parse_name
from thzface.sim.presets import get_preset
from thzface.sim.stats import dataset_statistics
from thzface.sim.world import DatasetFolderError, synthesize

AUX = {
    "depth": np.float32,
    "face_mask": np.uint8,
    "garment_mask": np.uint8,
    "labels": np.uint8,
    "landmarks": np.float32,
    "landmarks_visible": np.bool_,
    "part_boxes": np.float32,
    "shape_coeffs": np.float32,
    "expr_coeffs": np.float32,
    "pose": np.float32,
}


def test_layout_and_meta(tiny_dataset):
    out, meta = tiny_dataset
    ids = ["tiny-s5-000", "tiny-s5-000t", "tiny-s5-001"]  # names unique per (preset, seed)
    assert meta["identities"] == ids and meta["twins"] == {ids[0]: ids[1], ids[1]: ids[0]}
    assert meta["generator"] == "thzface.sim" and meta["image_size"] == 32 and meta["seed"] == 5
    assert json.loads((out / "meta.json").read_text()) == meta
    thz = sorted(p.name for p in (out / "thz").glob("*.png"))
    assert len(thz) == 3 * 5 * 2 and all(parse_name(n) for n in thz)
    assert sorted(p.name for p in (out / "visible").glob("*.png")) == thz
    clean = sorted(p.name for p in (out / "clean").glob("*.png"))
    assert clean == [n for n in thz if not parse_name(n).concealed]
    assert len(list((out / "aux").glob("*.npz"))) == 15 and (out / "contact_sheet.png").is_file()
    with Image.open(out / "thz" / "tiny-s5-000_b1b_1.png") as im:
        assert im.mode == "L" and im.size == (32, 32)
    with Image.open(out / "visible" / "tiny-s5-000_b1b_1.png") as im:
        assert im.mode == "RGB"
    assert not list(out.rglob("*.tmp"))


def test_aux_contents(tiny_dataset):
    out, meta = tiny_dataset
    with np.load(out / "aux" / "tiny-s5-001_b4b_1.npz") as z:
        for k, dt in AUX.items():
            assert z[k].dtype == dt, k
        assert z["depth"].shape == z["labels"].shape == (32, 32)
        assert z["landmarks"].shape == (68, 2) and z["part_boxes"].shape == (5, 4)
        assert z["shape_coeffs"].shape == (meta["face_model"]["n_shape"],)
        assert z["garment_mask"].sum() > 0 and (z["garment_mask"] <= z["face_mask"]).all()
        assert 8 <= z["pose"][1] <= 33  # posture 4 (up): positive pitch
        params = json.loads(str(z["params"]))
        assert params["identity"] == "tiny-s5-001" and params["posture"] == 3 and params["garments"]
        depth = z["depth"][z["face_mask"] > 0]
        assert 700 < depth.min() and depth.max() < 1700  # range from the sensor, mm
        assert (
            (z["part_boxes"][:, 2] >= z["part_boxes"][:, 0]) & (z["part_boxes"][:, 3] >= z["part_boxes"][:, 1])
        ).all()


def test_meta_statistics_equal_dataset_statistics(tiny_dataset):
    out, meta = tiny_dataset
    st = dataset_statistics(out)
    st.pop("skipped")
    assert st == meta["statistics"]
    assert 0 < st["all"]["sparsity_10"]["mean"] < 1


def test_workers_give_byte_identical_files(tiny_dataset, tmp_path, fast):
    ref, _ = tiny_dataset
    out = tmp_path / "w2"
    synthesize(get_preset("tiny", fast), out, seed=5, workers=2, progress=False)
    files = sorted(p.relative_to(ref) for p in ref.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    for f in files:
        assert (ref / f).read_bytes() == (out / f).read_bytes(), f


def test_folder_safety(tmp_path, fast):
    cfg = get_preset("tiny", fast + ["identities.count=1", "identities.twin_pairs=0", "contact_sheet=false"])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.txt").write_text("keep me")
    with pytest.raises(DatasetFolderError, match="not empty and holds no thzface.sim dataset"):
        synthesize(cfg, busy, progress=False)
    assert (busy / "thesis.txt").read_text() == "keep me"
    out = tmp_path / "ds"
    synthesize(cfg, out, seed=1, progress=False)
    (out / "train_val.csv").write_text("stale")
    synthesize(cfg, out, seed=2, progress=False)  # a previous dataset may be overwritten
    assert not (out / "train_val.csv").exists() and len(list((out / "thz").glob("*.png"))) == 10
    with pytest.raises(ValueError, match="workers"):
        synthesize(cfg, tmp_path / "x", workers=0)


def test_instrument_per_dataset_fixes_the_scanner_not_the_noise(fast):
    from thzface.sim.face_model import build_face_model, make_identities
    from thzface.sim.sample import simulate_sample

    params = {}
    for inst in ("per_sample", "per_dataset"):
        cfg = get_preset("tiny", fast + [f"instrument={inst}"])
        model = build_face_model(cfg.face_model)
        ident = make_identities(model, cfg, seed=0)[0]
        outs = [simulate_sample(cfg, model, ident, 0, 0, i) for i in (0, 1)]
        params[inst] = [json.loads(str(o.aux["params"])) for o in outs]
        if inst == "per_dataset":
            assert not np.array_equal(outs[0].thz_unconcealed, outs[1].thz_unconcealed)
    fixed, free = params["per_dataset"], params["per_sample"]
    keys = ("standoff_mm", "aperture_mm", "w0_mm", "detector", "coherent")
    assert all(fixed[0]["system"][k] == fixed[1]["system"][k] for k in keys)
    assert fixed[0]["sensor"] == fixed[1]["sensor"] and fixed[0]["fov_mm"] == fixed[1]["fov_mm"]
    assert fixed[0]["system"]["fd_skin"] == fixed[1]["system"]["fd_skin"] == ident.traits["fd_skin"]  # the person's
    assert all(abs(f["system"]["water"] - ident.traits["water"]) < 0.15 for f in fixed)  # wetness varies per visit
    assert free[0]["system"]["standoff_mm"] != free[1]["system"]["standoff_mm"]
    assert free[0]["fov_mm"] == free[1]["fov_mm"]  # one field of view per scanner, even per_sample


def test_one_instrument_draw_gives_each_scan_its_own_stripe_and_noise_realisation():
    from thzface.sim.sensor import draw_sensor

    cfg = get_preset("tiny").sensor
    draws = [
        draw_sensor(cfg, 32, 5.0, False, np.random.default_rng(7), np.random.default_rng(i)) for i in (0, 1)
    ]  # the same instrument generator state (per_dataset), two scans
    assert draws[0].row_gain_sigma == draws[1].row_gain_sigma and draws[0].ar_rho == draws[1].ar_rho
    for field in ("gain", "offset", "noise"):
        assert not np.allclose(draws[0].fields[field], draws[1].fields[field]), field
