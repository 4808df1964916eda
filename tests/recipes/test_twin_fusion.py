"""Residual fusion of the twin model (models/parts.py) and its part weight fitted on validation people
(recipes/twin/fusion.py): hand-computed scores and EERs, the weight chosen where the parts help and 0 where not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thzface.config import to_dict
from thzface.metrics import twin as TM
from thzface.models.multitask import mtl_preset
from thzface.models.parts import build_model
from thzface.models.twin_config import TwinModelConfig
from thzface.recipes.twin.fusion import fit_fusion_weight, fused_scores, kind_eers, mean_eer

G, T, R = TM.GENUINE, TM.TWIN, TM.RANDOM


def test_fused_scores_by_hand() -> None:
    assert fused_scores(np.array(0.5), np.array(0.1), 2.0) == pytest.approx((0.5 + 4 * 0.1) / 5)  # 0.18
    assert fused_scores(np.array(0.5), np.array(-1.0), 0.0) == 0.5  # w = 0: the global score exactly


def test_kind_eers_and_mean_by_hand() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.2])
    kinds = np.array([G, G, T, R, R])
    eers = kind_eers(scores, kinds)
    assert eers == {"random": 0.0, "twin": 0.0}  # every genuine pair above every impostor of each kind
    flipped = kind_eers(np.array([0.1, 0.2, 0.9, 0.0]), np.array([G, G, T, R]))
    assert flipped["twin"] == 1.0 and flipped["random"] == 0.0 and mean_eer(flipped) == 0.5
    no_twins = kind_eers(scores[[0, 1, 3, 4]], kinds[[0, 1, 3, 4]])
    assert np.isnan(no_twins["twin"]) and mean_eer(no_twins) == 0.0  # a kind absent: the mean of the rest


def pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Global scores that separate random impostors but rank twins above genuine pairs; parts that separate twins."""
    kinds = np.array([G, G, G, T, T, R, R, R])
    s_global = np.array([0.60, 0.62, 0.64, 0.70, 0.72, 0.10, 0.15, 0.20])
    s_parts = np.array([0.90, 0.85, 0.80, 0.10, 0.20, 0.50, 0.40, 0.30])
    return s_global, s_parts, kinds


def test_fit_gives_the_parts_weight_where_they_separate_twins() -> None:
    s_global, s_parts, kinds = pairs()
    assert kind_eers(s_global, kinds)["twin"] == 1.0
    w, eers = fit_fusion_weight(s_global, s_parts, kinds)
    assert w > 0 and eers == {"random": 0.0, "twin": 0.0}
    # at w = 0.5: genuine (0.6 + 0.25·0.9)/1.25 = 0.66 > twin (0.72 + 0.25·0.2)/1.25 = 0.616
    assert w == 0.5  # the smallest weight of the grid that reaches the best mean EER


def test_fit_keeps_the_global_embedding_when_the_parts_do_not_help() -> None:
    s_global, _, kinds = pairs()
    good = np.array([0.6, 0.62, 0.64, 0.5, 0.5, 0.1, 0.15, 0.2])  # the global already separates everything
    noise = np.array([0.0, 0.1, 0.2, 0.9, 0.8, 0.7, 0.9, 0.8])  # parts that rank every impostor first
    w, eers = fit_fusion_weight(good, noise, kinds)
    assert w == 0.0 and eers == {"random": 0.0, "twin": 0.0}
    w, _ = fit_fusion_weight(s_global, s_global, kinds)  # parts equal to global: nothing to gain, smallest w
    assert w == 0.0


def test_residual_model_cosine_is_the_fused_score_and_w0_is_the_global_embedding() -> None:
    torch.manual_seed(0)
    cfg = TwinModelConfig(image_size=32, part_stem=4, part_widths=(4, 8), part_dim=8, crop_size=8,
                          fusion_hidden=16, embed_dim=8, dropout=0.0, box_widths=(4, 8, 8),
                          global_model=to_dict(mtl_preset("tiny", dropout=0.0)))  # fmt: skip
    model = build_model(cfg).eval()
    x = torch.rand(4, 1, 32, 32)  # (B, 1, S, S)
    for w in (0.0, 0.5, 2.0):
        model.fusion_weight.fill_(w)
        out = model(x)
        assert out.global_ is not None and out.parts is not None
        got = out.embedding @ out.embedding.T  # (B, B)
        want = fused_scores(out.global_ @ out.global_.T, out.parts @ out.parts.T, w)  # (B, B)
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(out.embedding.norm(dim=1), torch.ones(4))
    model.fusion_weight.fill_(0.0)
    torch.testing.assert_close(model(x).embedding[:, : out.global_.shape[1]], out.global_)
    assert "fusion_weight" in model.state_dict()  # saved with the run


def test_residual_fusion_config_errors() -> None:
    with pytest.raises(ValueError, match="fusion residual needs parts"):
        TwinModelConfig(global_kind="mtl", parts=(), box_head=False)
    with pytest.raises(ValueError, match="fusion 'sum' is not one of"):
        TwinModelConfig(fusion="sum")
    with pytest.raises(ValueError, match="fusion_weight -1"):
        TwinModelConfig(fusion_weight=-1.0)
    assert TwinModelConfig.RECORDED_BEFORE == {"fusion": "mlp"}  # older runs were one MLP over both
