"""Augmentation profiles: reference values, none = identity, strength order, seeding, targets untouched."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from thzface.data.augment import PROFILES, Augment, AugProfile, build_augment
from thzface.data.csv import TripletRow
from thzface.data.datasets import TripletDataset, sample_seed
from thzface.data.io import load_image


def _smooth_batch(b: int = 32, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(b, 1, 4, 4, generator=g)  # (B, 1, 4, 4)
    return 0.2 + 0.6 * torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")  # (B, 1, S, S)


def _change(profile: str, x: torch.Tensor, seed: int = 0) -> float:
    y = build_augment(profile)(x, torch.Generator().manual_seed(seed))
    return (y - x).abs().mean().item()


REFERENCE = {  # seed-reference §1, lengths in px at 64×64
    "gentle": dict(
        rotation_deg=10,
        scale=(0.9, 1.1),
        translate_px=0,
        crop_area=(0.9, 1.0),
        stripe_p=0.2,
        stripe_width_px=(2, 4),
        stripe_max=3,
        cutout_p=0,
        band_p=0,
        noise_sigma=(0.05, 0.1),
    ),
    "medium": dict(
        rotation_deg=20,
        scale=(1.0, 1.0),
        translate_px=5,
        crop_area=(0.7, 1.0),
        stripe_p=0,
        cutout_p=0.3,
        cutout_count=(2, 4),
        cutout_size_px=(8, 16),
        band_p=0.3,
        band_width_px=(4, 12),
        noise_sigma=(0.05, 0.15),
    ),
    "strong": dict(
        rotation_deg=30,
        scale=(0.8, 1.2),
        translate_px=10,
        crop_area=(0.6, 1.0),
        stripe_p=0.4,
        stripe_width_px=(4, 8),
        stripe_max=5,
        cutout_p=0.5,
        cutout_count=(4, 6),
        cutout_size_px=(8, 20),
        band_p=0.5,
        band_width_px=(8, 16),
        noise_sigma=(0.1, 0.2),
    ),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_table(name: str) -> None:
    profile = asdict(PROFILES[name])
    assert {k: profile[k] for k in REFERENCE[name]} == REFERENCE[name]


def test_none_is_identity_and_p_zero() -> None:
    x = _smooth_batch(4)
    assert torch.equal(build_augment("none")(x, torch.Generator().manual_seed(3)), x)
    assert torch.equal(build_augment("strong", p=0.0)(x, torch.Generator().manual_seed(3)), x)


def test_strength_ordering_and_range() -> None:
    x = _smooth_batch(64)
    gentle, medium, strong = (_change(p, x) for p in ("gentle", "medium", "strong"))
    assert 0 < gentle < medium < strong
    y = build_augment("strong")(x, torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1


def test_reproducible_per_seed() -> None:
    x = _smooth_batch(8)
    aug = build_augment("medium")
    a = aug(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, aug(x, torch.Generator().manual_seed(5)))
    assert not torch.equal(a, aug(x, torch.Generator().manual_seed(6)))


def test_geometry_on_a_ramp() -> None:
    """Warps keep a linear ramp linear: zoom ×2 halves its slope; a quarter-area crop scales it by 7/15."""
    ramp = (torch.arange(16.0) / 15).repeat(16, 1)[None, None]  # (1, 1, 16, 16), value = x / 15
    g = torch.Generator().manual_seed(0)
    zoom = Augment(AugProfile("zoom", scale=(2.0, 2.0)))(ramp, g)
    torch.testing.assert_close(zoom.diff(dim=-1), torch.full((1, 1, 16, 15), 0.5 / 15))
    torch.testing.assert_close(zoom[0, 0, :, 7:9].mean(), ramp[0, 0, :, 7:9].mean())  # centre kept
    crop = Augment(AugProfile("crop", crop_area=(0.25, 0.25), crop_ratio=(1.0, 1.0)))(ramp, g)
    torch.testing.assert_close(crop.diff(dim=-1), torch.full((1, 1, 16, 15), 7 / 15 / 15))
    torch.testing.assert_close(crop.diff(dim=-2), torch.zeros(1, 1, 15, 16))


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"aug.profile .wild.: expected one of"):
        build_augment("wild")
    with pytest.raises(ValueError, match=r"expected a \(B, C, H, W\) batch, got shape \(1, 16, 16\)"):
        build_augment("gentle")(torch.zeros(1, 16, 16), torch.Generator())
    with pytest.raises(ValueError, match=r"aug p=1.5"):
        build_augment("gentle", p=1.5)


def test_dataset_augments_inputs_only(make_ds) -> None:
    root = make_ds()
    rows = [TripletRow("ida_b1b_0.png", "ida_n1n_0.png", "idb_b1b_0.png")]
    ds = TripletDataset(root, rows, 16, ["ida", "idb"], augment=build_augment("strong"), seed=7)
    s = ds[0]
    positive = torch.from_numpy(load_image(root / "thz" / "ida_n1n_0.png", 16))
    anchor = torch.from_numpy(load_image(root / "thz" / "ida_b1b_0.png", 16))
    assert torch.equal(s["positive"], positive) and torch.equal(s["target"], positive)
    assert not torch.equal(s["anchor"], anchor)
    assert torch.equal(ds[0]["anchor"], s["anchor"])  # same (seed, epoch, index) → same sample
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["anchor"], s["anchor"])
    assert torch.equal(ds[0]["positive"], positive)


def test_with_targets_draws_like_call_and_warps_targets_without_corruption() -> None:
    x = _smooth_batch(8)
    aug = build_augment("strong", p=0.5)
    plain = aug(x, torch.Generator().manual_seed(4))
    y, (t,) = aug.with_targets(x, [x.clone()], torch.Generator().manual_seed(4))
    assert torch.equal(y, plain)  # the input stream is unchanged by carrying targets along
    geometry = Augment(AugProfile("geo", rotation_deg=20, scale=(0.8, 1.2), translate_px=6), p=0.5)
    y, (t,) = geometry.with_targets(x, [x.clone()], torch.Generator().manual_seed(4))
    assert torch.equal(y, t) and not torch.equal(t, x)  # geometry only: the target is warped exactly like x
    untouched = (t == x).flatten(1).all(dim=1)  # p = 0.5: the samples not augmented keep their target
    assert 0 < int(untouched.sum()) < 8
    with pytest.raises(ValueError, match="targets must be"):
        aug.with_targets(x, [x[:2]], torch.Generator())


def test_scan_profile_is_milder_than_the_reference_profiles() -> None:
    x = _smooth_batch(64)
    assert 0 < _change("scan", x) < _change("gentle", x)


def test_paired_dataset_warps_positive_target_and_mask_with_the_anchor(make_ds) -> None:
    root = make_ds()
    rows = [TripletRow("ida_b1b_0.png", "ida_n1n_0.png", "idb_b1b_0.png")]
    geo = Augment(AugProfile("geo", rotation_deg=25, translate_px=6), paired=True)
    s = TripletDataset(root, rows, 16, ["ida", "idb"], augment=geo, seed=7)[0]
    anchor = torch.from_numpy(load_image(root / "thz" / "ida_b1b_0.png", 16))
    positive = torch.from_numpy(load_image(root / "thz" / "ida_n1n_0.png", 16))
    g = torch.Generator().manual_seed(sample_seed(7, 0, 0, 0))  # (seed, epoch, index, anchor member)
    a, (p, _) = geo.with_targets(anchor[None], [positive[None], positive[None]], g)
    assert torch.equal(s["anchor"], a[0]) and not torch.equal(s["anchor"], anchor)
    assert torch.equal(s["positive"], p[0]) and torch.equal(s["target"], p[0])  # one matrix for all three
    s_plain = TripletDataset(root, rows, 16, ["ida", "idb"], augment=build_augment("scan"), seed=7)[0]
    assert torch.equal(s_plain["positive"], positive)  # unpaired: the target never moves
