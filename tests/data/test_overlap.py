"""`thzface data overlap`: a planted shared person is found by geometry; pretraining and evaluation populations
never share a person for any seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thzface.cli import main
from thzface.data.overlap import folder_overlap, shared_people
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.presets import get_preset
from thzface.sim.records import write_identities


def _world(folder: Path, preset: str, seed: int, count: int) -> dict:
    cfg = get_preset(preset, [f"identities.count={count}", "identities.twin_pairs=1"])
    folder.mkdir(parents=True)
    write_identities(folder, make_identities(build_face_model(cfg.face_model), cfg, seed))
    return json.loads((folder / "identities.json").read_text())


def test_overlap_finds_a_planted_person_and_exits_1(tmp_path, capsys):
    a = _world(tmp_path / "a", "bench-20", 3, 6)
    b = _world(tmp_path / "b", "pretrain-500", 3, 6)
    assert main(["data", "overlap", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert capsys.readouterr().out == ""
    victim = sorted(a)[2]
    b["renamed-person"] = a[victim]  # the same person under another name
    (tmp_path / "b" / "identities.json").write_text(json.dumps(b))
    found = folder_overlap(tmp_path / "a", tmp_path / "b")
    assert [(s.a, s.b) for s in found] == [(victim, "renamed-person")] and found[0].distance == 0.0
    assert main(["data", "overlap", str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and victim in out[0] and "renamed-person" in out[0]


def test_twins_are_not_the_same_person_but_a_copy_is(tmp_path):
    a = _world(tmp_path / "a", "twins-20", 0, 4)
    shapes = {k: np.asarray(v["shape"]) for k, v in a.items()}
    assert shared_people(shapes, shapes) == [s for s in shared_people(shapes, shapes) if s.a == s.b]
    assert len(shared_people(shapes, shapes)) == len(shapes)  # each only with itself, twins apart


def test_overlap_bad_folder_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "identities.json").write_text("{not json")
    assert main(["data", "overlap", str(tmp_path / "x"), str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "identities.json" in err[0]


@pytest.mark.parametrize("preset", ["pretrain-500", "pretrain-2k"])
def test_pretraining_never_shares_a_person_with_evaluation(preset):
    """Seeds 0..24 of a pretraining preset against seeds 0..24 of every evaluation preset: nobody shared; the
    same check within one population finds the people it shares (the detector works)."""

    def shapes(name: str, seed: int, count: int) -> dict[str, np.ndarray]:
        cfg = get_preset(name, [f"identities.count={count}", "identities.twin_pairs=0", "sites=1"])
        ids = make_identities(build_face_model(cfg.face_model), cfg, seed)
        return {i.token: i.shape for i in ids}

    seeds = range(25)
    pre: dict[str, np.ndarray] = {}
    for s in seeds:
        pre |= shapes(preset, s, 60)
    ev: dict[str, np.ndarray] = {}
    for name in ("tiny", "demo", "bench-20", "twins-20", "eval-100"):
        for s in seeds:
            ev |= shapes(name, s, 20)
    assert shared_people(pre, ev) == []
    same_pop = shared_people(shapes("bench-20", 4, 20), shapes("demo", 4, 20))  # one population, one seed
    assert len(same_pop) == 20


def test_person_keys_are_injective_for_big_seeds():
    """numpy pads entropy with zeros and splits big ints into words: the keys are fixed-width so that no (seed,
    person) of one population lands on another's key (e.g. eval seed 5 + 2**32 vs pretrain seed 5)."""
    from thzface.sim.face_model import person_key

    keys = {
        tuple(np.random.SeedSequence(person_key(pop, seed, i)).generate_state(4))
        for pop in ("eval", "pretrain")
        for seed in (0, 5, 5 + 2**32, 2**32, 2**63)
        for i in (0, 1, 256, 2**32)
    }
    assert len(keys) == 2 * 5 * 4
    with pytest.raises(ValueError, match="seed"):
        person_key("eval", -1, 0)
