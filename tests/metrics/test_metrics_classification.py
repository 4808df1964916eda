"""Classification metrics: golden confusion matrix, accuracy, per-class accuracy, macro-F1, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thzface.metrics import accuracy, confusion_matrix, macro_f1, per_class_accuracy

Y_TRUE = [0, 0, 1, 1, 2]
Y_PRED = [0, 1, 1, 1, 0]


def test_confusion_matrix_golden() -> None:
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    assert cm.dtype == np.int64
    assert confusion_matrix(Y_TRUE, Y_PRED, 5).shape == (5, 5)


def test_accuracy_and_per_class() -> None:
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.6)
    assert accuracy(torch.tensor(Y_TRUE), torch.tensor(Y_PRED)) == pytest.approx(0.6)
    np.testing.assert_allclose(per_class_accuracy(Y_TRUE, Y_PRED, 4), [0.5, 1.0, 0.0, np.nan])


def test_macro_f1_golden() -> None:
    # F1: class 0 = 2/(2+1+1) = 0.5, class 1 = 4/(4+1) = 0.8, class 2 = 0 → mean 1.3 / 3
    assert macro_f1(Y_TRUE, Y_PRED) == pytest.approx(1.3 / 3)
    assert macro_f1(Y_TRUE, Y_PRED, num_classes=5) == pytest.approx(1.3 / 3)  # absent classes left out
    assert macro_f1([0, 1, 2], [0, 1, 2]) == 1.0


def test_errors() -> None:
    with pytest.raises(ValueError, match="confusion_matrix: y_pred has class id 3 >= num_classes=3"):
        confusion_matrix([0, 1], [0, 3], 3)
    with pytest.raises(ValueError, match="accuracy: y_true and y_pred lengths differ: 2 vs 1"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="accuracy: y_pred must hold integer class ids"):
        accuracy([0, 1], [0.0, 1.0])
    with pytest.raises(ValueError, match="macro_f1: y_true has a negative class id -1"):
        macro_f1([-1, 1], [0, 1])
    with pytest.raises(ValueError, match="per_class_accuracy: num_classes must be a positive int"):
        per_class_accuracy([0], [0], 0)
    with pytest.raises(ValueError, match="accuracy: y_true is empty"):
        accuracy([], [])
