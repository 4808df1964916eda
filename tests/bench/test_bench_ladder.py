"""bench ladder's rungs: each derived folder holds the stage of image formation it names, in every slot, and the
pose-fixed world renders the same people at one angle per posture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thzface.bench import ladder as L
from thzface.data.naming import parse_name


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from thzface.sim.dataset import synth

    out = tmp_path_factory.mktemp("ladder") / "world"
    synth("tiny", out, seed=5, workers=1, overrides=["identities.count=5", "samples=1"], progress=False)
    return out


def test_derived_rungs_fill_every_slot_with_their_stage(world: Path, tmp_path: Path) -> None:
    clean = L.derived_rung(world, "clean", tmp_path / "b")
    unconc = L.derived_rung(world, "unconcealed", tmp_path / "c")
    names = sorted(p.name for p in (world / "thz").glob("*.png"))
    assert sorted(p.name for p in (clean / "thz").glob("*.png")) == names
    for n in names:
        un = parse_name(n).counterpart() if parse_name(n).concealed else parse_name(n)
        assert (clean / "thz" / n).read_bytes() == (world / "clean" / un.filename).read_bytes()
        assert (unconc / "thz" / n).read_bytes() == (world / "thz" / un.filename).read_bytes()
    assert (clean / "test.csv").read_text() == (world / "test.csv").read_text()  # the same split, the same people
    assert L.derived_rung(world, "concealed", tmp_path / "d") == world
    with pytest.raises(ValueError, match="unknown derived rung"):
        L.derived_rung(world, "nope", tmp_path / "e")


def test_pose_fixed_world_has_one_angle_per_posture_and_the_same_people(world: Path, tmp_path: Path) -> None:
    rung = L.pose_fixed_world(world, tmp_path / "a", workers=1)
    raw = tmp_path / "a" / "world"
    expected = {
        1: (0.0, 0.0),
        2: (30.0, 0.0),
        3: (-30.0, 0.0),
        4: (0.0, 20.0),
        5: (0.0, -20.0),
    }  # front left right up down
    for f in sorted((raw / "aux").glob("*.npz")):
        name = parse_name(f.stem + ".png")
        yaw, pitch, roll = np.load(f)["pose"]
        assert (yaw, pitch) == pytest.approx(expected[name.posture_code], abs=1e-4) and roll == pytest.approx(0.0)
        shape = np.load(f)["shape_coeffs"]
        np.testing.assert_array_equal(shape, np.load(world / "aux" / f.name)["shape_coeffs"])  # same person
    assert sorted(p.name for p in (rung / "thz").glob("*.png")) == sorted(p.name for p in (raw / "thz").glob("*.png"))
