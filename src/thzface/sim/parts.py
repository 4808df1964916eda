"""The five face parts of the aux format (``part_boxes``, ``part_boxes_unconcealed``): names in box order and
the landmark groups (iBUG 68-point indices) each box surrounds. The learning side keeps the same order in
:data:`thzface.models.parts.PART_NAMES` (the simulator never imports it)."""

from __future__ import annotations

import numpy as np

PART_NAMES = ("left_eye", "right_eye", "nose", "mouth", "chin")  # left = image left (iBUG 36-41)
PART_LANDMARKS = ((36, 42), (42, 48), (27, 36), (48, 68), (5, 12))  # [start, stop) per part; chin adds point 57


def part_boxes(lm: np.ndarray, size: int) -> np.ndarray:
    """(5, 4) boxes x0, y0, x1, y1 around landmark groups, padded by 15 % of the eye distance, clipped."""
    pad = 0.15 * float(np.linalg.norm(lm[45] - lm[36]))
    out = np.zeros((5, 4), np.float32)
    for k, (a, b) in enumerate(PART_LANDMARKS):
        pts = lm[a:b] if k != 4 else np.vstack([lm[a:b], lm[57:58]])
        lo, hi = pts.min(0) - pad, pts.max(0) + pad
        out[k] = np.clip([lo[0], lo[1], hi[0], hi[1]], 0, size - 1)
    return out
