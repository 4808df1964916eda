"""Coefficients → image for ``unmask3d``: layout, placement fit, edits, and the simulator's face model + renderer.

A physical coefficient vector is ``[shape (S), expression (E), yaw, pitch, roll (degrees), s, u0, v0]``: the face
model's identity and expression coefficients, the head pose of the simulator (``aux/*.npz`` ``pose``), and an
orthographic placement ``pixel = s * (R p)_xy * (1, -1) + (u0, v0)`` at the network's image size (s in px/mm).
The placement is not stored by the simulator; :func:`fit_placement` recovers it by least squares from the true
3D landmarks (face model at the true coefficients, rotated by the true pose) and the 2D landmarks of the aux file.

:class:`Renderer` draws a coefficient vector with the simulator's own code (``FaceModel.build`` +
``render_surface``, numpy, no gradient) as three channels: depth (1 at the nearest point, 0 at 150 mm behind
it or on background), Lambertian shading, region labels / 7. Rendering a 32-64 px head at the default 3° grid
takes ~30 ms on one CPU core.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from thzface.sim.face_model import FaceModel
from thzface.sim.pose import rotation
from thzface.sim.render import Camera, render_surface

TRAITS = {"hairline_mm": 57.5, "hair_mm": 8.5, "facial_hair": 0}  # mean traits (the N3D does not predict traits)
SUPERSAMPLE = 2  # render at 2x and box-average (anti-aliasing)
DEPTH_RANGE_MM = 150.0  # depth channel: 1 at the nearest point, 0 this far behind it
LIGHT = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])  # shading light direction (towards sensor)
NUM_LABELS = 7  # largest region label (docs/dataset-format.md)
POSE_NAMES = ("yaw", "pitch", "roll")
BUILTIN_ALIASES = {"happiness": "smile", "mouth_open": "jaw_open", "surprise": "brow_raise"}
SFM_EXPRESSIONS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")


@dataclass(frozen=True)
class CoeffLayout:
    """Where each group sits in the coefficient vector."""

    n_shape: int  # identity coefficients of the face model
    expr_names: tuple[str, ...]  # one name per expression coefficient

    @property
    def n_expr(self) -> int:
        return len(self.expr_names)

    @property
    def size(self) -> int:
        return self.n_shape + self.n_expr + 6

    def groups(self) -> dict[str, slice]:
        s, e = self.n_shape, self.n_shape + self.n_expr
        return {
            "shape": slice(0, s),
            "expression": slice(s, e),
            "pose": slice(e, e + 3),
            "placement": slice(e + 3, e + 6),
        }


def make_face_model(kind: str, path: str, grid_deg: float) -> FaceModel:
    """The simulator's face model (``builtin`` or the Surrey ``sfm`` from ``path``)."""
    from thzface.sim.config import FaceModelConfig
    from thzface.sim.face_model import build_face_model

    return build_face_model(FaceModelConfig(kind=kind, path=path, grid_deg=grid_deg))


def layout_for(kind: str, path: str = "") -> CoeffLayout:
    """Coefficient layout of a face model; the builtin one needs no file."""
    if kind == "builtin":
        from thzface.sim.builtin_face import EXPRESSIONS, BuiltinFaceModel

        return CoeffLayout(BuiltinFaceModel.n_shape, tuple(EXPRESSIONS))
    if kind == "sfm":
        from thzface.sim.sfm import resolve_path

        with np.load(resolve_path(path), allow_pickle=False) as d:
            n_shape = int(d["basis"].shape[1])
            names = tuple(str(n) for n in d["expression_names"]) if "expression_names" in d.files else SFM_EXPRESSIONS
        return CoeffLayout(n_shape, names)
    raise ValueError(f"face_model: unknown {kind!r}; known: builtin, sfm")


