"""bench.twin: flattening of eval metrics into table rows and the mean over seeds (NaN / missing skipped)."""

from __future__ import annotations

from thzface.bench import format_table
from thzface.bench.twin import flatten, mean_over_seeds


def test_flatten_prefixes_protocols_and_reads_heldout_numbers():
    v = {
        "twin": {"eer": 0.3, "roc_auc": 0.7, "heldout": {"hter": 0.35}},
        "random": {"eer": 0.1, "roc_auc": 0.9, "heldout": {"hter": 0.12, "far_twin": 0.6, "frr": 0.1}},
    }
    m = {"protocols": {"identity-disjoint": {"boxes=given": v}, "closed-set": {"boxes=given": v}}}
    row = flatten(m, "boxes=given")
    assert row["idd_twin_eer"] == 0.3 and row["cs_random_roc_auc"] == 0.9
    assert row["idd_twin_heldout_hter"] == 0.35 and row["idd_twin_far@random_threshold"] == 0.6
    assert row["idd_frr@random_threshold"] == 0.1 and row["idd_twin_tar@far=0.1"] is None
    assert flatten(m, "boxes=predicted") == {}


def test_mean_over_seeds_skips_missing_and_nan():
    mean = mean_over_seeds([{"a": 1.0, "b": float("nan")}, {"a": 3.0, "b": None, "c": 2}])
    assert mean == {"a": 2.0, "b": None, "c": 2.0}
    table = format_table({"fused/given": mean}, ["a", "b"])
    assert "fused/given" in table and table.splitlines()[2].strip().endswith("-")


def test_systems_of_arms_keep_their_order_and_reject_unknown_names():
    import pytest

    from thzface.bench.twin import SYSTEMS, select_systems

    assert list(select_systems(None)) == list(SYSTEMS) == ["fused", "fused-mlp", "parts"]
    assert select_systems("parts,fused") == {"fused": [], "parts": ["model.global_kind=none"]}
    with pytest.raises(ValueError, match="unknown twin systems"):
        select_systems("global+mlp")
