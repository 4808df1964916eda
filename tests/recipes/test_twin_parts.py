"""models.parts: part cropping (exact pixels, image borders, margin, errors), model shapes, gradients, frozen
global branch, box head, config checks, the seed's ResNet-50 part encoder."""

from __future__ import annotations

import pytest
import torch

from thzface.config import to_dict
from thzface.models.multitask import mtl_preset
from thzface.models.parts import BoxHead, PartEncoder, TwinModel, build_model, crop_parts
from thzface.models.twin_config import PART_NAMES, TwinModelConfig


def ramp(h: int = 8, w: int = 8) -> torch.Tensor:
    return torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)  # (1, 1, H, W)


def test_crop_on_pixel_grid_equals_slicing():
    img = ramp()
    out = crop_parts(img, torch.tensor([[[2.0, 3.0, 6.0, 7.0]]]), size=4)  # (1, 1, 1, 4, 4)
    assert out.shape == (1, 1, 1, 4, 4)
    torch.testing.assert_close(out[0, 0], img[0, :, 3:7, 2:6])


def test_crop_at_image_borders_reads_zeros_outside():
    img = ramp() + 1.0  # no zero inside the image
    boxes = torch.tensor([[[-2.0, -2.0, 2.0, 2.0], [6.0, 5.0, 10.0, 9.0], [20.0, 20.0, 24.0, 24.0]]])
    out = crop_parts(img, boxes, size=4)[0, :, 0]  # (3, 4, 4)
    top_left, bottom_right, outside = out
    assert torch.all(top_left[:2, :] == 0) and torch.all(top_left[:, :2] == 0)
    torch.testing.assert_close(top_left[2:, 2:], img[0, 0, 0:2, 0:2])
    torch.testing.assert_close(bottom_right[:3, :2], img[0, 0, 5:8, 6:8])
    assert torch.all(bottom_right[3:, :] == 0) and torch.all(bottom_right[:, 2:] == 0)
    assert torch.all(outside == 0)


def test_crop_is_square_on_longest_side_with_margin():
    img = ramp(16, 16)
    wide = crop_parts(img, torch.tensor([[[4.0, 7.0, 8.0, 9.0]]]), size=4)  # 4×2 box → 4×4 square crop
    torch.testing.assert_close(wide[0, 0], img[0, :, 6:10, 4:8])
    grown = crop_parts(img, torch.tensor([[[6.0, 6.0, 8.0, 8.0]]]), size=4, margin=1.0)  # side 2 → 4
    torch.testing.assert_close(grown[0, 0], img[0, :, 5:9, 5:9])


def test_crop_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"crop_parts: need images \(B, C, H, W\) and boxes \(B, K, 4\)"):
        crop_parts(ramp(), torch.zeros(1, 4), size=4)
    with pytest.raises(ValueError, match="crop_parts: boxes hold NaN or inf"):
        crop_parts(ramp(), torch.full((1, 1, 4), float("nan")), size=4)


def tiny_cfg(**kw) -> TwinModelConfig:
    base = dict(image_size=32, part_stem=4, part_widths=(4, 8), part_dim=8, crop_size=8, fusion_hidden=16,
                embed_dim=8, dropout=0.0, box_widths=(4, 8, 8))  # fmt: skip
    base.update(kw)
    return TwinModelConfig(**base)


def mtl_dict() -> dict:
    return to_dict(mtl_preset("tiny", dropout=0.0))


def boxes_for(b: int) -> torch.Tensor:
    return torch.tensor(
        [[8.0, 10.0, 13.0, 13.0], [19, 10, 24, 13], [14, 12, 18, 19], [11, 21, 21, 24], [12, 25, 20, 29]]
    )[None].repeat(b, 1, 1)  # (B, 5, 4)


