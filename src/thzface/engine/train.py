"""Fit any recipe with Lightning: logs, best/latest checkpoints, resume, NaN guard, deployable export."""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from thzface.config import Config, save_config
from thzface.engine.checkpoint import WEIGHTS, load_run, save_weights
from thzface.engine.task import Task
from thzface.recipes import get_recipe

log = logging.getLogger(__name__)


class ExportBest(Callback):
    """Write ``model.safetensors`` whenever the monitored validation metric improves (and at the end if never)."""

    def __init__(self, cfg: Config, run_dir: Path):
        self.cfg, self.run_dir = cfg, run_dir
        self.best: float | None = None

    def state_dict(self) -> dict:
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = state.get("best")

    def _save(self, trainer: L.Trainer, pl_module: L.LightningModule, value: float | None) -> None:
        if trainer.global_rank != 0:
            return
        extra = {"step": int(trainer.global_step), "monitor": self.cfg.train.monitor, "value": value}
        extra.update(getattr(pl_module, "export_extra", lambda: {})())
        assert isinstance(pl_module, Task)
        save_weights(pl_module.deployable_state_dict(), self.cfg, self.run_dir / WEIGHTS, extra=extra)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.cfg.train.monitor)
        if value is None:
            return
        v = float(value)
        if not math.isfinite(v):
            return
        better = self.best is None or (v > self.best if self.cfg.train.monitor_mode == "max" else v < self.best)
        if better:
            self.best = v
            self._save(trainer, pl_module, v)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the latest state, also when max_steps/max_time stopped the run between checkpoint hooks
        trainer.save_checkpoint(self.run_dir / "checkpoints" / "last.ckpt", weights_only=False)
        if not (self.run_dir / WEIGHTS).exists():
            self._save(trainer, pl_module, None)


def _precision(cfg: Config) -> str:
    p = cfg.train.precision
    if p != "auto":
        return p
    return "bf16-mixed" if torch.cuda.is_available() and cfg.train.accelerator != "cpu" else "32-true"


def init_from(task: Task, run: str | Path) -> dict:
    """Copy weights of a previous run (pretraining) into the task's model where names and shapes match."""
    _, src, _ = load_run(run)
    src_state = src.state_dict()
    dst = task.model.state_dict()
    taken = {k: v for k, v in src_state.items() if k in dst and dst[k].shape == v.shape}
    skipped = sorted(set(src_state) - set(taken))
    task.model.load_state_dict(taken, strict=False)
    log.info("init-from %s: %d tensors copied, %d skipped", run, len(taken), len(skipped))
    return {"copied": len(taken), "skipped": skipped}


def fit(
    cfg: Config,
    data_dir: str | Path,
    run_dir: str | Path,
    init_run: str | Path | None = None,
    resume: bool = True,
) -> dict:
    """Train ``cfg`` on the dataset at ``data_dir`` into ``run_dir``; returns a summary dict."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    recipe = get_recipe(cfg.recipe)
    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    datamodule = recipe.build_datamodule(cfg, Path(data_dir))
    task: Task = recipe.build_task(cfg)
    summary: dict = {"run": str(run_dir)}
    if init_run:
        summary["init_from"] = init_from(task, init_run)
    save_config(cfg, run_dir / "config.yaml")

    t = cfg.train
    ckpt_dir = run_dir / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    callbacks: list[Callback] = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best",
            monitor=t.monitor,
            mode=t.monitor_mode,
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        ),
        ExportBest(cfg, run_dir),
    ]
    if t.progress:
        callbacks.append(TQDMProgressBar(refresh_rate=max(1, t.log_every)))
    loggers = [
        CSVLogger(run_dir, name="logs", version=""),
        TensorBoardLogger(run_dir, name="tb", version="", default_hp_metric=False),
    ]
    val_every: float | int = t.val_every if t.val_every <= 1 else int(t.val_every)
    trainer = L.Trainer(
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=_precision(cfg),  # type: ignore[arg-type]  # a validated precision string
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        max_time=timedelta(seconds=t.max_time_s) if t.max_time_s > 0 else None,
        gradient_clip_val=t.grad_clip if t.grad_clip > 0 else None,
        val_check_interval=val_every,
        check_val_every_n_epoch=1,
        num_sanity_val_steps=0,
        log_every_n_steps=t.log_every,
        callbacks=callbacks,
        logger=loggers,
        enable_progress_bar=t.progress,
        enable_model_summary=False,
        deterministic=False,
        use_distributed_sampler=False,
        default_root_dir=run_dir,
    )
    ckpt_path = str(last) if resume and last.exists() else None
    summary["resumed_from"] = ckpt_path
    start = time.monotonic()
    trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    summary.update(
        seconds=time.monotonic() - start,
        global_step=int(trainer.global_step),
        best=callbacks[1].best,  # type: ignore[attr-defined]
        monitor=t.monitor,
        samples_seen=int(trainer.global_step) * t.batch_size,
    )
    if trainer.global_rank == 0:
        from thzface.report.curves import plot_curves

        plot_curves(run_dir / "logs" / "metrics.csv", run_dir / "curves.png")
    return summary
