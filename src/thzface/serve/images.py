"""Uploaded image bytes → model input (C, S, S) in [0, 1], with clear refusals (size, type, dimensions), and
PNG/base64 encoding of results for the web app."""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from thzface.data.io import SUPPORTED_MODES, ImageError, center_square, image_to_array, resize_bicubic, to_uint8


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 5 * 2**20  # largest accepted image file, bytes
    max_side: int = 2048  # largest accepted image width or height, pixels
    formats: tuple[str, ...] = ("PNG", "JPEG", "BMP", "TIFF")  # accepted file formats (by content, not by name)
    max_scans: int = 5  # most scans a side of /api/verify (a portal pass, an enrolment), fused into one embedding

    @property
    def max_request_bytes(self) -> int:
        """Largest request body: ``max_scans`` images a side plus multipart overhead."""
        return 2 * self.max_scans * self.max_bytes + 64 * 1024

    def describe(self) -> dict:
        return {"max_bytes": self.max_bytes, "max_side": self.max_side, "formats": list(self.formats),
                "max_scans_per_side": self.max_scans}  # fmt: skip


class UploadError(ValueError):
    """An upload was refused; ``status`` is the HTTP status code to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Decoded:
    array: np.ndarray  # (C, S, S) float32 in [0, 1]: the model input
    original_size: tuple[int, int]  # (width, height) of the uploaded image
    format: str  # PIL format name of the upload
    cropped: bool  # True when a non-square image was centre-cropped


def human_bytes(n: int) -> str:
    """``n`` bytes as B, KB or MB (binary units) for messages."""
    if n >= 2**20:
        return f"{n / 2**20:.1f} MB"
    return f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def decode_upload(data: bytes, name: str, size: int, channels: int, limits: UploadLimits) -> Decoded:
    """Validate and decode one uploaded image; raises :class:`UploadError` naming ``name`` and the problem."""
    if not data:
        raise UploadError(f"{name}: empty file", 400)
    if len(data) > limits.max_bytes:
        raise UploadError(
            f"{name}: file is {human_bytes(len(data))}, the limit is {human_bytes(limits.max_bytes)}", 413
        )
    accepted = ", ".join(limits.formats)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.format not in limits.formats:
                raise UploadError(f"{name}: {im.format} images are not accepted (expected {accepted})", 415)
            w, h = im.size
            if max(w, h) > limits.max_side:
                raise UploadError(f"{name}: image is {w}x{h} px, the limit is {limits.max_side} px per side", 413)
            im.load()
    except UploadError:
        raise
    except UnidentifiedImageError as e:
        raise UploadError(f"{name}: not an image (expected {accepted})", 415) from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UploadError(f"{name}: image too large to decode safely", 413) from e
    except (OSError, ValueError, SyntaxError) as e:  # truncated or corrupt data
        raise UploadError(f"{name}: corrupt or truncated image ({str(e).splitlines()[0]})", 422) from e
    if im.mode not in SUPPORTED_MODES:
        raise UploadError(
            f"{name}: unsupported image mode {im.mode!r} (expected grayscale, RGB, palette or 16-bit)", 415
        )
    try:
        arr = center_square(image_to_array(im, channels, name))  # (C, s, s)
    except ImageError as e:
        raise UploadError(str(e), 415) from e
    return Decoded(resize_bicubic(arr, size), (w, h), str(im.format), w != h)


def png_base64(image: np.ndarray) -> str:
    """(C, H, W) or (H, W) float in [0, 1] → base64 of an 8-bit PNG."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(np.clip(image, 0.0, 1.0), "reconstruction")).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")
