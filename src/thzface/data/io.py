"""Image file I/O: load an image as float32 (C, H, W) in [0, 1]; save PNGs atomically.

Rules (one place, used by the datasets, ``check`` and ``split``):

* Modes: ``L`` and ``1`` are read as is; ``P``/``PA`` (palette) are expanded to RGB(A); ``LA``/``RGBA``
  drop alpha; ``RGB`` becomes grayscale by PIL's ITU-R 601 luma when one channel is asked for (RGB-saved
  grayscale images come back unchanged); 16/32-bit integer modes (``I;16*``, ``I``) are divided by 65535;
  ``F`` must hold values in [0, 1]. Every other mode (CMYK, YCbCr, LAB, HSV, ...) raises :class:`ImageError`.
* Size: a non-square image is centre-cropped to its shorter side (or rejected with ``strict_square=True``);
  an image whose side differs from ``size`` is resized with **bicubic** interpolation on float values
  (no 8-bit re-quantisation) and clipped back to [0, 1] (bicubic overshoot).
* Truncated files are errors (PIL's ``LOAD_TRUNCATED_IMAGES`` is never switched on here).
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Collection
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_SIDE = 4096  # larger images are refused (a THz scan is ~64 px; this catches wrong files)
MAX_BYTES = 20 * 1024 * 1024  # larger files are refused
_ALPHA_DROP = {"LA": "L", "RGBA": "RGB", "PA": "RGB", "P": "RGB"}
_INT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
SUPPORTED_MODES = frozenset({"L", "1", "RGB", "F", *_ALPHA_DROP, *_INT_MODES})
_BICUBIC = Image.Resampling.BICUBIC


class ImageError(ValueError):
    """An image file is missing, unreadable, truncated, too large or in an unsupported mode."""


def open_image(path: str | Path) -> Image.Image:
    """Open and fully decode ``path``; any failure becomes a one-line :class:`ImageError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: file not found")
    nbytes = path.stat().st_size
    if nbytes == 0:
        raise ImageError(f"{path}: empty file (0 bytes)")
    if nbytes > MAX_BYTES:
        raise ImageError(f"{path}: file is {nbytes / 2**20:.1f} MB, larger than {MAX_BYTES / 2**20:.0f} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(path.read_bytes()))  # no file handle left open
            w, h = im.size
            if max(w, h) > MAX_SIDE:
                raise ImageError(f"{path}: image is {w}x{h}, larger than {MAX_SIDE} px")
            im.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"{path}: image too large ({e})") from e
    except UnidentifiedImageError as e:
        raise ImageError(f"{path}: not a readable image (unknown or corrupt format)") from e
    except OSError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "truncated" in msg.lower():
            raise ImageError(f"{path}: truncated image data ({msg})") from e
        raise ImageError(f"{path}: not a readable image ({msg})") from e
    except (ValueError, SyntaxError) as e:  # some PIL decoders raise these on corrupt data
        raise ImageError(f"{path}: not a readable image ({e})") from e
    if im.mode not in SUPPORTED_MODES:
        raise ImageError(f"{path}: unsupported image mode {im.mode!r} (expected grayscale L, RGB, palette or 16-bit)")
    return im


def image_to_array(im: Image.Image, channels: int, where: str = "image") -> np.ndarray:
    """PIL image (a supported mode) → float32 (C, H, W) in [0, 1] following the module's mode rules."""
    if channels not in (1, 3):
        raise ValueError(f"channels={channels}: expected 1 or 3")
    if im.mode in _ALPHA_DROP:
        im = im.convert("RGBA" if im.mode in ("P", "PA") else im.mode).convert(_ALPHA_DROP[im.mode])
    if im.mode == "1":
        im = im.convert("L")
    if im.mode in _INT_MODES:
        arr = np.asarray(im, dtype=np.float64) / 65535.0  # (H, W)
        if arr.min() < 0 or arr.max() > 1:
            raise ImageError(f"{where}: {im.mode} values outside 0..65535")
        arr = arr[None]  # (1, H, W)
    elif im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)[None]  # (1, H, W)
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ImageError(f"{where}: float image values must be finite and in [0, 1]")
    elif im.mode == "RGB" and channels == 1:
        arr = np.asarray(im.convert("L"), dtype=np.float64)[None] / 255.0  # (1, H, W)
    elif im.mode == "RGB":
        arr = np.asarray(im, dtype=np.float64).transpose(2, 0, 1) / 255.0  # (3, H, W)
    else:  # L
        arr = np.asarray(im, dtype=np.float64)[None] / 255.0  # (1, H, W)
    if arr.shape[0] != channels:
        arr = np.repeat(arr, channels, axis=0)  # (C, H, W) grayscale replicated to 3 channels
    return arr.astype(np.float32)


def center_square(arr: np.ndarray) -> np.ndarray:
    """Centre-crop (C, H, W) to its shorter side."""
    _, h, w = arr.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return arr[:, y0 : y0 + s, x0 : x0 + s]  # (C, s, s)


def resize_bicubic(arr: np.ndarray, size: int) -> np.ndarray:
    """Resize (C, S, S) float32 to (C, size, size) with bicubic interpolation on floats, clipped to [0, 1]."""
    if arr.shape[1] == size and arr.shape[2] == size:
        return arr
    out = [
        np.asarray(Image.fromarray(np.ascontiguousarray(c, dtype=np.float32)).resize((size, size), _BICUBIC))
        for c in arr
    ]
    return np.clip(np.stack(out), 0.0, 1.0).astype(np.float32)  # (C, size, size)


def load_image(path: str | Path, size: int | None, channels: int = 1, strict_square: bool = False) -> np.ndarray:
    """Load ``path`` as float32 (C, H, W) in [0, 1], square, resized to ``size`` (None keeps the file's size).

    Raises :class:`ImageError` (a ValueError) with a one-line message naming the file.
    """
    if size is not None and size < 1:
        raise ValueError(f"size={size}: must be a positive number of pixels")
    im = open_image(path)
    w, h = im.size
    if w != h and strict_square:
        raise ImageError(f"{path}: image is {w}x{h}, expected a square image")
    arr = center_square(image_to_array(im, channels, str(path)))  # (C, S, S)
    return arr if size is None else resize_bicubic(arr, size)


def to_uint8(array: np.ndarray, where: str = "array") -> np.ndarray:
    """(H, W), (1, H, W), (3, H, W) or (H, W, 3) float in [0, 1] or uint8 → uint8 (H, W) or (H, W, 3)."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = a.transpose(1, 2, 0)  # (H, W, C)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]  # (H, W)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] != 3) or a.size == 0:
        raise ValueError(f"{where}: expected an (H, W), (1|3, H, W) or (H, W, 3) image, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool or not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{where}: expected float values in [0, 1] or uint8, got dtype {a.dtype}")
    if not np.isfinite(a).all():
        raise ValueError(f"{where}: image holds NaN or infinite values")
    if a.min() < -1e-6 or a.max() > 1 + 1e-6:
        raise ValueError(f"{where}: float values must lie in [0, 1], found [{a.min():.4g}, {a.max():.4g}]")
    return np.round(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_png_atomic(array: np.ndarray, path: str | Path) -> None:
    """Write ``array`` (see :func:`to_uint8`) as an 8-bit PNG (L or RGB) via a temp file + rename."""
    path = Path(path)
    img = Image.fromarray(to_uint8(array, str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            img.save(f, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


UNCONCEALED_KEYS = ("part_boxes", "landmarks")  # aux arrays a simulated world also writes at the unconcealed pose


def aux_key(key: str, files: Collection[str], unconcealed: bool = False) -> str | None:
    """The aux array holding ``key`` for a scan: for the unconcealed scan of a capture (whose aux file is the
    concealed scan's) ``<key>_unconcealed`` where the world wrote it (its own pose: independent captures),
    else ``key`` (older worlds: one pose for both scans); None when neither is in ``files``."""
    own = f"{key}_unconcealed"
    if unconcealed and key in UNCONCEALED_KEYS and own in files:
        return own
    return key if key in files else None


def read_aux_array(path: str | Path, key: str, unconcealed: bool = False) -> np.ndarray | None:
    """Array ``key`` of an aux ``.npz`` as float64 (the unconcealed scan's own with ``unconcealed``, see
    :func:`aux_key`), or None when the file or the key is absent; an unreadable file raises :class:`ImageError`
    naming it."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            k = aux_key(key, z.files, unconcealed)
            return None if k is None else np.asarray(z[k], dtype=np.float64)
    except (OSError, ValueError) as e:
        raise ImageError(f"{path}: unreadable aux file ({e})") from e
