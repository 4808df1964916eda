"""The thin LightningModule every recipe subclasses: losses dict in, optimiser and schedule from config.

A recipe's task implements ``compute_losses(batch) -> {"loss": total, term: value}`` and, for validation,
``validation_outputs(batch) -> dict`` plus ``validation_metrics(collected) -> {name: float}``. The training step
only sums/logs; schedules, checkpointing and export are callbacks (see :mod:`thzface.engine.train`).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

import lightning as L
import torch
from torch import nn

from thzface.config import Config
from thzface.engine.errors import NonFiniteLossError as NonFiniteLossError  # re-exported: recipes raise it
from thzface.engine.infer import concat
from thzface.models.adapt import batchnorm_layers


def training_progress(step: int, total: float, start_time: float, max_time_s: float) -> float:
    """Share of training done, in [0, 1]: the larger of step / total and, with a wall-clock budget
    (``max_time_s > 0``), elapsed / max_time_s since ``start_time`` (``time.monotonic``)."""
    progress = step / max(1.0, total)
    if max_time_s > 0:
        progress = max(progress, (time.monotonic() - start_time) / max_time_s)
    return min(1.0, progress)


def lr_lambda_cosine(warmup_frac: float, total: int, start_time: float, max_time_s: float):
    """Linear warmup over the first ``warmup_frac`` of training, then cosine decay to 0.

    Progress is the larger of step/total and, with a wall-clock budget (``max_time_s > 0``), elapsed/max_time,
    so a time-limited run warms up and decays on its real schedule whatever ``max_epochs`` says.
    """

    def fn(step: int) -> float:
        progress = training_progress(step, total, start_time, max_time_s)
        if warmup_frac > 0 and progress < warmup_frac:
            return max(progress / warmup_frac, 1.0 / max(1, int(warmup_frac * total)))
        rest = (progress - warmup_frac) / max(1e-12, 1.0 - warmup_frac)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, rest)))

    return fn


class Task(L.LightningModule):
    """Base task: holds ``model`` (the deployable part) and the config."""

    def __init__(self, cfg: Config, model: nn.Module):
        super().__init__()
        self.cfg = cfg
        self.model = model
        self._val: dict[str, list] = defaultdict(list)
        self._start_time = time.monotonic()

    # -- recipe hooks ---------------------------------------------------------------------------
    def compute_losses(self, batch: Any) -> dict[str, torch.Tensor]:  # batch: the recipe's typed batch
        raise NotImplementedError

    def validation_outputs(self, batch: Any) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def validation_metrics(self, collected: dict[str, torch.Tensor]) -> dict[str, float]:
        raise NotImplementedError

    def deployable_state_dict(self) -> dict[str, torch.Tensor]:
        """Weights saved as model.safetensors (the student only, for distillation)."""
        return self.model.state_dict()

    # -- Lightning ------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        terms = self.compute_losses(batch)
        loss = terms["loss"]
        if not torch.isfinite(loss):
            vals = {k: float(v.detach()) for k, v in terms.items()}
            raise NonFiniteLossError(f"non-finite loss at step {self.global_step}: {vals}")
        bs = next(v.shape[0] for v in batch.values() if isinstance(v, torch.Tensor))
        self.log_dict({f"train/{k}": v.detach() for k, v in terms.items()}, batch_size=bs, on_step=True)
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], on_step=True, prog_bar=False)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val = defaultdict(list)
        self._fit: dict[str, list] = defaultdict(list)

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        # loader 0: the validation people; loader 1 (``train.fit_probe``): as many training people, to see fitting
        store = self._val if dataloader_idx == 0 else self._fit
        with torch.autocast(self.device.type, enabled=False):  # mixed precision trains; validation scores in float32
            outputs = self.validation_outputs(batch)
        for k, v in outputs.items():
            store[k].append(v.detach().cpu())

    def on_validation_epoch_end(self) -> None:
        # every rank sees the whole validation set (no distributed sampler), so no gather is needed
        for prefix, store in (("val", self._val), ("fit", getattr(self, "_fit", {}))):
            if store:
                metrics = self.validation_metrics(concat(store))
                self.log_dict({f"{prefix}/{k}": float(v) for k, v in metrics.items()}, prog_bar=prefix == "val",
                              sync_dist=False)  # fmt: skip
        self._val, self._fit = defaultdict(list), defaultdict(list)

    def on_train_batch_start(self, batch: dict, batch_idx: int) -> None:
        # the global RNG (dropout) is a function of (seed, rank, step) alone, so a run resumed from any checkpoint
        # draws what an uninterrupted run draws
        torch.manual_seed(self.cfg.train.seed + 1000 * self.global_rank + 1_000_003 * (self.global_step + 1))
        if self.freezes_bn():  # every batch: Lightning puts the module back in training mode after validation
            for m in batchnorm_layers(self):
                m.eval()

    def trainable_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    def configure_optimizers(self):
        t = self.cfg.train
        opt = torch.optim.AdamW(self.trainable_parameters(), lr=t.lr, weight_decay=t.weight_decay)
        if t.schedule == "constant":
            return opt
        if t.schedule == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode=t.monitor_mode, factor=t.plateau_factor, patience=t.plateau_patience
            )
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": sched, "monitor": t.monitor, "interval": "epoch"},
            }
        if t.schedule == "cosine":
            total = int(self.trainer.estimated_stepping_batches)
            if t.max_steps > 0:
                total = min(total, t.max_steps)
            fn = lr_lambda_cosine(t.warmup_frac, total, self._start_time, t.max_time_s)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, fn)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        raise ValueError(f"train.schedule: unknown schedule {t.schedule!r} (cosine | plateau | constant)")

    def on_fit_start(self) -> None:
        self._start_time = time.monotonic()

    def progress(self) -> float:
        """Share of this fit done (see :func:`training_progress`); 0 outside a trainer. Recipes with curricula
        or phases read it."""
        if self._trainer is None:
            return 0.0
        t = self.cfg.train
        total = float(self.trainer.estimated_stepping_batches)
        if t.max_steps > 0:
            total = min(total, float(t.max_steps))
        return training_progress(self.global_step, total, self._start_time, t.max_time_s)

    def freezes_bn(self) -> bool:
        """``train.freeze_bn`` reached: BatchNorm layers stay in eval mode (their running statistics) while training."""
        share = self.cfg.train.freeze_bn  # checked in [0, 1] before the run starts (engine.train.fit)
        return share < 1.0 and self.progress() >= share

    def on_train_epoch_start(self) -> None:
        """New augmentation draws and batches each epoch (dataset and sampler are seeded per epoch). The epoch index
        is counted from the optimizer steps done, so a run resumed from a checkpoint (where Lightning's own epoch
        counter may run one ahead) draws exactly the batches of an uninterrupted run."""
        dl = self.trainer.train_dataloader
        epoch = self.global_step // max(1, int(self.trainer.num_training_batches))
        for obj in (getattr(dl, "dataset", None), getattr(dl, "batch_sampler", None)):
            set_epoch = getattr(obj, "set_epoch", None)
            if callable(set_epoch):
                set_epoch(epoch)
