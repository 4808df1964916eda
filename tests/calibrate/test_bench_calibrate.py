"""The calibrate benchmark's pure helpers: effective truth and the recovery table."""

from __future__ import annotations

from thzface.bench.calibrate import HIDDEN, effective_truth, recovery_table
from thzface.calibrate.params import PARAMS


def test_effective_truth_caps_the_dynamic_range_at_snr_plus_3() -> None:
    t = effective_truth({**HIDDEN, "snr_db": 15.0, "dynamic_range_db": 40.0})
    assert t["dynamic_range_db"] == 18.0 and t["snr_db"] == 15.0


def test_recovery_table_reports_error_in_sigmas_and_identification() -> None:
    truth = effective_truth(HIDDEN)
    params = {p.name: {"value": truth[p.name] + 0.5, "sigma": 0.25, "identified": True, "fitted": True} for p in PARAMS}
    params["row_gain_sigma"] = {"value": 0.0, "sigma": float("nan"), "identified": False, "fitted": False}
    table = recovery_table(truth, [{"display": "sqrt", "parameters": params}])
    snr = next(line for line in table.splitlines() if line.startswith("snr_db"))
    assert snr.split()[-2:] == ["2.00", "1/1"]
    assert "not fitted" in next(line for line in table.splitlines() if line.startswith("row_gain_sigma"))
    assert "seed0 sqrt (true sqrt)" in table