def rotation_torch(pose_deg: torch.Tensor) -> torch.Tensor:
    """Batched differentiable twin of :func:`thzface.sim.pose.rotation`: (B, 3) degrees → (B, 3, 3)."""
    y, p, r = torch.deg2rad(pose_deg).unbind(dim=1)  # (B,) each
    one, zero = torch.ones_like(y), torch.zeros_like(y)

    def mat(rows: list[list[torch.Tensor]]) -> torch.Tensor:
        return torch.stack([torch.stack(row, dim=1) for row in rows], dim=1)  # (B, 3, 3)

    ry = mat([[y.cos(), zero, y.sin()], [zero, one, zero], [-y.sin(), zero, y.cos()]])
    rx = mat([[one, zero, zero], [zero, p.cos(), p.sin()], [zero, -p.sin(), p.cos()]])
    rz = mat([[r.cos(), -r.sin(), zero], [r.sin(), r.cos(), zero], [zero, zero, one]])
    return ry @ rx @ rz


def project(lm3d: torch.Tensor, pose_deg: torch.Tensor, placement: torch.Tensor) -> torch.Tensor:
    """Head-frame points (B, N, 3) → pixels (B, N, 2) by pose (B, 3) and placement (B, 3) = (s, u0, v0)."""
    world = lm3d @ rotation_torch(pose_deg).transpose(1, 2)  # (B, N, 3)
    s, u0, v0 = placement[:, 0:1], placement[:, 1:2], placement[:, 2:3]  # (B, 1) each
    return torch.stack([s * world[..., 0] + u0, -s * world[..., 1] + v0], dim=-1)  # (B, N, 2)


