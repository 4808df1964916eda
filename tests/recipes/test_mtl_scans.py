"""The several-scans table: disjoint probe and gallery halves per person, K scans fused a side, fewer errors."""

from __future__ import annotations

import numpy as np

from thzface.recipes.mtl.verification import by_scans


def _collected(n_ids: int = 12, per_id: int = 10, sep: float = 0.35, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_ids, 32))
    ids = np.repeat(np.arange(n_ids), per_id)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    return {
        "identity": ids.astype(str),
        "emb_a": unit(centres[ids] * sep + rng.normal(size=(len(ids), 32))),
        "emb_p": unit(centres[ids] * sep + rng.normal(size=(len(ids), 32))),
    }


def test_by_scans_rows_and_fusion_helps() -> None:
    c = _collected()
    t = by_scans(c, np.arange(len(c["identity"])))
    assert list(t) == ["1", "2", "3", "5"]  # 10 captures a person: halves of 5
    assert t["1"]["genuine"] == 12 * 5 * 5 and t["5"]["genuine"] == 12 and t["5"]["identities"] == 12
    assert t["5"]["eer"] < t["1"]["eer"] / 2
    assert by_scans(c, np.arange(len(c["identity"])), seed=0) == t  # seeded


def test_by_scans_stops_where_no_person_has_k_captures_a_half() -> None:
    c = _collected(per_id=4)
    assert list(by_scans(c, np.arange(len(c["identity"])))) == ["1", "2"]
