"""Teacher model (models/teacher.py): shapes, no NaN, both fusions and trunks, shared encoder, bad inputs."""

from __future__ import annotations

import pytest
import torch

from thzface.models.multitask import mtl_preset
from thzface.models.teacher import CrossModalFusion, TeacherConfig, build_teacher

STUDENT = mtl_preset("tiny")  # 32×32, widths (8, 16, 24, 32) → 2×2 tokens of width 32


@pytest.mark.parametrize("fusion,trunk", [("paper", "conv"), ("residual", "attn"), ("paper", "avg")])
def test_shapes_and_finite(fusion: str, trunk: str) -> None:
    torch.manual_seed(0)
    t = build_teacher(TeacherConfig(fusion=fusion, trunk=trunk, heads=2, trunk_dim=24, embed_dim=16), STUDENT)
    vis, thz = torch.rand(3, 1, 32, 32), torch.rand(3, 1, 32, 32)
    out = t(vis, thz=thz)
    assert out.embedding.shape == (3, 16) and out.posture_logits.shape == (3, 5)
    assert out.latent.shape == (3, 24) and out.pooled.shape == (3, 32)
    assert torch.allclose(out.embedding.norm(dim=1), torch.ones(3), atol=1e-5)
    for v in (out.embedding, out.posture_logits, out.latent, out.pooled):
        assert torch.isfinite(v).all()
    assert t.feature_dims == {"latent": 24, "pooled": 32}


def test_visible_changes_the_teacher_output() -> None:
    torch.manual_seed(0)
    t = build_teacher(TeacherConfig(heads=2, dropout=0.0, attn_dropout=0.0), STUDENT).eval()
    thz = torch.rand(2, 1, 32, 32)
    a = t(torch.rand(2, 1, 32, 32), thz=thz).embedding
    b = t(torch.rand(2, 1, 32, 32), thz=thz).embedding
    assert (a - b).abs().max() > 1e-4  # the fusion really reads the visible tokens


def test_shared_encoder_reads_the_student_bottleneck() -> None:
    t = build_teacher(TeacherConfig(heads=2, share_thz_encoder=True), STUDENT)
    assert t.thz_encoder is None
    out = t(torch.rand(2, 1, 32, 32), thz_map=torch.rand(2, 32, 2, 2))
    assert out.embedding.shape == (2, 128)
    with pytest.raises(ValueError, match="built without a THz encoder"):
        t(torch.rand(2, 1, 32, 32), thz=torch.rand(2, 1, 32, 32))


def test_bad_inputs_raise_clear_errors() -> None:
    t = build_teacher(TeacherConfig(heads=2), STUDENT)
    with pytest.raises(ValueError, match="exactly one of thz"):
        t(torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r"vis must be \(B, 1, 32, 32\)"):
        t(torch.rand(2, 3, 32, 32), thz=torch.rand(2, 1, 32, 32))
    with pytest.raises(ValueError, match="thz must be"):
        t(torch.rand(2, 1, 32, 32), thz=torch.rand(2, 1, 64, 64))
    with pytest.raises(ValueError, match="heads 3 must divide the token width 32"):
        build_teacher(TeacherConfig(heads=3), STUDENT)
    with pytest.raises(ValueError, match="fusion 'x'"):
        TeacherConfig(fusion="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dropout"):
        TeacherConfig(dropout=1.0)
    with pytest.raises(ValueError, match="expected a TeacherConfig"):
        build_teacher(STUDENT, STUDENT)  # type: ignore[arg-type]


def test_fusion_positional_encoding_checks_token_count() -> None:
    f = CrossModalFusion(8, 2, 0.0, tokens=4, residual=True)
    assert f(torch.rand(1, 4, 8), torch.rand(1, 4, 8)).shape == (1, 4, 8)
    with pytest.raises(ValueError, match="9 tokens, the positional encoding has 4"):
        f(torch.rand(1, 9, 8), torch.rand(1, 9, 8))
