"""Deterministic, atomic file writers for datasets: PNG and npz bytes written through temp file + rename.

``np.savez`` stamps zip entries with the current time; :func:`npz_bytes` fixes the timestamp so the same
arrays always give the same bytes (needed for byte-identical datasets across runs and worker counts).
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image


def png_bytes(img: np.ndarray) -> bytes:
    """uint8 (H, W) -> grayscale PNG, (H, W, 3) -> RGB PNG."""
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"png: expected uint8 (H, W) or (H, W, 3), got {img.dtype} {img.shape}")
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Compressed .npz with fixed zip timestamps (readable by np.load, allow_pickle=False)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            arr = io.BytesIO()
            np.lib.format.write_array(arr, np.asanyarray(value), allow_pickle=False)
            zf.writestr(info, arr.getvalue())
    return buf.getvalue()


def no_nan(d: dict) -> dict:
    """NaN (an undefined probe, e.g. within-identity distance with one sample) -> None, valid JSON."""
    return {
        k: no_nan(v) if isinstance(v, dict) else (None if isinstance(v, float) and v != v else v) for k, v in d.items()
    }


def json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
