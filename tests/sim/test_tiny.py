"""The shipped `tiny` preset gives every tiny recipe config enough people at every seed: the mixed split the
synth writes, then each config's identity validation split (its val_identities and training batch's P)."""

from __future__ import annotations

import pytest

from thzface.data.identity_split import identity_validation
from thzface.data.naming import NUM_POSTURES, format_name
from thzface.data.split import make_split
from thzface.engine.datamodule import pk_shape, val_identity_count
from thzface.recipes import load_config
from thzface.sim.face_model import build_face_model, make_identities
from thzface.sim.presets import get_preset

CONFIGS = ("mtl-tiny", "distill-tiny", "twin-tiny", "inpaint-tiny", "unmask3d-tiny")


@pytest.mark.parametrize("seed", range(21))
def test_tiny_world_splits_for_every_tiny_config(seed):
    cfg = get_preset("tiny")
    ids = make_identities(build_face_model(cfg.face_model), cfg, seed)
    twins = {i.token: i.twin for i in ids if i.twin}
    names = [
        format_name(i.token, p, c, k)
        for i in ids
        for p in range(NUM_POSTURES)
        for k in range(1, cfg.samples + 1)
        for c in (True, False)
    ]
    train, _ = make_split(names, "mixed", seed, twins=twins)  # as `thzface synth` writes train_val.csv
    for name in CONFIGS:
        c = load_config(name)
        min_train = pk_shape(c)[0] if c.train.sampler in ("pk", "joint") else 2
        split, rows, val = identity_validation(train, val_identity_count(c.data.val_identities), c.train.seed,
                                               twins, min_train)  # fmt: skip
        assert len(split.train) >= min_train and len(split.val) >= 2 and rows and val, name
