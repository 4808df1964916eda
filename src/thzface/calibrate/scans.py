"""Load a folder of THz scans in the seed format as paired arrays, refusing folders calibration cannot use.

Reads ``DIR/thz/*.png`` (or ``DIR/*.png`` when there is no ``thz/``); non-seed names are skipped and listed.
Concealed and unconcealed scans of the same (identity, posture, sample) form one unit, so that resampling for
uncertainties keeps the two scans that share a noise realisation together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thzface.data.io import load_image
from thzface.data.naming import NameError_, parse_name

MIN_IMAGES = 12  # fewer scans cannot constrain ten parameters (the noise and stripe estimators pool rows)
MIN_SIZE = 16  # smallest image side the spectral and row estimators accept


class CalibrationDataError(ValueError):
    """A folder cannot be calibrated from (too few images, mixed or tiny sizes, no seed names)."""


@dataclass
class Scans:
    """A set of THz scans as float arrays in [0, 1]; unit ``i`` is one (identity, posture, sample)."""

    concealed: np.ndarray  # (N, H, W) float32; all zeros where has_concealed is False
    unconcealed: np.ndarray  # (N, H, W) float32; all zeros where has_unconcealed is False
    has_concealed: np.ndarray  # (N,) bool: concealed image present for unit i
    has_unconcealed: np.ndarray  # (N,) bool: unconcealed image present for unit i
    names: list[str]  # (N,) unit names <identity>_<posture code>_<sample>
    skipped: list[str] = field(default_factory=list)  # files ignored (not seed-named)

    @property
    def size(self) -> int:
        return int(self.concealed.shape[-1])

    @property
    def images(self) -> int:
        return int(self.has_concealed.sum() + self.has_unconcealed.sum())

    @property
    def pairs(self) -> int:
        return int((self.has_concealed & self.has_unconcealed).sum())

    def __len__(self) -> int:
        return len(self.names)


def scan_folder(folder: str | Path) -> Path:
    """The folder holding the scans: ``DIR/thz`` when present, else ``DIR``."""
    root = Path(folder)
    if not root.is_dir():
        raise CalibrationDataError(f"{root}: not a folder")
    return root / "thz" if (root / "thz").is_dir() else root


def load_scans(folder: str | Path, min_images: int = MIN_IMAGES) -> Scans:
    """Read every seed-named PNG of ``folder`` (grayscale, one square size) into a :class:`Scans`."""
    src = scan_folder(folder)
    units: dict[tuple[str, int, str], dict[bool, np.ndarray]] = {}
    skipped: list[str] = []
    sizes: dict[tuple[int, int], str] = {}
    for p in sorted(src.glob("*.png")):
        try:
            nm = parse_name(p.name)
        except NameError_:
            skipped.append(p.name)
            continue
        arr = load_image(p, size=None, channels=1, strict_square=True)[0]  # (H, W)
        sizes.setdefault(arr.shape, p.name)
        units.setdefault((nm.identity, nm.posture, nm.sample), {})[nm.concealed] = arr
    n_img = sum(len(v) for v in units.values())
    if n_img == 0:
        raise CalibrationDataError(f"{src}: no seed-named PNG scans (<id>_<b|n><p><b|n>_<k>.png)")
    if len(sizes) > 1:
        seen = ", ".join(f"{h}x{w} ({name})" for (h, w), name in sorted(sizes.items()))
        raise CalibrationDataError(f"{src}: mixed image sizes {seen}; calibration needs one size for all scans")
    size = next(iter(sizes))[0]
    if size < MIN_SIZE:
        raise CalibrationDataError(f"{src}: images are {size}x{size}; calibration needs at least {MIN_SIZE} px")
    if n_img < min_images:
        raise CalibrationDataError(f"{src}: {n_img} scans; calibration needs at least {min_images}")
    keys = sorted(units)
    zeros = np.zeros((size, size), np.float32)
    b = np.stack([units[k].get(True, zeros) for k in keys])  # (N, H, W)
    u = np.stack([units[k].get(False, zeros) for k in keys])  # (N, H, W)
    return Scans(
        concealed=b,
        unconcealed=u,
        has_concealed=np.array([True in units[k] for k in keys]),
        has_unconcealed=np.array([False in units[k] for k in keys]),
        names=[f"{i}_{p + 1}_{s}" for i, p, s in keys],
        skipped=skipped,
    )
