"""unmask3d renderer adapter: rotation twin, placement fit, render, edits; golden losses and metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thzface.losses.unmask3d import mode_seeking_loss
from thzface.metrics.unmask3d import coefficient_errors, mask_iou
from thzface.recipes.unmask3d.render import (
    Renderer,
    apply_edits,
    fit_placement,
    layout_for,
    parse_edit,
    project,
    rotation_torch,
)
from thzface.sim.pose import rotation
from thzface.sim.render import Camera

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer("builtin", "", 4.0, 16)


def test_rotation_twin_matches_the_simulator():
    poses = torch.tensor([[20.0, -10.0, 4.0], [-35.0, 25.0, -5.0]], dtype=torch.float64)
    got = rotation_torch(poses).numpy()
    for i, p in enumerate(poses.numpy()):
        np.testing.assert_allclose(got[i], rotation(*p), atol=1e-12)


def test_placement_fit_recovers_the_simulator_camera(renderer):
    rng = np.random.default_rng(3)
    lm3d = renderer.landmarks3d(renderer.model.sample_shape(rng), renderer.model.sample_expression(rng, 0.2))
    pose = np.array([15.0, -8.0, 3.0])
    cam = Camera(16, 12.5, 4.0, -6.0)  # pitch 12.5 mm/px, image centre at world (4, -6) mm
    shift = np.array([1.5, -2.0, 7.0])  # a translation is absorbed too (orthographic view)
    uv = cam.project(lm3d @ rotation(*pose).T + shift)
    placement, rms = fit_placement(lm3d, pose, uv)
    assert rms < 1e-4
    assert placement[0] == pytest.approx(1 / 12.5, rel=1e-5)
    back = project(
        torch.from_numpy(lm3d)[None].double(), torch.from_numpy(pose)[None], torch.from_numpy(placement)[None].double()
    )
    np.testing.assert_allclose(back[0].numpy(), uv, atol=1e-3)


def test_render_draws_the_face_where_the_placement_says(renderer):
    lay = renderer.layout
    c = np.zeros(lay.size)
    c[lay.groups()["placement"]] = [16 / 220, 7.5, 7.5]  # ~220 mm field of view, head centred
    img = renderer.render(c[None])
    assert img.shape == (1, 3, 16, 16) and img.dtype == torch.float32
    assert 0 <= float(img.min()) and float(img.max()) <= 1
    assert img[0, 1, 6:10, 6:10].min() > 0  # shading on the face in the middle
    moved = c.copy()
    moved[lay.groups()["placement"].start + 1] = 20.0  # head centre far right: the left half empties
    assert renderer.render(moved[None])[0, :, :, :5].abs().max() == 0
    opened = apply_edits(torch.from_numpy(c[None]), [parse_edit("jaw_open=1.5", lay)])
    assert (renderer.render(opened) - img).abs().sum() > 0  # an expression edit changes the render


def test_parse_edit_names_aliases_and_errors():
    lay = layout_for("builtin")
    e0 = lay.groups()["expression"].start
    assert parse_edit("expression=happiness:0.5", lay) == (e0 + lay.expr_names.index("smile"), 0.5)
    assert parse_edit("jaw_open=0.8", lay) == (e0, 0.8)
    assert parse_edit("shape=3:1.5", lay) == (3, 1.5)
    assert parse_edit("pose=yaw:20", lay) == (lay.groups()["pose"].start, 20.0)
    with pytest.raises(ValueError, match="unknown expression 'anger'"):
        parse_edit("expression=anger:1", lay)
    with pytest.raises(ValueError, match="is not a number"):
        parse_edit("smile=lots", lay)
    with pytest.raises(ValueError, match="shape index must be 0..28"):
        parse_edit("shape=99:1", lay)
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_edit("smile", lay)


def test_mode_seeking_golden_values():
    a = torch.zeros(2, 1, 4, 4)
    b = torch.full((2, 1, 4, 4), 0.04)
    na, nb = torch.zeros(2, 3), torch.ones(2, 3)  # mean |noise difference| = 1
    assert float(mode_seeking_loss(a, b, na, nb, tau=0.1)) == pytest.approx(0.06)  # relu(0.1 - 0.04 / 1)
    assert float(mode_seeking_loss(a, a + 0.5, na, nb, tau=0.1)) == 0.0  # diverse enough: no push
    mask = torch.zeros(2, 1, 4, 4)
    mask[..., :2, :] = 1
    b2 = b.clone()
    b2[..., 2:, :] = 0.0  # differences only inside the mask
    assert float(mode_seeking_loss(a, b2, na, nb, mask=mask, tau=0.1)) == pytest.approx(0.06)
    x = b.clone().requires_grad_(True)
    mode_seeking_loss(a, x, na, nb).backward()
    assert x.grad.sum() < 0  # increasing the difference lowers the loss
    with pytest.raises(ValueError, match="tau must be > 0"):
        mode_seeking_loss(a, b, na, nb, tau=0.0)
    with pytest.raises(ValueError, match="noise_a and noise_b shapes differ"):
        mode_seeking_loss(a, b, na, torch.ones(2, 4))


def test_mask_iou_and_coefficient_errors_golden():
    pred = np.zeros((2, 1, 2, 2))
    pred[0, 0, 0, :] = 0.9  # 2 pixels predicted
    true = np.zeros((2, 1, 2, 2))
    true[0, 0, 0, 0] = true[0, 0, 1, 0] = 1  # 2 pixels true, 1 shared: IoU 1/3; image 1 both empty: 1
    np.testing.assert_allclose(mask_iou(pred, true), [1 / 3, 1.0])
    with pytest.raises(ValueError, match="mask_iou: pred and target must be"):
        mask_iou(pred, true[:, 0])
    errs = coefficient_errors(
        np.array([[1.0, 2.0, 4.0]]), np.array([[0.0, 0.0, 0.0]]), {"a": slice(0, 1), "b": slice(1, 3)}
    )
    assert errs["a"].tolist() == [1.0] and errs["b"].tolist() == [3.0]
    with pytest.raises(ValueError, match="does not fit K=3"):
        coefficient_errors(np.zeros((1, 3)), np.zeros((1, 3)), {"c": slice(2, 5)})


def test_bench_mean_rows_average_over_seeds_and_skip_missing():
    from thzface.bench.unmask3d import mean_rows

    runs = [{"a": {"x": 1.0, "y": None}}, {"a": {"x": 3.0, "y": 2.0}}]
    assert mean_rows(runs) == {"a": {"x": 2.0, "y": 2.0}}
