"""Rasteriser and renderer on shapes with known depth and normals."""

from __future__ import annotations

import numpy as np
import pytest

from thzface.sim.head import make_grid
from thzface.sim.pose import rotation
from thzface.sim.raster import rasterize
from thzface.sim.render import Camera, project_landmarks, render_surface


def test_plane_heights_are_exact_and_nearer_surface_wins():
    uv = np.array([[-1.0, -1.0], [20.0, -1.0], [20.0, 20.0], [-1.0, 20.0]])
    plane = 2.0 * uv[:, 0] - 0.5 * uv[:, 1] + 3.0  # height = 2u - 0.5v + 3
    tris = np.array([[0, 1, 2], [0, 2, 3]])
    ras = rasterize(uv, plane, tris, (16, 16))
    v, u = np.mgrid[0:16, 0:16]
    assert ras.mask.all()
    assert np.allclose(ras.height, 2.0 * u - 0.5 * v + 3.0)
    assert np.allclose(ras.interpolate(plane, tris), ras.height)
    # a second, nearer square over the left half hides the plane there
    uv2 = np.vstack([uv, [[-1, -1], [7.5, -1], [7.5, 20], [-1, 20]]])
    h2 = np.concatenate([plane, [100.0] * 4])
    ras2 = rasterize(uv2, h2, np.vstack([tris, [[4, 5, 6], [4, 6, 7]]]), (16, 16))
    assert (ras2.tri[:, :8] >= 2).all() and (ras2.tri[:, 8:] < 2).all()


def test_bad_uv_shape_is_rejected():
    with pytest.raises(ValueError, match="rasterize"):
        rasterize(np.zeros((3, 3)), np.zeros(3), np.array([[0, 1, 2]]), (4, 4))


def test_sphere_depth_normals_and_silhouette():
    grid = make_grid(1.5)
    radius = 60.0
    cam = Camera(96, 1.5, 0.0, 0.0)
    view = render_surface(np.full(grid.shape, radius), grid, np.eye(3), np.zeros(3), cam)
    c = (cam.size - 1) / 2
    v, u = np.mgrid[0 : cam.size, 0 : cam.size]
    x, y = (u - c) * cam.pitch_mm, (c - v) * cam.pitch_mm
    rho2 = x**2 + y**2
    inner = rho2 < (0.9 * radius) ** 2
    assert view.mask[inner].all() and not view.mask[rho2 > (1.02 * radius) ** 2].any()
    assert np.abs(view.height[inner] - np.sqrt(radius**2 - rho2[inner])).max() < 0.5
    expect = np.stack([x, y, np.sqrt(np.clip(radius**2 - rho2, 0, None))], -1) / radius
    assert np.abs(view.normal[inner] - expect[inner]).max() < 0.02
    assert view.mask.sum() * cam.pitch_mm**2 == pytest.approx(np.pi * radius**2, rel=0.03)


def test_rotation_moves_the_nose_as_documented_and_landmarks_hide():
    grid = make_grid(2.0)
    r = np.full(grid.shape, 50.0)
    nose = np.array([[0.0, 0.0, 50.0], [0.0, 0.0, -50.0]])  # front and back of the ball
    for yaw, pitch, axis, sign in ((30, 0, 0, 1), (-30, 0, 0, -1), (0, 20, 1, 1), (0, -20, 1, -1)):
        p = rotation(yaw, pitch, 0.0) @ nose[0]
        assert np.sign(p[axis]) == sign  # left/up move the nose to +x / +y
    cam = Camera(64, 2.0, 0.0, 0.0)
    view = render_surface(r, grid, np.eye(3), np.zeros(3), cam)
    uv, vis = project_landmarks(nose, np.eye(3), np.zeros(3), cam, view, tol_mm=2.0)
    assert vis.tolist() == [True, False]
    assert np.allclose(uv[0], [31.5, 31.5])


def test_partial_rotation_and_the_neck_bend():
    from thzface.sim.head import bend_weights
    from thzface.sim.render import partial_rotate

    rot = rotation(0.0, -20.0, 0.0)
    v = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert np.allclose(partial_rotate(v, rot, np.ones(2)), v @ rot.T)  # share 1 = the whole rotation
    assert np.allclose(partial_rotate(v, rot, np.zeros(2)), v)  # share 0 = the torso's pose
    half = partial_rotate(v, rot, np.full(2, 0.5))
    assert np.allclose(half, v @ rotation(0.0, -10.0, 0.0).T)
    w = bend_weights(np.array([[[0.0, -100.0, 0.0], [0.0, -135.0, 0.0], [0.0, -200.0, 0.0]]]))
    assert w[0, 0] == 1.0 and 0 < w[0, 1] < 1 and w[0, 2] == 0.0


def test_the_neck_draws_no_glint_line_below_the_chin():
    from thzface.sim.face_model import build_face_model, make_identities
    from thzface.sim.presets import get_preset
    from thzface.sim.sample import simulate_sample

    cfg = get_preset("bench-20", ["sensor.display_weights={linear: 1.0}", "face_model.grid_deg=2"])
    model = build_face_model(cfg.face_model)
    bright = []
    for j, ident in enumerate(make_identities(model, cfg, 0)[:4]):
        o = simulate_sample(cfg, model, ident, 0, 0, j * 35)  # front view, noise-free clean target
        cx, cy = o.aux["landmarks"][8]  # chin
        band = o.clean[int(np.ceil(cy)) + 3 :, max(int(cx) - 10, 0) : int(cx) + 10]
        bright.append(int((band > 127).sum()))
    assert sum(bright) <= 2  # the old rigid vertical neck lit about 15 pixels per image here
