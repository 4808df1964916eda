"""Lean encoder variants as MtlModelConfig values (stem_stride, depths, separable, channels_last): shapes at
full size, gradients to every parameter, ``embed`` == the forward's embedding (flip test off), same math in either
layout, the cost they save, and clear errors for bad values."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from thzface.models import build_model, mtl_preset
from thzface.models.blocks import ResidualDownBlock
from thzface.models.multitask import MtlModelConfig
from thzface.models.profile import flops_per_sample
from thzface.models.teacher import TeacherConfig, TeacherModel

VARIANTS = {
    "stride2": {"stem_stride": 2, "image_size": 64},  # 64 px: a 2×2 bottleneck (attention pooling over 1 is inert)
    "deep": {"depths": (1, 2, 2, 1)},
    "separable": {"separable": True},
    "channels_last": {"channels_last": True},
    "flatten": {"pool": "flatten"},
    "all": {"stem_stride": 2, "depths": (2, 1, 1, 2), "separable": True, "channels_last": True, "image_size": 64},
}


def build(decoder: str = "film", **kw) -> nn.Module:
    torch.manual_seed(0)
    return build_model(mtl_preset("tiny", decoder=decoder, **kw))


def images(n: int = 4, size: int = 32) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0))  # (N, 1, S, S)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_shapes_and_every_parameter_gets_a_gradient(name: str) -> None:
    model = build(dropout=0.2, **VARIANTS[name]).train()
    x = images(size=model.cfg.image_size)
    out = model(x, route="soft")
    assert out.reconstruction.shape == x.shape and out.embedding.shape == (4, model.cfg.embed_dim)
    loss = out.embedding.sum() + out.posture_logits.pow(2).sum() + (out.reconstruction - x).abs().mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if not n.startswith("aligner.")  # trained by its own loss
               and (p.grad is None or p.grad.abs().sum() == 0)]  # fmt: skip
    assert not missing, missing


@pytest.mark.parametrize("decoder", ["moe_hard", "film"])
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_embed_equals_the_forward_embedding_exactly(name: str, decoder: str) -> None:
    model = build(decoder, flip_test=False, **VARIANTS[name]).eval()
    x = images(size=model.cfg.image_size)
    with torch.no_grad():
        assert torch.equal(model.embed(x), model(x).embedding)


def test_channels_last_is_a_layout_not_a_model() -> None:
    plain, nhwc = build().eval(), build(channels_last=True).eval()
    nhwc.load_state_dict(plain.state_dict())  # same weights, the same names
    x = images()
    with torch.no_grad():
        a, b = plain(x), nhwc(x)
    assert torch.allclose(a.embedding, b.embedding, atol=1e-5)
    assert torch.allclose(a.reconstruction, b.reconstruction, atol=1e-5)
    assert nhwc.encode(x).skips[0].is_contiguous(memory_format=torch.channels_last)
    assert not plain.encode(x).skips[0].is_contiguous(memory_format=torch.channels_last)
    assert nhwc.encoder.stages[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_stem_stride_and_separable_cut_encoder_cost_and_depths_add_blocks() -> None:
    base = flops_per_sample(build().eval())
    assert flops_per_sample(build(stem_stride=2).eval()) < 0.6 * base
    assert flops_per_sample(build(separable=True).eval()) < 0.9 * base
    deep = build(depths=(1, 3, 1, 1))
    assert isinstance(deep.encoder.stages[0], ResidualDownBlock)  # a lone block keeps the reference names
    stage = deep.encoder.stages[1]
    assert isinstance(stage, nn.Sequential) and len(stage) == 3
    assert [b.conv1.stride for b in stage] == [(2, 2), (1, 1), (1, 1)]
    assert isinstance(stage[1].shortcut, nn.Identity)
    assert deep.encoder.reduction == 16 and build(stem_stride=2).encoder.reduction == 32


def test_separable_block_is_depthwise_then_pointwise() -> None:
    block = ResidualDownBlock(8, 16, separable=True)
    dw, pw = block.conv1
    assert dw.groups == 8 and dw.stride == (2, 2) and pw.kernel_size == (1, 1) and pw.out_channels == 16
    x = torch.rand(2, 8, 12, 12, generator=torch.Generator().manual_seed(0))  # (2, 8, 12, 12)
    assert block(x).shape == (2, 16, 6, 6)


def test_teacher_encoders_follow_the_student_design() -> None:
    student = mtl_preset("tiny", stem_stride=2, depths=(1, 2, 1, 1))
    teacher = TeacherModel(TeacherConfig(heads=2, trunk_dim=16, embed_hidden=16, embed_dim=8), student)
    assert teacher.vis_encoder.reduction == 32 and len(teacher.vis_encoder.stages[1]) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"depths": (1, 2)}, "depths"),
        ({"depths": (1, 0, 1, 1)}, "depths"),
        ({"stem_stride": 3}, "stem_stride 3"),
        ({"stem_stride": 2, "image_size": 48}, r"multiple of 2\^4 · stem_stride 2 = 32"),
    ],
)
def test_bad_variant_values_raise(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mtl_preset("tiny", **overrides)


def test_flatten_trunk_knows_where_a_feature_is_and_needs_the_exact_size() -> None:
    """pool=flatten: a weight per bottleneck position (a mirrored input is another latent, unlike average pooling),
    and an input of any other size is refused with the size asked for."""
    flat, avg = build(pool="flatten").eval(), build(pool="avg").eval()
    x = images()
    assert flat.cfg.fixed_size and not avg.cfg.fixed_size
    mirrored = x.flip(-1)
    with torch.no_grad():
        assert not torch.allclose(flat.encode(x).latent, flat.encode(mirrored).latent, atol=1e-4)
        conv = flat.trunk[0]
        assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (2, 2)  # 32 px / 2^4 = a 2×2 bottleneck
    with pytest.raises(ValueError, match=r"pool=flatten\): input must be 32×32, got 64×64"):
        flat(images(size=64))
    avg(images(size=64))  # pooled trunks take any multiple of the reduction


def test_variant_fields_round_trip_through_the_config_loader() -> None:
    from thzface.config import from_dict

    cfg = from_dict(MtlModelConfig, {"stem_stride": 1, "depths": [1, 2, 2], "separable": True})
    assert cfg.depths == (1, 2, 2) and cfg.stem_stride == 1 and cfg.separable and not cfg.channels_last


def test_channels_last_weights_round_trip_through_safetensors(tmp_path) -> None:
    from safetensors.torch import load_file, save_file

    model = build(channels_last=True).eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    torch.manual_seed(1)  # another init: the load must bring the weights
    again = build_model(mtl_preset("tiny", channels_last=True)).eval()
    with torch.no_grad():
        assert not torch.equal(again.embed(images()), model.embed(images()))
    again.load_state_dict(load_file(str(tmp_path / "w.safetensors")))
    assert again.encoder.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = images()
    with torch.no_grad():
        assert torch.equal(again.embed(x), model.embed(x))
