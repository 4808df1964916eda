"""Presets: every one loads, names its face model, round-trips through YAML, takes overrides."""

from __future__ import annotations

import pytest

from thzface.config import ConfigError
from thzface.sim.config import SimConfig, sim_config_from_dict, sim_config_to_dict
from thzface.sim.face_model import build_face_model
from thzface.sim.presets import PRESETS, get_preset, load_preset_file, preset_names, save_preset_file


def test_required_presets_exist_and_name_their_face_model():
    assert {"tiny", "demo", "bench-20", "twins-20", "pretrain-500", "sfm-20"} <= set(preset_names())
    for name in preset_names():
        cfg = get_preset(name)
        assert cfg.preset == name and "kind" in PRESETS[name]["face_model"]
    bench = get_preset("bench-20")
    assert (bench.identities.count, bench.samples, bench.image_size) == (20, 7, 64)
    assert get_preset("tiny").image_size == 32 and get_preset("tiny").identities.twin_pairs >= 1
    assert get_preset("pretrain-500").identities.count == 500
    assert get_preset("sfm-20").face_model.kind == "sfm"


@pytest.mark.parametrize("name", ["tiny", "twins-20", "sfm-20"])
def test_yaml_round_trip(tmp_path, name):
    cfg = get_preset(name)
    path = tmp_path / f"{name}.yaml"
    save_preset_file(cfg, path)
    assert load_preset_file(path) == cfg
    assert sim_config_from_dict(sim_config_to_dict(cfg)) == cfg


def test_overrides_and_errors(tmp_path):
    cfg = get_preset("demo", ["samples=2", "sensor.snr_db=[20, 30]", "concealment.weights={mask: 1}"])
    assert cfg.samples == 2 and cfg.sensor.snr_db == (20.0, 30.0) and cfg.concealment.weights == {"mask": 1}
    with pytest.raises(ConfigError, match="unknown key"):
        get_preset("demo", ["sensor.snr=3"])
    with pytest.raises(ConfigError, match="preset 'nope': unknown"):
        get_preset("nope")
    with pytest.raises(ConfigError, match="range low"):
        get_preset("demo", ["skin.water_fraction=[0.9, 0.5]"])
    with pytest.raises(ConfigError, match="twin_pairs"):
        get_preset("tiny", ["identities.twin_pairs=5"])
    with pytest.raises(ConfigError, match="bad entry 'cape'"):
        get_preset("tiny", ["concealment.weights={cape: 1}"])
    with pytest.raises(ConfigError, match="mode"):
        sim_config_from_dict({"mode": "radar"})
    path = tmp_path / "x.yaml"
    path.write_text("image_size: 32\nbogus: 1\n")
    with pytest.raises(ConfigError, match=r"x\.yaml: unknown key\(s\) \['bogus'\]"):
        load_preset_file(path)
    assert SimConfig().face_model.kind == "builtin"


def test_sfm_preset_without_file_fails_with_the_path(tmp_path, monkeypatch):
    monkeypatch.delenv("THZFACE_SFM_PATH", raising=False)
    missing = tmp_path / "sfm.npz"
    cfg = get_preset("sfm-20", [f"face_model.path={missing}"])
    with pytest.raises(ConfigError, match=f"face_model.path: Surrey Face Model file not found: {missing}"):
        build_face_model(cfg.face_model)


def test_populations_sites_and_geometry_of_the_presets():
    evaluation = ("tiny", "demo", "bench-20", "twins-20", "sfm-20", "eval-100")
    assert all(get_preset(n).population == "eval" for n in evaluation)
    bench = get_preset("bench-20")
    for name in ("pretrain-500", "pretrain-2k"):
        cfg = get_preset(name)
        assert cfg.population == "pretrain" and cfg.sites > 1 and cfg.instrument == "per_dataset"
        assert (cfg.render_scale, cfg.face_model.grid_deg) == (bench.render_scale, bench.face_model.grid_deg)
    ev = get_preset("eval-100")
    assert (ev.identities.count, ev.samples, ev.write_visible, ev.instrument) == (100, 2, False, "per_dataset")
    assert SimConfig().population == "eval" and SimConfig().sites == 1  # preset files default to evaluation
    with pytest.raises(ConfigError, match="sites"):
        get_preset("tiny", ["sites=9"])  # 8 base people
    with pytest.raises(ConfigError, match="population"):
        get_preset("tiny", ["population=train"])
