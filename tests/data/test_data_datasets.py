"""TripletDataset samples, visible flags, masks, clean targets; make_pairs; identity_list."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from thzface.data.csv import TripletRow
from thzface.data.datasets import TripletDataset, identity_list, make_pairs

ROWS = [
    TripletRow("ida_b1b_0.png", "ida_n1n_0.png", "idb_b2b_1.png", "ida_b1b_0.png", "ida_n1n_0.png", "idb_b2b_1.png"),
    TripletRow("idc_b3b_2.png", "idc_n3n_2.png", "ida_b3b_0.png", "idc_b3b_2.png", None, None),
    TripletRow("idd_b5b_1.png", "idd_n5n_1.png", "idc_b5b_0.png"),
]


def test_triplet_sample_keys_shapes(make_ds) -> None:
    root = make_ds(visible=True)
    ids = identity_list(ROWS)
    assert ids == ["ida", "idb", "idc", "idd"]
    ds = TripletDataset(root, ROWS, 16, ids, use_visible=True)
    s = ds[0]
    images = ("anchor", "positive", "target", "negative", "garment_mask")
    for key in images + ("vis_concealed", "vis_unconcealed", "vis_negative"):
        assert s[key].shape == (1, 16, 16) and s[key].dtype == torch.float32, key
    assert (s["identity"].item(), s["neg_identity"].item()) == (0, 1)
    assert (s["posture"].item(), s["neg_posture"].item()) == (0, 1)
    assert s["names"] == "ida_b1b_0.png" and not s["has_mask"]
    assert s["vis_present"].tolist() == [True, True, True]
    assert s["vis_concealed"].abs().sum() > 0
    s1 = ds[1]
    assert s1["vis_present"].tolist() == [True, False, False]
    assert s1["vis_unconcealed"].abs().sum() == 0 and s1["vis_negative"].abs().sum() == 0
    assert ds[2]["vis_present"].tolist() == [False, False, False]
    batch = next(iter(DataLoader(ds, batch_size=3)))
    assert batch["anchor"].shape == (3, 1, 16, 16) and batch["vis_present"].shape == (3, 3)
    assert batch["names"] == [r.anchor for r in ROWS]
    assert "vis_concealed" not in TripletDataset(root, ROWS, 16, ids)[0]


def test_mask_and_clean_target(make_ds) -> None:
    root = make_ds(size=32)
    (root / "aux").mkdir()
    mask = np.zeros((32, 32), np.uint8)
    mask[16:] = 1
    np.savez(root / "aux" / "ida_b1b_0.npz", garment_mask=mask)
    (root / "clean").mkdir()
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(root / "clean" / "ida_n1n_0.png")
    ds = TripletDataset(root, ROWS, 16, identity_list(ROWS), target="clean")
    s = ds[0]
    assert s["has_mask"] and s["garment_mask"][0, 8:].min() == 1 and s["garment_mask"][0, :8].max() == 0
    assert s["target"].min() == 1.0 and not torch.equal(s["target"], s["positive"])
    s2 = ds[2]  # no clean file and no aux file for this row → fall back to positive, zero mask
    assert torch.equal(s2["target"], s2["positive"]) and not s2["has_mask"] and s2["garment_mask"].sum() == 0
    plain = TripletDataset(root, ROWS, 16, identity_list(ROWS))[0]
    assert torch.equal(plain["target"], plain["positive"])


def test_triplet_errors(make_ds) -> None:
    root = make_ds()
    with pytest.raises(ValueError, match=r"idd_b5b_1\.png: identity 'idd' is not in the identities list"):
        TripletDataset(root, ROWS, 16, ["ida", "idb", "idc"])
    with pytest.raises(ValueError, match=r"target='noisy'"):
        TripletDataset(root, ROWS, 16, identity_list(ROWS), target="noisy")


def test_make_pairs_all_and_limited() -> None:
    labels = ["a"] * 3 + ["b"] * 4 + ["c"] * 2
    pairs, genuine = make_pairs(labels, np.random.default_rng(0))
    n_gen = comb(3, 2) + comb(4, 2) + comb(2, 2)
    assert genuine.sum() == n_gen and len(pairs) == comb(9, 2)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    lab = np.array(labels)
    assert (lab[pairs[genuine, 0]] == lab[pairs[genuine, 1]]).all()
    assert (lab[pairs[~genuine, 0]] != lab[pairs[~genuine, 1]]).all()
    p5, g5 = make_pairs(labels, np.random.default_rng(1), max_impostors=5)
    assert g5.sum() == n_gen and (~g5).sum() == 5
    assert len({tuple(p) for p in p5}) == len(p5)
    assert (lab[p5[~g5, 0]] != lab[p5[~g5, 1]]).all()
    again, _ = make_pairs(labels, np.random.default_rng(1), max_impostors=5)
    np.testing.assert_array_equal(p5, again)
    with pytest.raises(ValueError, match="need at least 2 items"):
        make_pairs(["a"], np.random.default_rng(0))
