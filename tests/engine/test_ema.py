"""``train.ema``'s averaging rule, by hand: timm's warm-up of the decay, floats lerped, counters copied."""

from __future__ import annotations

import pytest
import torch
from torch.optim.swa_utils import AveragedModel

from thzface.engine.ema import EMAWeights, ema_decay, ema_with_warmup


def test_ema_decay_warms_up_then_holds() -> None:
    assert ema_decay(0.999, 0) == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert ema_decay(0.999, 1) == pytest.approx(2 / 11)
    assert ema_decay(0.999, 90) == pytest.approx(0.91)
    assert ema_decay(0.999, 10**6) == 0.999  # capped at the configured decay
    assert ema_decay(0.5, 5) == pytest.approx(0.4) and ema_decay(0.5, 20) == 0.5  # 6 / 15; min(0.5, 21 / 30)


def test_ema_with_warmup_lerps_floats_and_copies_counters() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.BatchNorm1d(2))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    avg = AveragedModel(model, multi_avg_fn=ema_with_warmup(0.999), use_buffers=True)
    avg.update_parameters(model)  # the first update copies
    with torch.no_grad():
        model[0].weight.fill_(12.0)
    model[1].num_batches_tracked += 3
    avg.update_parameters(model)  # n_averaged = 1: decay 2/11, so 1 + (9/11)(12 - 1) = 10
    assert torch.allclose(avg.module[0].weight, torch.full((2, 2), 10.0))
    assert int(avg.module[1].num_batches_tracked) == 3 and avg.module[1].num_batches_tracked.dtype == torch.long


def test_ema_decay_outside_0_1_is_a_config_error() -> None:
    for bad in (0.0, 1.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="train.ema"):
            EMAWeights(bad)
