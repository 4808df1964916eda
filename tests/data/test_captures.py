"""CaptureBank / PKJointBatches: labels, uint8 cache, P×K structure, positives never the same image, seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from thzface.data.augment import build_augment
from thzface.data.captures import CaptureBank, aux_region, capture_labels, clean_folder
from thzface.data.io import load_image, save_png_atomic
from thzface.data.joint import PKJointBatches
from thzface.data.naming import MIRRORED_POSTURE, format_name

IDS = ("ida", "idb", "idc", "idd")


def test_capture_labels_are_contiguous_sorted_identity_indices() -> None:
    names = [format_name("zed", 0, True, 0), format_name("amy", 1, True, 0), format_name("zed", 2, True, 1)]
    labels, classes = capture_labels(names)
    assert classes == ("amy", "zed") and labels.tolist() == [1, 0, 1]
    labels, classes = capture_labels(names, classes=["zed", "bob", "amy"])
    assert labels.tolist() == [0, 2, 0] and classes == ("zed", "bob", "amy")
    with pytest.raises(ValueError, match=r"identities \['zed'\] are not among the 1 classes"):
        capture_labels(names, classes=["amy"])


@pytest.fixture
def bank(make_ds) -> CaptureBank:
    root = make_ds(identities=IDS, postures=2, samples=2, size=16)
    clean = root / "clean"
    for i in IDS[:2]:  # clean targets for two identities only
        for p in range(2):
            for k in range(2):
                save_png_atomic(np.full((16, 16), 0.5), clean / format_name(i, p, False, k))
    (root / "aux").mkdir()
    head = np.zeros((32, 32), np.uint8)
    head[8:24, 4:12] = 1  # at twice the image size: resized (nearest) to rows 4:12, columns 2:6
    np.savez(root / "aux" / "ida_b1b_0.npz", face_mask=head)
    names = [format_name(i, p, True, k) for i in IDS for p in range(2) for k in range(2)]
    return CaptureBank.from_names(root, names, 16, clean=clean_folder(root), region=aux_region(root))


def test_bank_caches_uint8_images_with_targets_and_labels(bank: CaptureBank, make_ds) -> None:
    assert len(bank) == 16 and bank.thz.dtype == torch.uint8 and bank.thz.shape == (16, 1, 16, 16)
    assert bank.classes == IDS and bank.identity.tolist() == [i for i in range(4) for _ in range(4)]
    assert bank.posture.tolist() == [0, 0, 1, 1] * 4
    assert bank.has_clean.tolist() == [True] * 8 + [False] * 8
    b = bank.batch(torch.tensor([0, 9]))
    assert torch.allclose(b["clean"][0], torch.full((1, 16, 16), 128 / 255))
    assert float(b["clean"][1].abs().sum()) == 0.0
    assert not torch.equal(b["thz"], b["target"])  # concealed input vs unconcealed target
    want = torch.zeros(1, 16, 16, dtype=torch.bool)
    want[:, 4:12, 2:6] = True
    assert torch.equal(b["region"][0], want) and not b["region"][1].any()  # no aux file: empty region
    with pytest.raises(ValueError, match="not a concealed"):
        CaptureBank.from_names(Path("."), [format_name("ida", 0, False, 0)], 16)


def test_bank_matches_the_files(make_ds) -> None:
    root = make_ds(identities=IDS[:2], postures=1, samples=2, size=16)
    name = format_name("idb", 0, True, 1)
    bank = CaptureBank.from_names(root, [name, format_name("ida", 0, True, 0)], 16)
    i = bank.names.index(name)
    expect = torch.from_numpy(load_image(root / "thz" / name, 16))  # (1, 16, 16)
    got = bank.batch(torch.tensor([i]))
    assert torch.allclose(got["thz"][0], expect, atol=0.5 / 255)
    counterpart = torch.from_numpy(load_image(root / "thz" / format_name("idb", 0, False, 1), 16))
    assert torch.allclose(got["target"][0], counterpart, atol=0.5 / 255)


def test_pk_batches_structure_distinct_positives_and_determinism(bank: CaptureBank) -> None:
    aug = build_augment("medium")
    it = PKJointBatches(bank, p=2, k=3, augment=aug, seed=5, num_batches=6)
    batches = list(it.epoch_batches(0))
    assert len(batches) == len(it) == 6
    for b in batches:
        ident, idx = b["identity"], b["index"]
        assert b["thz"].shape == (6, 1, 16, 16) and b["target"].shape == (6, 1, 16, 16)
        assert sorted(torch.bincount(ident, minlength=4).tolist()) == [0, 0, 3, 3]  # P identities × K
        assert len(set(idx.tolist())) == 6  # a positive is never the anchor's own capture
        assert torch.equal(ident, bank.identity[idx]) and torch.equal(b["posture"], bank.posture[idx])
        assert torch.equal(b["target"], bank.target[idx].float() / 255)  # targets never corrupted
    again = list(PKJointBatches(bank, 2, 3, aug, seed=5, num_batches=6).epoch_batches(0))
    assert all(
        torch.equal(a["thz"], b["thz"]) and torch.equal(a["index"], b["index"])
        for a, b in zip(batches, again, strict=True)
    )
    other = list(it.epoch_batches(1))
    assert any(not torch.equal(a["index"], b["index"]) for a, b in zip(batches, other, strict=True))
    unused = iter(it)  # an iter() never advanced uses no epoch
    assert it.epoch == 0 and unused is not None
    assert all(torch.equal(a["thz"], b["thz"]) for a, b in zip(batches, list(it), strict=True))  # epoch 0
    assert it.epoch == 1
    clock = PKJointBatches(bank, 2, 3, aug, seed=5, num_batches=6, epoch_source=lambda: 1)
    assert all(torch.equal(a["thz"], b["thz"]) for a, b in zip(other, list(clock), strict=True))


def test_identity_posture_groups_pair_captures_of_one_person_in_one_posture(bank: CaptureBank, make_ds) -> None:
    it = PKJointBatches(bank, p=3, k=2, seed=1, num_batches=4, group="identity_posture")
    assert it.skipped == 0 and len(it) == 4
    for b in it.epoch_batches(0):
        pairs = b["index"].view(3, 2)  # (P, K): consecutive K captures are one group
        assert all(len(set(g.tolist())) == 2 for g in pairs)  # two different captures
        assert torch.equal(bank.identity[pairs[:, 0]], bank.identity[pairs[:, 1]])
        assert torch.equal(bank.posture[pairs[:, 0]], bank.posture[pairs[:, 1]])
        assert torch.equal(b["identity"], bank.identity[b["index"]])  # the loss label stays the person
    root = make_ds(identities=IDS, postures=2, samples=2, size=16)
    names = [format_name(i, p, True, k) for i in IDS for p in range(2) for k in range(2)][1:]  # ida posture 0: 1 left
    small = PKJointBatches(CaptureBank.from_names(root, names, 16), p=2, k=2, group="identity_posture")
    assert small.skipped == 1 and 0 not in {q for b in small.epoch_batches(0) for q in b["index"].tolist()}
    with pytest.raises(ValueError, match="group='pose' is not identity or identity_posture"):
        PKJointBatches(bank, p=2, k=2, group="pose")


def test_each_image_is_augmented_independently(bank: CaptureBank) -> None:
    same = torch.zeros(4, dtype=torch.long)  # one capture four times: independent draws must differ
    g = torch.Generator().manual_seed(0)
    out = bank.batch(same, build_augment("medium"), g)["thz"]  # (4, 1, 16, 16)
    assert all(not torch.equal(out[0], out[j]) for j in range(1, 4))


def test_mirrored_captures_flip_input_and_targets_and_swap_left_and_right(bank: CaptureBank) -> None:
    assert MIRRORED_POSTURE == (0, 2, 1, 3, 4)  # front, left→right, right→left, up, down
    index = torch.arange(8)  # postures 0, 0, 1, 1, ... (front, left)
    plain = bank.batch(index)
    always = bank.batch(index, build_augment("none", mirror=1.0), torch.Generator().manual_seed(0))
    for key in ("thz", "target", "clean"):
        assert torch.equal(always[key], plain[key].flip(-1))
    assert always["posture"].tolist() == [0, 0, 2, 2] * 2 and torch.equal(always["identity"], plain["identity"])
    # mirroring is drawn after the other augmentation: its draws, and so its images, are unchanged
    g0, g1 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    base = bank.batch(index, build_augment("medium", paired=True), g0)
    mirrored = bank.batch(index, build_augment("medium", paired=True, mirror=1.0), g1)
    for key in ("thz", "target"):
        assert torch.equal(mirrored[key], base[key].flip(-1))
    some = bank.batch(index, build_augment("none", mirror=0.5), torch.Generator().manual_seed(1))
    flipped = torch.tensor([torch.equal(some["thz"][i], plain["thz"][i].flip(-1)) for i in range(8)])
    assert 0 < flipped.sum() < 8
    want = [2 if f and p == 1 else p for f, p in zip(flipped.tolist(), plain["posture"].tolist(), strict=True)]
    assert some["posture"].tolist() == want
    with pytest.raises(ValueError, match="mirror"):
        build_augment("none", mirror=1.5)


def test_pk_errors_say_what_to_set(bank: CaptureBank) -> None:
    with pytest.raises(ValueError, match="identity 'ida' has only 4.*set K <= 4"):
        PKJointBatches(bank, p=2, k=5)
    with pytest.raises(ValueError, match=r"p=5 identities per batch but the labels hold only 4"):
        PKJointBatches(bank, p=5, k=2)
    with pytest.raises(ValueError, match="K >= 2"):
        PKJointBatches(bank, p=2, k=1)


def test_eval_batches_cover_the_bank_in_order(bank: CaptureBank) -> None:
    idx = torch.cat([b["index"] for b in bank.batches(5)])
    assert idx.tolist() == list(range(16))


def test_training_batches_never_hold_a_validation_identity(make_ds) -> None:
    from thzface.data.identity_split import identity_validation
    from thzface.data.split import make_split

    ids = [f"id{i}" for i in range(6)]
    root = make_ds(identities=ids, postures=2, samples=2, size=16)
    names = sorted(p.name for p in (root / "thz").iterdir())
    rows, _ = make_split(names, "closed-set", seed=0, test_fraction=0.25)
    split, train_rows, val_rows = identity_validation(rows, 2, seed=0, min_train=3)
    bank = CaptureBank.from_rows(root, train_rows, 16)
    assert bank.classes == split.train  # margin-head classes: training identities only
    seen = {bank.classes[i] for b in PKJointBatches(bank, 3, 2, seed=0, num_batches=8) for i in b["identity"]}
    assert seen == set(split.train) and seen.isdisjoint(split.val)
    val = CaptureBank.from_rows(root, val_rows, 16)
    assert set(val.classes) == set(split.val)


def test_bank_carries_each_persons_site_for_within_scanner_scoring(make_ds) -> None:
    import json

    from thzface.data.geometry import person_sites

    root = make_ds(identities=IDS, postures=2, samples=1, size=16)
    assert person_sites(root) is None  # a real folder: no identities.json, one scanner
    record = {i: {"shape": [0.0], "traits": {"site": s}} for i, s in zip(IDS, (0, 0, 1, 1), strict=True)}
    (root / "identities.json").write_text(json.dumps(record))
    sites = person_sites(root)
    assert sites == {"ida": "0", "idb": "0", "idc": "1", "idd": "1"}
    names = [format_name(i, p, True, 0) for i in IDS for p in range(2)]
    b = CaptureBank.from_names(root, names, 16, sites=sites).batch(torch.arange(8))
    assert b["site"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert "site" not in CaptureBank.from_names(root, names, 16).batch(torch.arange(8))
    one = {i: {"shape": [0.0], "traits": {"site": 0}} for i in IDS}
    (root / "identities.json").write_text(json.dumps(one))
    assert person_sites(root) is None  # one site: every pair is within it