@pytest.mark.parametrize(
    "kw",
    [
        dict(global_kind="none"),
        dict(global_kind="none", shared_parts=False, parts=("nose", "mouth")),
        dict(global_model=mtl_dict()),
        dict(global_model=mtl_dict(), fusion="mlp"),
        dict(global_model=mtl_dict(), global_feature="latent", parts=(), box_head=False, fusion="mlp"),
    ],
)
def test_model_shapes_no_nan_and_every_trainable_parameter_gets_a_gradient(kw):
    torch.manual_seed(0)
    model = build_model(tiny_cfg(**kw)).train()
    x = torch.rand(4, 1, 32, 32)  # (B, 1, S, S)
    out = model(x, boxes_for(4), torch.tensor([True, True, False, True]))
    residual_global = model.cfg.fusion == "residual" and model.global_net is not None  # [global ; w · parts]
    dim = 8 + (model.global_net.out_dim if residual_global else 0)  # type: ignore[union-attr]
    assert out.embedding.shape == (4, dim) and torch.isfinite(out.embedding).all()
    torch.testing.assert_close(out.embedding.norm(dim=1), torch.ones(4))
    loss = out.embedding.pow(2).sum(1).mul(torch.arange(4.0)).sum() + out.embedding[:, 0].sum()
    if out.boxes_pred is not None:
        assert out.boxes_pred.shape == (4, 5, 4)
        loss = loss + out.boxes_pred.mean()
    loss.backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
        else:
            assert name.startswith("global_net.") and p.grad is None, name


def test_global_branch_is_frozen_and_stays_in_eval_mode():
    model = build_model(tiny_cfg(global_model=mtl_dict())).train()
    assert model.training and not model.global_net.training
    assert all(not m.training for m in model.global_net.modules())
    assert not any(p.requires_grad for p in model.global_net.parameters())
    assert model.global_net.out_dim == 32  # tiny mtl embedding size


def test_rows_without_boxes_use_the_box_head_and_missing_head_is_an_error():
    torch.manual_seed(0)
    model = build_model(tiny_cfg(global_kind="none")).eval()
    x, given = torch.rand(2, 1, 32, 32), boxes_for(2)
    out = model(x, given, torch.tensor([True, False]))
    torch.testing.assert_close(out.boxes[0], given[0])
    torch.testing.assert_close(out.boxes[1], out.boxes_pred[1])
    torch.testing.assert_close(model(x).boxes, out.boxes_pred)
    headless = build_model(tiny_cfg(global_kind="none", box_head=False)).eval()
    with pytest.raises(ValueError, match="no part boxes given and no box head"):
        headless(x)
    with pytest.raises(ValueError, match="some rows have no part boxes and there is no box head"):
        headless(x, given, torch.tensor([True, False]))
    with pytest.raises(ValueError, match=r"TwinModel: x must be \(B, 1, 32, 32\)"):
        model(torch.rand(2, 1, 16, 16))


def test_box_head_gives_ordered_boxes_inside_the_image():
    boxes = BoxHead(1, 32, (4, 8))(torch.rand(3, 1, 32, 32))  # (3, 5, 4)
    assert boxes.shape == (3, len(PART_NAMES), 4)
    assert torch.all(boxes[..., 2] > boxes[..., 0]) and torch.all(boxes[..., 3] > boxes[..., 1])
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2
    assert torch.all((centre > 0) & (centre < 32))


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(global_kind="dlib"), "global_kind 'dlib' is not one of"),
        (dict(parts=("nose", "ear")), "must be distinct names from"),
        (dict(parts=(), global_kind="none", box_head=False), "nothing to embed"),
        (dict(parts=()), "box_head needs parts"),
        (dict(crop_size=10), "crop_size 10 is not a multiple of 4"),
        (dict(image_size=36), "image_size 36 is not a multiple of 8"),
    ],
)
def test_config_errors(kw, msg):
    with pytest.raises(ValueError, match=msg):
        tiny_cfg(**kw)


def test_missing_global_model_is_a_clear_error():
    with pytest.raises(ValueError, match="model.global_model is empty; set model.global_run"):
        TwinModel(tiny_cfg())


def test_resnet50_part_encoder_matches_the_seed_backbone():
    enc = PartEncoder("resnet50", 1, 0, (1,), 128)
    body = sum(p.numel() for p in enc.body.parameters())
    assert body == 23_508_032 - 64 * 2 * 49  # torchvision resnet50 without fc, 1 input channel instead of 3
    assert enc(torch.rand(2, 1, 32, 32)).shape == (2, 128)
