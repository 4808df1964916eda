"""Clean reconstruction targets: the noise-free unconcealed head rendered at the concealed scan's exact pose,
which simulated folders hold in ``clean/`` under the sample's unconcealed file name. Real folders have none.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from thzface.data.io import load_image
from thzface.data.naming import format_name, parse_name

CLEAN_DIR = "clean"


def clean_target_path(root: str | Path, name: str) -> Path | None:
    """``root/clean/<id>_n<p>n_<k>.png`` for either scan name of a sample, or None when the folder has none."""
    n = parse_name(Path(name).name)  # raises NameError_ with one line on a bad name
    p = Path(root) / CLEAN_DIR / format_name(n.identity, n.posture, False, n.sample)
    return p if p.is_file() else None


def load_clean_target(root: str | Path, name: str, size: int | None = None) -> np.ndarray | None:
    """The clean target of scan ``name`` as (1, S, S) float32 in [0, 1] (S = ``size`` or the file's), or None
    (real folders)."""
    p = clean_target_path(root, name)
    return None if p is None else load_image(p, size)


def load_clean_targets(root: str | Path, names: Sequence[str], size: int | None = None) -> np.ndarray | None:
    """The clean targets (N, 1, S, S) of scans ``names``, or None unless every one has its own (real folders)."""
    found = [load_clean_target(root, n, size) for n in names]
    ok = [x for x in found if x is not None]
    return np.stack(ok) if ok and len(ok) == len(found) else None
