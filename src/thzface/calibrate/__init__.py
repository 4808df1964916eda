"""Calibrate the simulator to a scanner from its scans: estimators, optimiser, preset writer, comparison.

``calibrate(DIR, PRESET.yaml)`` fits sensor and scene parameters to a folder of seed-format scans and writes a
simulator preset; ``compare(DIR_A, DIR_B, PNG)`` shows two folders' statistics side by side. See
docs/calibrate.md.
"""

from __future__ import annotations

from pathlib import Path


def calibrate(folder: Path, out: Path, seed: int = 0, **kwargs) -> dict:
    """Fit the simulator to ``folder`` and write the preset ``out`` (see :func:`thzface.calibrate.run.calibrate`)."""
    from thzface.calibrate.run import calibrate as _calibrate

    return _calibrate(Path(folder), Path(out), seed=seed, **kwargs)


def compare(dir_a: Path, dir_b: Path, out_png: Path | None = None) -> dict:
    """Statistics of two folders side by side (see :func:`thzface.calibrate.side_by_side.compare`)."""
    from thzface.calibrate.side_by_side import compare as _compare

    return _compare(Path(dir_a), Path(dir_b), Path(out_png) if out_png is not None else None)
