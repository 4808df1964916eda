"""Head postures: class-specific yaw/pitch/roll draws (thz-physics section 4.3) and rotation matrices.

Labels are 0-based: 0 front, 1 left, 2 right, 3 up, 4 down. "Left" means the subject turns to their own
left, so the nose moves towards +x (image right in a front view); "up" means the subject looks up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thzface.data.naming import NUM_POSTURES
from thzface.sim.config import PoseConfig


@dataclass(frozen=True)
class Pose:
    yaw: float  # degrees, + = subject's left
    pitch: float  # degrees, + = looking up
    roll: float  # degrees, + = counter-clockwise in the image (seen from the sensor)
    dx: float  # lateral placement offset, mm
    dy: float  # vertical placement offset, mm

    def angles(self) -> np.ndarray:
        return np.array([self.yaw, self.pitch, self.roll], dtype=np.float32)


def sample_pose(posture: int, cfg: PoseConfig, rng: np.random.Generator) -> Pose:
    """Draw one pose of class ``posture`` (0..4)."""
    if not 0 <= posture < NUM_POSTURES:
        raise ValueError(f"posture: expected a 0-based label 0..{NUM_POSTURES - 1}, got {posture}")
    jit = cfg.cross_jitter_deg
    if posture == 0:
        yaw, pitch = rng.uniform(-cfg.front_deg, cfg.front_deg, 2)
    elif posture in (1, 2):
        yaw = (1 if posture == 1 else -1) * rng.uniform(*cfg.turn_yaw_deg)
        pitch = rng.uniform(-jit, jit)
    else:
        pitch = (1 if posture == 3 else -1) * rng.uniform(*cfg.tilt_pitch_deg)
        yaw = rng.uniform(-jit, jit)
    roll = rng.uniform(-cfg.roll_deg, cfg.roll_deg)
    dx, dy = rng.uniform(-cfg.lateral_mm, cfg.lateral_mm, 2)
    return Pose(float(yaw), float(pitch), float(roll), float(dx), float(dy))


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Head-to-world rotation R = R_yaw @ R_pitch @ R_roll (degrees); world: x right, y up, z to the sensor."""
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(-p)], [0, np.sin(-p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return ry @ rx @ rz
