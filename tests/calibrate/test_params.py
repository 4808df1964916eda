"""Parameter transforms and how fitted values enter a SimConfig."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.calibrate.params import PARAMS, apply_params, base_values
from thzface.sim.presets import get_preset


@pytest.mark.parametrize("p", PARAMS, ids=lambda p: p.name)
def test_transform_round_trip_and_bounds(p) -> None:
    for x in np.linspace(p.lo, p.hi, 7)[1:-1]:
        assert p.from_u(p.to_u(x)) == pytest.approx(x, rel=1e-9, abs=1e-12)
    assert p.from_u(p.to_u(p.hi) + 10 * p.step) == p.hi  # clamped to the search range


def test_apply_params_narrows_ranges_and_keeps_the_rest() -> None:
    base = get_preset("tiny")
    vals = {"snr_db": 22.0, "psf_fwhm_mm": 7.0, "lobe_deg": 3.0, "fabric_loss_scale": 2.0, "diffuse_skin": 0.2}
    cfg = apply_params(base, vals, "db", half={"snr_db": 1.0}, image_size=48)
    assert cfg.sensor.snr_db == (21.0, 23.0)
    assert cfg.active.psf_fwhm_mm == (7.0, 7.0)
    assert cfg.sensor.display_weights == {"db": 1.0}
    assert cfg.image_size == 48 and cfg.identities == base.identities
    assert cfg.sensor.row_gain_sigma == base.sensor.row_gain_sigma  # not given: base range kept
    assert cfg.fabrics.wool_knit.tan_delta == pytest.approx(tuple(2 * t for t in base.fabrics.wool_knit.tan_delta))
    assert cfg.instrument == base.instrument  # kept unless asked
    assert apply_params(get_preset("demo"), vals, "db", instrument="per_sample").instrument == "per_sample"


def test_base_values_are_range_midpoints() -> None:
    base = get_preset("tiny")
    b = base_values(base)
    assert b["snr_db"] == pytest.approx(np.mean(base.sensor.snr_db))
    assert b["fabric_loss_scale"] == 1.0
    assert set(b) == {p.name for p in PARAMS}


def test_apply_params_rejects_unknown_names_and_displays() -> None:
    base = get_preset("tiny")
    with pytest.raises(ValueError, match="unknown parameters"):
        apply_params(base, {"gain": 1.0}, "db")
    with pytest.raises(ValueError, match="display"):
        apply_params(base, {}, "log")
