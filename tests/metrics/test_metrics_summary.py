"""summarize: per-group mean / std / count, NaN skipped, inf kept, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from thzface.metrics import summarize


def test_summarize_golden() -> None:
    table = summarize([1.0, 2.0, 3.0, np.nan, 5.0, np.nan], ["a", "a", "b", "b", "c", "d"])
    assert list(table) == ["a", "b", "c", "d"]
    assert table["a"] == {"mean": 1.5, "std": 0.5, "count": 2}
    assert table["b"] == {"mean": 3.0, "std": 0.0, "count": 1}
    assert table["c"]["mean"] == 5.0
    assert table["d"]["count"] == 0 and math.isnan(table["d"]["mean"])
    assert all(type(k) is str for k in table)


def test_summarize_int_groups_and_inf() -> None:
    table = summarize(np.array([np.inf, 20.0, 30.0]), np.array([0, 0, 1]))
    assert list(table) == [0, 1] and all(type(k) is int for k in table)
    assert table[0]["mean"] == np.inf and table[1]["mean"] == 30.0


def test_summarize_errors() -> None:
    with pytest.raises(ValueError, match="summarize: values and groups lengths differ: 2 vs 1"):
        summarize([1.0, 2.0], ["a"])
    with pytest.raises(ValueError, match="summarize: values and groups must be 1-D"):
        summarize(np.zeros((2, 2)), ["a", "b"])
