"""The classical reconstruction baseline of an embedder run: the training rows' mean face per posture.

Each concealed training scan contributes its clean target (the noise-free unconcealed face at its pose, simulated
folders) or, where the folder has none, its unconcealed counterpart scan; the per-posture mean
(:func:`thzface.metrics.reconstruction.mean_face_by_posture`) is then picked by the model's predicted posture
and scored like copy-the-input (route ``mean_face``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from thzface.data.csv import TripletRow
from thzface.data.io import load_image
from thzface.data.naming import NUM_POSTURES, parse_name
from thzface.data.targets import load_clean_target
from thzface.metrics.reconstruction import mean_face_by_posture


def training_targets(root: Path, rows: Sequence[TripletRow], size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Targets (N, 1, S, S) and posture labels (N,) of the training rows' concealed scans, each scan once: the
    clean target, else the unconcealed counterpart scan; scans with neither are skipped (None when none has)."""
    images, postures = [], []
    for anchor in sorted({r.anchor for r in rows}):
        name = parse_name(Path(anchor).name)
        target = load_clean_target(root, anchor, size)
        if target is None:
            scan = root / "thz" / name.counterpart().filename
            target = load_image(scan, size, 1) if scan.is_file() else None
        if target is not None:
            images.append(target)
            postures.append(name.posture)
    return (np.stack(images), np.array(postures)) if images else None


def training_mean_faces(root: Path, rows: Sequence[TripletRow], size: int) -> np.ndarray | None:
    """The per-posture mean face (P, 1, S, S) of the training rows' targets, or None without any."""
    found = training_targets(root, rows, size)
    return None if found is None else mean_face_by_posture(found[0], found[1], NUM_POSTURES)
