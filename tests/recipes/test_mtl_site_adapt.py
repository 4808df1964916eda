"""Scanner adaptation in evaluation: cross-fitted halves of each site's people, merged back in row order, and
``thzface eval --adapt site`` end to end on the tiny world."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from thzface.data.csv import TripletRow
from thzface.data.naming import format_name
from thzface.recipes.mtl.site_adapt import halves, merge

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def rows(people: list[str], samples: int = 2) -> list[TripletRow]:
    out = []
    for p in people:
        other = next(q for q in people if q != p)
        for s in range(samples):
            a = format_name(p, 0, True, s)
            out.append(TripletRow(a, format_name(p, 0, False, s), format_name(other, 0, True, s)))
    return out


def test_halves_score_every_row_once_with_other_peoples_scans() -> None:
    people = ["p0", "p1", "p2", "p3", "p4"]
    rs = rows(people)
    sites = {"p0": "x", "p1": "x", "p2": "y", "p3": "y", "p4": "y"}
    parts = halves(rs, sites, seed=3)
    assert len(parts) == 4  # two per site
    scored = np.concatenate([s for s, _ in parts])
    assert sorted(scored.tolist()) == list(range(len(rs)))  # every row scored exactly once
    ids = np.array([r.anchor_name.identity for r in rs])
    for s, a in parts:
        assert len(a) and not set(ids[s]) & set(ids[a])  # nobody adapts the model that embeds them
        assert {sites[i] for i in ids[s]} == {sites[i] for i in ids[a]}  # ... and the scans are of their scanner
    assert [x.tolist() for x, _ in halves(rs, sites, seed=3)] == [x.tolist() for x, _ in parts]  # seeded


def test_a_site_of_one_person_is_refused() -> None:
    with pytest.raises(ValueError, match="site 'y': 1 person"):
        halves(rows(["p0", "p1", "p2"]), {"p0": "x", "p1": "x", "p2": "y"}, seed=0)


def test_the_cli_offers_the_engines_adapt_modes() -> None:
    from thzface.cli import build_parser
    from thzface.engine.evaluate import ADAPT_MODES

    (ev,) = [a for a in build_parser()._subparsers._group_actions[0].choices["eval"]._actions if a.dest == "adapt"]
    assert tuple(ev.choices) == ADAPT_MODES


def test_merge_restores_row_order() -> None:
    a = {"e": np.array([[2.0], [0.0]]), "n": ["c", "a"], "none": None}
    b = {"e": np.array([[1.0]]), "n": ["b"], "none": None}
    out = merge([a, b], np.array([2, 0, 1]))
    assert out["e"].ravel().tolist() == [0.0, 1.0, 2.0] and out["n"] == ["a", "b", "c"] and out["none"] is None


def test_eval_adapt_site_end_to_end(repo: Path, tiny_data: Path, tmp_path: Path) -> None:
    from thzface.engine.checkpoint import save_weights
    from thzface.models import build_model
    from thzface.recipes import get_recipe, load_config, recipe_of

    cfg = load_config(repo / "configs" / "mtl-tiny.yaml")
    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    save_weights(build_model(cfg.model).state_dict(), cfg, path)
    before = path.read_bytes()
    plain = recipe_of(path).evaluate(path, tiny_data, tmp_path / "plain")
    adapted = recipe_of(path).evaluate(path, tiny_data, tmp_path / "adapted", adapt="site")
    assert adapted["run"]["adapt"] == "site" and plain["run"]["adapt"] == "none"
    va, vp = (m["protocols"]["identity-disjoint"]["verification"] for m in (adapted, plain))
    assert va["pairs"] == vp["pairs"]  # the same pairs, other embeddings
    assert va["eer"] != vp["eer"] or va["roc_auc"] != vp["roc_auc"]
    assert path.read_bytes() == before  # the source is only read
    with pytest.raises(ValueError, match="expected one of"):
        recipe_of(path).evaluate(path, tiny_data, tmp_path / "y", adapt="Site")
    with pytest.raises(ValueError, match="does not embed"):
        get_recipe("inpaint").evaluate(path, tiny_data, tmp_path / "x", adapt="site")
