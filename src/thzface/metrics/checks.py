"""Input validation shared by thzface.metrics and thzface.losses: one-line ValueErrors naming the argument.

Every checker takes ``where`` (the public function's name) and the argument's name, so a message reads
``"psnr: pred and target shapes differ: (2, 1, 16, 16) vs (2, 1, 16, 17)"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def as_float_tensor(x: Any, where: str, name: str) -> torch.Tensor:
    """Numpy array or torch tensor → float64 torch tensor (detached, same device); raise on other types."""
    if isinstance(x, torch.Tensor):
        if not (x.dtype.is_floating_point or x.dtype in (torch.uint8, torch.int32, torch.int64, torch.bool)):
            raise ValueError(f"{where}: {name} has unsupported dtype {x.dtype}")
        return x.detach().to(torch.float64)
    if isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
            raise ValueError(f"{where}: {name} has unsupported dtype {x.dtype}")
        return torch.from_numpy(np.asarray(x, dtype=np.float64))
    raise ValueError(f"{where}: {name} must be a numpy array or torch tensor, got {type(x).__name__}")


def check_float_tensor(x: Any, where: str, name: str, ndim: int | None = None) -> torch.Tensor:
    """Require a floating-point torch tensor (optionally of ``ndim`` dims); return it unchanged."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{where}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise ValueError(f"{where}: {name} must be floating point, got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{where}: {name} must have {ndim} dims, got shape {tuple(x.shape)}")
    return x


def check_same_shape(a: Any, b: Any, where: str, names: str = "pred and target") -> None:
    """Raise unless ``a`` and ``b`` have the same shape."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{where}: {names} shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")


def check_images(x: Any, where: str, name: str) -> None:
    """Require an image batch of shape (N, C, H, W) with N, C, H, W >= 1."""
    if x.ndim != 4 or min(x.shape) < 1:
        raise ValueError(f"{where}: {name} must have shape (N, C, H, W), got {tuple(x.shape)}")


def check_range(x: torch.Tensor, lo: float, hi: float, where: str, name: str, hint: str = "") -> None:
    """Require finite values inside [lo, hi] (tolerance 1e-6 of the range width)."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{where}: {name} contains NaN or inf")
    tol = 1e-6 * (hi - lo)
    x_min, x_max = float(x.min()), float(x.max())
    if x_min < lo - tol or x_max > hi + tol:
        extra = f" ({hint})" if hint else ""
        raise ValueError(f"{where}: {name} must lie in [{lo:g}, {hi:g}], got [{x_min:.4g}, {x_max:.4g}]{extra}")


def check_positive(value: float, where: str, name: str, allow_zero: bool = False) -> float:
    """Require a finite number > 0 (or >= 0 with ``allow_zero``); return it as float."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{where}: {name} must be finite and {bound}, got {value!r}")
    return v


def check_mask(mask: Any, like: torch.Tensor, where: str, name: str = "mask") -> torch.Tensor:
    """Mask with values in [0, 1], shape (N, 1|C, H, W) or (N, H, W) → float tensor broadcastable to
    ``like``."""
    m = mask if isinstance(mask, torch.Tensor) else as_float_tensor(mask, where, name)
    if m.ndim == 3:
        m = m.unsqueeze(1)  # (N, 1, H, W)
    n, c, h, w = like.shape
    if m.ndim != 4 or m.shape[0] != n or m.shape[2:] != like.shape[2:] or m.shape[1] not in (1, c):
        raise ValueError(
            f"{where}: {name} shape {tuple(mask.shape)} does not fit images {tuple(like.shape)}; "
            f"expected ({n}, 1|{c}, {h}, {w}) or ({n}, {h}, {w})"
        )
    m = m.to(device=like.device, dtype=like.dtype)
    check_range(m, 0.0, 1.0, where, name)
    return m


def _to_numpy_1d(x: Any, where: str, name: str) -> np.ndarray:
    """Array-like or tensor → non-empty 1-D numpy array (dtype unchanged)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{where}: {name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{where}: {name} is empty")
    return arr


def as_1d(x: Any, where: str, name: str) -> np.ndarray:
    """Array-like or tensor of numbers → 1-D float64 numpy array; raise on other shapes, empty or NaN/inf."""
    arr = _to_numpy_1d(x, where, name)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{where}: {name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {name} contains NaN or inf")
    return arr


def as_labels(x: Any, where: str, name: str, num_classes: int | None = None) -> np.ndarray:
    """Array-like of integer class ids → 1-D int64 array, each in [0, num_classes) when given."""
    arr = _to_numpy_1d(x, where, name)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{where}: {name} must hold integer class ids, got dtype {arr.dtype}")
    out = arr.astype(np.int64)
    if out.min() < 0:
        raise ValueError(f"{where}: {name} has a negative class id {out.min()}")
    if num_classes is not None and out.max() >= num_classes:
        raise ValueError(f"{where}: {name} has class id {out.max()} >= num_classes={num_classes}")
    return out


def as_binary(x: Any, where: str, name: str) -> np.ndarray:
    """Array-like of 0/1 or bool → 1-D bool array; raise on any other value."""
    arr = as_1d(x, where, name)
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{where}: {name} must be 0/1 or bool")
    return arr.astype(bool)


def check_lengths(a: np.ndarray, b: np.ndarray, where: str, names: str) -> None:
    """Raise unless two 1-D arrays have the same length."""
    if len(a) != len(b):
        raise ValueError(f"{where}: {names} lengths differ: {len(a)} vs {len(b)}")