def fit_placement(lm3d: np.ndarray, pose_deg: np.ndarray, lm2d: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares (s, u0, v0) mapping rotated 3D landmarks (N, 3) onto pixels (N, 2); also the RMS residual."""
    w = lm3d @ rotation(*[float(a) for a in pose_deg]).T  # (N, 3)
    n = len(w)
    a = np.zeros((2 * n, 3))
    a[:n, 0], a[:n, 1] = w[:, 0], 1.0
    a[n:, 0], a[n:, 2] = -w[:, 1], 1.0
    b = np.concatenate([lm2d[:, 0], lm2d[:, 1]])
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    rms = float(np.sqrt(np.mean((a @ sol - b) ** 2)))
    return sol.astype(np.float32), rms


class Renderer:
    """Draws physical coefficient vectors at ``image_size`` with the simulator's face model and renderer."""

    def __init__(self, kind: str, path: str, grid_deg: float, image_size: int) -> None:
        self.layout = layout_for(kind, path)
        self.model = make_face_model(kind, path, grid_deg)
        self.size = image_size

    def landmarks3d(self, shape: np.ndarray, expr: np.ndarray) -> np.ndarray:
        """iBUG-68 landmarks (68, 3) in the head frame (mm) of the face at these coefficients."""
        head = self.model.build(np.asarray(shape, np.float64), np.asarray(expr, np.float64), dict(TRAITS))
        return head.landmarks.astype(np.float32)

    def plausible(self, c: np.ndarray) -> np.ndarray:
        """Clamp a physical vector (K,) to a range the face model can build (untrained N3D outputs are wild)."""
        g, size = self.layout.groups(), self.size
        c = np.asarray(c, np.float64).copy()
        c[g["shape"]] = np.clip(c[g["shape"]], -3.0, 3.0)
        c[g["expression"]] = np.clip(c[g["expression"]], -1.0, 2.0)
        c[g["pose"]] = np.clip(c[g["pose"]], [-75.0, -50.0, -30.0], [75.0, 50.0, 30.0])
        c[g["placement"]] = np.clip(
            c[g["placement"]], [size / 400, -size / 2, -size / 2], [size / 80, 1.5 * size, 1.5 * size]
        )
        return c

    def render_one(self, c: np.ndarray) -> np.ndarray:
        """(K,) physical coefficients → (3, S, S) float32 render in [0, 1]."""
        g = self.layout.groups()
        c = self.plausible(c)
        head = self.model.build(c[g["shape"]], c[g["expression"]], dict(TRAITS))
        s, u0, v0 = c[g["placement"]] * [SUPERSAMPLE, 1.0, 1.0]
        n = self.size * SUPERSAMPLE
        u0, v0 = (u0 + 0.5) * SUPERSAMPLE - 0.5, (v0 + 0.5) * SUPERSAMPLE - 0.5  # pixel centres at the fine grid
        mid = (n - 1) / 2.0
        cam = Camera(n, 1.0 / s, (mid - u0) / s, (v0 - mid) / s)
        view = render_surface(head.r, head.grid, rotation(*c[g["pose"]]), np.zeros(3), cam)
        mask = view.mask
        out = np.zeros((3, n, n))
        if mask.any():
            h = view.height
            out[0] = np.where(mask, np.clip(1.0 - (h[mask].max() - h) / DEPTH_RANGE_MM, 0.0, 1.0), 0.0)
            out[1] = np.where(mask, 0.15 + 0.85 * np.clip(view.normal @ LIGHT, 0.0, 1.0), 0.0)
            out[2] = view.attr(head.labels, nearest=True) / NUM_LABELS
        return out.reshape(3, self.size, SUPERSAMPLE, self.size, SUPERSAMPLE).mean(axis=(2, 4)).astype(np.float32)

    def render(self, coeffs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """(B, K) physical coefficients → (B, 3, S, S) float32 tensor on the CPU."""
        arr = coeffs.detach().cpu().double().numpy() if isinstance(coeffs, torch.Tensor) else np.asarray(coeffs)
        if arr.ndim != 2 or arr.shape[1] != self.layout.size:
            raise ValueError(f"render: coefficients must be (B, {self.layout.size}), got {arr.shape}")
        return torch.from_numpy(np.stack([self.render_one(c) for c in arr]))  # (B, 3, S, S)


def parse_edit(text: str, layout: CoeffLayout, aliases: dict[str, str] | None = None) -> tuple[int, float]:
    """``expression=NAME:V`` | ``NAME=V`` | ``shape=I:V`` | ``pose=yaw|pitch|roll:V`` → (index, value to set)."""
    aliases = BUILTIN_ALIASES if aliases is None else aliases
    g = layout.groups()
    where = f"--edit {text!r}"
    if "=" not in text:
        raise ValueError(f"{where}: expected KEY=VALUE, e.g. expression=happiness:0.5")
    key, rest = (p.strip() for p in text.split("=", 1))
    if key not in ("expression", "shape", "pose"):
        key, rest = "expression", f"{key}:{rest}"
    if ":" not in rest:
        raise ValueError(f"{where}: expected {key}=NAME:VALUE")
    name, raw = (p.strip() for p in rest.rsplit(":", 1))
    try:
        value = float(raw)
    except ValueError as e:
        raise ValueError(f"{where}: value {raw!r} is not a number") from e
    if key == "expression":
        name = name if name in layout.expr_names else aliases.get(name, name)
        if name not in layout.expr_names:
            raise ValueError(f"{where}: unknown expression {name!r}; known: {list(layout.expr_names)}")
        return g["expression"].start + layout.expr_names.index(name), value
    if key == "pose":
        if name not in POSE_NAMES:
            raise ValueError(f"{where}: unknown pose angle {name!r}; known: {list(POSE_NAMES)}")
        return g["pose"].start + POSE_NAMES.index(name), value
    if not name.isdigit() or int(name) >= layout.n_shape:
        raise ValueError(f"{where}: shape index must be 0..{layout.n_shape - 1}, got {name!r}")
    return int(name), value


def apply_edits(coeffs: torch.Tensor, edits: list[tuple[int, float]]) -> torch.Tensor:
    """Set coefficients (B, K) at the edited indices; returns a new tensor."""
    out = coeffs.clone()
    for index, value in edits:
        out[:, index] = value
    return out


def face_model_of(root: Path) -> str | None:
    """The face model name in ``root/meta.json`` (None when absent), to check it matches the config."""
    import json

    path = root / "meta.json"
    if not path.is_file():
        return None
    meta = json.loads(path.read_text(encoding="utf-8"))
    fm = meta.get("face_model") if isinstance(meta, dict) else None
    if isinstance(fm, dict):
        return fm.get("name") or fm.get("kind")
    return fm if isinstance(fm, str) else None
