"""Classification metrics (numpy) for posture labels: accuracy, confusion, per-class accuracy, macro-F1.

Inputs are 1-D arrays (or tensors) of integer class ids in [0, num_classes); predictions are class ids, not
logits (take ``argmax`` first).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from thzface.metrics.checks import as_labels, check_lengths


def _pair(y_true: Any, y_pred: Any, num_classes: int | None, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate two label arrays of equal length (ids below ``num_classes`` when given)."""
    if num_classes is not None and (
        not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool) or num_classes < 1
    ):
        raise ValueError(f"{where}: num_classes must be a positive int, got {num_classes!r}")
    t = as_labels(y_true, where, "y_true", num_classes)
    p = as_labels(y_pred, where, "y_pred", num_classes)
    check_lengths(t, p, where, "y_true and y_pred")
    return t, p


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of predictions equal to the true class."""
    t, p = _pair(y_true, y_pred, None, "accuracy")
    return float(np.mean(t == p))


def _confusion(t: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    """Counts (K, K) of validated label arrays: row = true class, column = predicted class."""
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """Counts (K, K), int64: row = true class, column = predicted class."""
    t, p = _pair(y_true, y_pred, num_classes, "confusion_matrix")
    return _confusion(t, p, num_classes)


def per_class_accuracy(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """Recall of each class (K,): correct / support; NaN for a class absent from ``y_true``."""
    t, p = _pair(y_true, y_pred, num_classes, "per_class_accuracy")
    cm = _confusion(t, p, num_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)


def macro_f1(y_true: Any, y_pred: Any, num_classes: int | None = None) -> float:
    """Unweighted mean of per-class F1 = 2TP / (2TP + FP + FN) over classes present in y_true or y_pred.

    Classes that appear in neither are left out (their F1 is undefined); ``num_classes`` defaults to
    ``max id + 1`` and, when given, also bounds the ids.
    """
    t, p = _pair(y_true, y_pred, num_classes, "macro_f1")
    k = num_classes if num_classes is not None else int(max(t.max(), p.max())) + 1
    cm = _confusion(t, p, k)
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    present = (tp + fp + fn) > 0
    f1 = 2 * tp[present] / (2 * tp[present] + fp[present] + fn[present])
    return float(f1.mean())
