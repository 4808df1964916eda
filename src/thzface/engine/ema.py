"""``train.ema``: an exponential moving average of the weights, validated, exported and kept in place of the last."""

from __future__ import annotations

from typing import cast

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch.optim.swa_utils import AveragedModel

from thzface.config import ConfigError


def ema_decay(decay: float, updates: int) -> float:
    """The decay at ``updates`` = n averages so far (1 at the first update after the copy):
    ``min(decay, (1 + n) / (10 + n))``, timm's warm-up, so the first steps' weights (at random, or the start of a
    fine-tune) fade within tens of steps instead of weighing ``decay ** n`` (still 17 % after 1,800 steps at
    0.999)."""
    return min(decay, (1.0 + updates) / (10.0 + updates))


def ema_with_warmup(decay: float):
    """``AveragedModel``'s ``multi_avg_fn``: ``avg ← avg + (1 − d)(current − avg)`` with ``d`` = :func:`ema_decay`."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        weight = 1.0 - ema_decay(decay, int(num_averaged))
        floats = [(a, c) for a, c in zip(averaged, current, strict=True) if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], weight)
        for a, c in zip(averaged, current, strict=True):
            if not a.is_floating_point():
                a.copy_(c)  # counters (BatchNorm's num_batches_tracked) follow the current model

    return update


class EMAWeights(Callback):
    """``train.ema``: an exponential moving average of the task's model (weights and buffers, so BatchNorm
    statistics too; ``torch.optim.swa_utils.AveragedModel``), updated after every optimiser step and swapped in for
    the whole validation — from ``on_validation_epoch_start`` to ``on_validation_end``, where :class:`ExportBest`
    (placed before this in the callbacks) exports it — and kept at the end of training. Checkpoints hold the
    current weights as ``state_dict`` (resume continues from them; also the one written after training, when the
    model holds the average) and the average as ``ema_state``.

    Lightning's own ``EMAWeightAveraging`` copies the whole LightningModule at ``setup``, before a recipe's
    ``setup`` builds its loss heads, and swaps back before ``on_validation_end``; hence this one.
    """

    def __init__(self, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"train.ema must be in (0, 1) (0 turns it off), got {decay}")
        self.decay = decay
        self.average: AveragedModel | None = None
        self._updated_at = 0  # the optimiser step of the last update
        self._current: dict[str, torch.Tensor] | None = None  # the current weights once the average is kept at the end

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit" and self.average is None:
            model = cast(torch.nn.Module, pl_module.model)
            self.average = AveragedModel(model, multi_avg_fn=ema_with_warmup(self.decay), use_buffers=True)

    def _pairs(self, pl_module: L.LightningModule) -> list[tuple[torch.Tensor, torch.Tensor]]:
        assert self.average is not None
        avg, cur = self.average.module, cast(torch.nn.Module, pl_module.model)
        return list(zip([*avg.parameters(), *avg.buffers()], [*cur.parameters(), *cur.buffers()], strict=True))

    def _swap(self, pl_module: L.LightningModule) -> None:
        with torch.no_grad():
            for a, c in self._pairs(pl_module):
                tmp = a.clone()
                a.copy_(c)
                c.copy_(tmp)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if self.average is not None and trainer.global_step > self._updated_at:  # once per optimiser step
            self.average.update_parameters(cast(torch.nn.Module, pl_module.model))
            self._updated_at = trainer.global_step

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.average is not None and trainer.state.fn == "fit":
            self._swap(pl_module)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.average is not None and trainer.state.fn == "fit":
            self._swap(pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.average is not None:
            model = cast(torch.nn.Module, pl_module.model)
            self._current = {k: v.detach().clone() for k, v in model.state_dict().items()}  # what a resume goes on from
            with torch.no_grad():
                for a, c in self._pairs(pl_module):
                    c.copy_(a)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        if self.average is not None:
            checkpoint["ema_state"] = self.average.state_dict()
            checkpoint["ema_updated_at"] = self._updated_at
            if self._current is not None:  # after training (the model holds the average): the current weights
                checkpoint["state_dict"].update({f"model.{k}": v for k, v in self._current.items()})

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        if self.average is not None and "ema_state" in checkpoint:
            self.average.load_state_dict(checkpoint["ema_state"])
            self._updated_at = int(checkpoint.get("ema_updated_at", 0))
