"""End to end on the tiny simulated folder: calibrate -> preset round trip -> synth --preset-file -> compare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thzface.calibrate import calibrate, compare
from thzface.calibrate.fit import FitResult, FitSettings
from thzface.calibrate.params import PARAMS, base_values
from thzface.calibrate.preset import preset_from_fit, write_preset
from thzface.sim.presets import get_preset, load_preset_file

TINY_FIT = FitSettings(n_sim=2, n_select=1, n_jacobian=1, iterations=1, n_boot=4, seed=0)


def _fake_fit(base, identified: bool) -> FitResult:
    vals = base_values(base)
    vals.update(snr_db=21.0, psf_fwhm_mm=6.0, fabric_loss_scale=1.5)
    names = [p.name for p in PARAMS]
    return FitResult(
        display="sqrt", values=vals, sigma={k: 0.1 * abs(vals[k]) + 1e-4 for k in names},
        interval={k: (0.0, 1.0) for k in names}, identified={k: identified for k in names}, fitted=names,
        real_features={}, sim_features={}, feature_sd={}, display_scores={}, cost=0.0, simulations=0, seconds=0.0,
    )  # fmt: skip


def test_preset_round_trip_narrows_identified_parameters_only(tmp_path: Path) -> None:
    base = get_preset("tiny")
    cfg = write_preset(preset_from_fit(base, _fake_fit(base, True), 32), tmp_path / "p.yaml")
    assert load_preset_file(tmp_path / "p.yaml") == cfg
    assert cfg.sensor.snr_db == pytest.approx((18.9, 23.1), abs=1e-3)
    assert cfg.sensor.display_weights == {"sqrt": 1.0} and cfg.preset == "calibrated"
    kept = preset_from_fit(base, _fake_fit(base, False), 32)
    assert kept.sensor.snr_db == base.sensor.snr_db and kept.active == base.active
    assert kept.sensor.display_weights == {"sqrt": 1.0}  # the display map is always written


def test_calibrate_synth_and_compare_end_to_end(tiny_data: Path, tmp_path: Path) -> None:
    from thzface.sim.dataset import synth

    out = tmp_path / "scanner.yaml"
    res = calibrate(tiny_data, out, seed=0, base="tiny", settings=TINY_FIT, n_stats=2)
    assert out.is_file() and (tmp_path / "scanner.compare.png").stat().st_size > 1000
    report = json.loads((tmp_path / "scanner.calibration.json").read_text())
    assert report["display"] in ("linear", "sqrt", "db") and report["images"] == 180
    for p in PARAMS:
        entry = report["parameters"][p.name]
        assert p.lo <= entry["value"] <= p.hi
    assert "identified" in res["table"] and "sparsity_10" in res["table"]
    cfg = load_preset_file(out)
    assert cfg.image_size == 32 and cfg.sensor.display_weights == {report["display"]: 1.0}
    sim = tmp_path / "sim"
    synth(None, sim, seed=1, workers=1, overrides=["identities.count=4", "identities.twin_pairs=0", "samples=1"],
          preset_file=str(out), progress=False)  # fmt: skip
    assert len(list((sim / "thz").glob("*.png"))) == 40
    cmp_ = compare(tiny_data, sim, tmp_path / "cmp.png")
    assert (tmp_path / "cmp.png").stat().st_size > 1000
    assert set(cmp_["effect_size"]) >= {"sparsity_10", "row_mean_var", "row_acf1"}
    assert np.isfinite(cmp_["mean_abs_effect_size"])


def test_compare_of_a_folder_with_itself_is_zero(tiny_data: Path) -> None:
    res = compare(tiny_data, tiny_data)
    assert res["mean_abs_effect_size"] == pytest.approx(0.0, abs=1e-12)
    assert "mean |d|" in res["table"]
