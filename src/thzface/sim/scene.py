"""One scene of a sample: pose, camera and garments decided before rendering (:class:`SceneSetup`), the render
requests they need, and the :class:`Scene` assembled from the rendered views (skin, garment envelope)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thzface.sim import head as H
from thzface.sim.config import SimConfig
from thzface.sim.garments import Garment, sample_concealment
from thzface.sim.pose import Pose, rotation
from thzface.sim.render import Camera, RenderRequest, View, front_of, render_request, rotate


@dataclass
class Scene:
    """Fine-grid geometry of one sample, shared by every image of it."""

    surf: H.HeadSurface  # head with this sample's expression
    expr: np.ndarray  # expression coefficients
    pose: Pose  # drawn pose
    rot: np.ndarray  # (3, 3) head -> world
    shift: np.ndarray  # (3,) head -> world translation (face centre at the origin)
    cam: Camera  # fine grid
    fov_mm: float  # field of view
    skin: View  # the bare head
    env: View | None  # the garment envelope (None without garments)
    garments: list[Garment]  # inner first
    garment_id: np.ndarray | None  # (H, W) outermost garment index per fine pixel (visible colours)
    labels: np.ndarray  # (H, W) region label of the skin
    front: np.ndarray  # (H, W) height of the first surface the beam meets

    @property
    def covered(self) -> np.ndarray:
        """Fine pixels where a garment lies in front of the skin."""
        return self.skin.mask & front_of(self.env, self.skin) if self.env is not None else np.zeros_like(self.skin.mask)


@dataclass
class SceneSetup:
    """Everything of one scene decided before rendering: pose, camera and the garments' envelope."""

    pose: Pose
    rot: np.ndarray  # (3, 3) head -> world
    shift: np.ndarray  # (3,) head -> world translation
    cam: Camera
    bend: np.ndarray  # (E, A) share of the head rotation each vertex follows
    garments: list[Garment]  # inner first
    r_env: np.ndarray  # (E, A) radius of the garment envelope
    cover: np.ndarray  # (E, A) bool, covered by any garment
    gid: np.ndarray  # (E, A) outermost garment index

    def requests(self, surf: H.HeadSurface) -> list[RenderRequest]:
        """The renders this scene needs: the skin, then the envelope if any garment covers the grid."""
        skin = RenderRequest(surf.r, self.rot, self.shift, self.cam, None, self.bend)
        env = RenderRequest(self.r_env, self.rot, self.shift, self.cam, self.cover, self.bend)
        return [skin, env] if self.cover.any() else [skin]


def setup_scene(cfg: SimConfig, surf: H.HeadSurface, pose: Pose, fov: float, rng_garments=None) -> SceneSetup:
    """Pose, camera and garments of a scene; no garments when ``rng_garments`` is None."""
    g = surf.grid
    rot = rotation(pose.yaw, pose.pitch, pose.roll)
    lv = H.frame_levels(surf.landmarks)
    centre = np.array([0.0, 0.5 * (lv["y_eye"] + lv["y_sto"]), 50.0])  # face centre -> image centre, height 0
    shift = np.array([pose.dx, pose.dy, 0.0]) - rotate(centre[None], rot)[0]
    cam = Camera(cfg.image_size * cfg.render_scale, fov / (cfg.image_size * cfg.render_scale), 0.0, 0.0)
    bend = H.bend_weights(surf.points)  # the neck bends with the head
    garments = [] if rng_garments is None else sample_concealment(surf, cfg.concealment, cfg.fabrics, rng_garments)
    r_env, cover, gid = surf.r.copy(), np.zeros(g.shape, bool), np.zeros(g.shape, np.int64)
    for k, gm in enumerate(garments):  # the envelope is the outermost garment face
        r_env = np.where(gm.cover, np.maximum(np.where(cover, r_env, 0.0), gm.r_outer), r_env)
        gid = np.where(gm.cover, k, gid)
        cover |= gm.cover
    return SceneSetup(pose, rot, shift, cam, bend, garments, r_env, cover, gid)


def assemble_scene(surf: H.HeadSurface, expr: np.ndarray, fov: float, st: SceneSetup, views: list[View]) -> Scene:
    """The Scene from its setup and its rendered views (skin, then the envelope if requested)."""
    skin = views[0]
    env = views[1] if len(views) > 1 else None
    front = skin.height if env is None else np.where(front_of(env, skin), env.height, skin.height)
    return Scene(surf, expr, st.pose, st.rot, st.shift, st.cam, fov, skin, env, st.garments,
                 env.attr(st.gid, nearest=True) if env is not None else None,
                 skin.attr(surf.labels, nearest=True), front)  # fmt: skip


def build_scene(
    cfg: SimConfig, surf: H.HeadSurface, expr: np.ndarray, pose: Pose, fov: float, rng_garments=None
) -> Scene:
    """Pose and the fine-grid views (skin, garment envelope) by the reference renderer."""
    st = setup_scene(cfg, surf, pose, fov, rng_garments)
    return assemble_scene(surf, expr, fov, st, [render_request(q, surf.grid) for q in st.requests(surf)])
