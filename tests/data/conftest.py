"""Tiny synthetic dataset folders in the seed format (PIL-written PNGs; no simulator)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thzface.data.naming import format_name

IDS = ("ida", "idb", "idc", "idd")


def _pattern(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random image in [0.2, 0.8] (an identity's 'face')."""
    coarse = rng.random((4, 4))
    img = np.asarray(Image.fromarray(coarse.astype(np.float32)).resize((size, size), Image.Resampling.BILINEAR))
    return 0.2 + 0.6 * img


def build_dataset(
    root: Path,
    identities: Sequence[str] = IDS,
    postures: int = 5,
    samples: int = 3,
    size: int = 16,
    seed: int = 0,
    visible: bool = False,
    patterns: dict[str, np.ndarray] | None = None,
) -> list[str]:
    """Write thz/ (and visible/) PNGs for identities × postures × samples × {concealed, unconcealed}."""
    rng = np.random.default_rng(seed)
    (root / "thz").mkdir(parents=True, exist_ok=True)
    if visible:
        (root / "visible").mkdir(exist_ok=True)
    names = []
    for ident in identities:
        base = patterns[ident] if patterns and ident in patterns else _pattern(rng, size)
        for p in range(postures):
            for k in range(samples):
                for concealed in (True, False):
                    img = base * (0.6 if concealed else 1.0) + 0.05 * rng.random((size, size))
                    name = format_name(ident, p, concealed, k)
                    Image.fromarray(np.uint8(np.clip(img, 0, 1) * 255)).save(root / "thz" / name)
                    if visible:
                        Image.fromarray(np.uint8(base * 255)).convert("RGB").save(root / "visible" / name)
                    names.append(name)
    return sorted(names)


@pytest.fixture
def make_ds(tmp_path: Path) -> Callable[..., Path]:
    def make(**kw) -> Path:
        root = tmp_path / kw.pop("name", "ds")
        build_dataset(root, **kw)
        return root

    return make
