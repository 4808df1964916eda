"""In-plane alignment (models.align): the warp's matrices by hand, a quarter turn and a 2-pixel shift moving a
point target where they must, the inverse undoing the warp, an untrained aligner being the identity, the aligned
model's ONNX graphs matching torch with a non-trivial warp."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from thzface.export.onnx import check_parity, export_model, new_session
from thzface.models import build_model, mtl_preset
from thzface.models.align import ALIGN_DIM, InPlaneAligner, inplane_theta, warp_inplane


def test_theta_by_hand() -> None:
    p = torch.tensor([[90.0, 0.1, -0.2], [0.0, 0.0, 0.0]])
    want = torch.tensor([[[0.0, 1.0, 0.1], [-1.0, 0.0, -0.2]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    torch.testing.assert_close(inplane_theta(p), want, atol=1e-6, rtol=0)
    inv = torch.tensor([[0.0, -1.0, -0.2], [1.0, 0.0, -0.1]])  # R^T and -R^T t
    torch.testing.assert_close(inplane_theta(p, inverse=True)[0], inv, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match=r"params must be \(B, 3\)"):
        inplane_theta(torch.zeros(2, 5))


def test_a_quarter_turn_and_a_shift_move_a_point_target_by_hand() -> None:
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 2, 5] = 1.0  # row 2, column 5
    turned = warp_inplane(x, torch.tensor([[90.0, 0.0, 0.0]]))  # undo a counter-clockwise quarter turn
    torch.testing.assert_close(turned, torch.rot90(x, -1, dims=(-2, -1)), atol=1e-6, rtol=0)
    assert turned[0, 0, 5, 5] == pytest.approx(1.0, abs=1e-6)  # out[i, j] = in[7 - j, i]
    shifted = warp_inplane(x, torch.tensor([[0.0, 2 * 2 / 8, 0.0]]))  # the head 2 px right: brought back left
    assert shifted[0, 0, 2, 3] == pytest.approx(1.0, abs=1e-6) and float(shifted.sum()) == pytest.approx(1.0)


def test_the_inverse_undoes_the_warp_inside_the_image() -> None:
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    blob = torch.exp(-((yy - 30) ** 2 + (xx - 35) ** 2) / 60)[None, None]  # (1, 1, 64, 64) smooth target
    p = torch.tensor([[4.0, 0.08, -0.05]])
    back = warp_inplane(warp_inplane(blob, p), p, inverse=True)
    assert float((back - blob)[..., 12:-12, 12:-12].abs().max()) < 0.02


def test_an_untrained_aligner_is_the_identity_and_the_model_equals_the_unaligned_one() -> None:
    torch.manual_seed(0)
    aligned = build_model(mtl_preset("tiny", align="inplane")).eval()
    plain = build_model(mtl_preset("tiny", align="none")).eval()
    missing = plain.load_state_dict(aligned.state_dict(), strict=False)
    assert not missing.missing_keys and all(k.startswith("aligner.") for k in missing.unexpected_keys)
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        assert aligned.aligner is not None and float(aligned.aligner(x).abs().max()) == 0.0
        torch.testing.assert_close(aligned.embed(x), plain.embed(x), atol=1e-6, rtol=0)
        out = aligned(x)
    assert out.alignment is not None and out.alignment.shape == (3, ALIGN_DIM) and plain(x).alignment is None
    with pytest.raises(ValueError, match="multiple of 16"):
        InPlaneAligner(size=40)


@pytest.mark.parametrize("task", ["verify", "all"])
def test_aligned_onnx_graphs_match_torch_with_a_real_warp(task: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(mtl_preset("tiny", align="inplane")).eval()
    assert model.aligner is not None
    last = model.aligner.head[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():
        last.weight.normal_(0, 0.5)  # a warp of several degrees and pixels
        last.bias.copy_(torch.tensor([1.0, 0.5, -0.5]))
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        p = model.aligner(x)
    assert float(p[:, 0].abs().min()) > 1.0 and float(p[:, 1:].abs().min()) > 0.01
    session = new_session(export_model(model, 1, 32, tmp_path / "a.onnx", {}, task=task), threads=1)
    res = check_parity(model, session, 1, 32)
    assert res["ok"] and np.isfinite(res["max_abs_diff"])
