"""AdaBN: BatchNorm running statistics re-estimated on unlabeled batches, by hand-computed values."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from thzface.models.adapt import adapt_batchnorm, batchnorm_layers


def net() -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm1d(1), nn.Dropout(0.5))


def test_running_statistics_are_the_cumulative_average_of_the_batch_statistics() -> None:
    src = net()
    x1 = torch.tensor([[0.0], [2.0]])  # mean 1, unbiased variance 2
    x2 = torch.tensor([[4.0], [4.0]])  # mean 4, variance 0
    out = adapt_batchnorm(src, [x1, x2])
    bn = out[0]
    assert bn.running_mean.item() == pytest.approx(2.5)  # (1 + 4) / 2
    assert bn.running_var.item() == pytest.approx(1.0)  # (2 + 0) / 2
    assert bn.momentum == pytest.approx(0.1)  # restored
    assert not out.training and not bn.training
    y = out(torch.tensor([[3.5]]))  # eval mode: (3.5 - 2.5) / sqrt(1 + eps), dropout off
    assert y.item() == pytest.approx(1.0 / (1.0 + bn.eps) ** 0.5)
    # the source is untouched
    assert src[0].running_mean.item() == 0.0 and src[0].running_var.item() == 1.0


def test_the_forward_function_chooses_the_path() -> None:
    src = nn.ModuleDict({"a": nn.BatchNorm1d(1), "b": nn.BatchNorm1d(1)})
    out = adapt_batchnorm(src, [torch.tensor([[1.0], [3.0]])], lambda m, x: m["a"](x))
    assert out["a"].running_mean.item() == pytest.approx(2.0)
    assert out["b"].running_mean.item() == 0.0 and out["b"].num_batches_tracked.item() == 0  # never run: reset
    assert len(batchnorm_layers(out)) == 2


def test_refusals() -> None:
    with pytest.raises(ValueError, match="no BatchNorm"):
        adapt_batchnorm(nn.Linear(1, 1), [torch.zeros(2, 1)])
    with pytest.raises(ValueError, match="no batch"):
        adapt_batchnorm(net(), [])
    with pytest.raises(ValueError, match="needs >= 2"):
        adapt_batchnorm(net(), [torch.zeros(1, 1)])
