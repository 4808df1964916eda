"""Fit any recipe with Lightning: logs, best/latest checkpoints, resume, NaN guard, deployable export."""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from safetensors.torch import load_file

from thzface.config import Config, ConfigError, read_yaml, save_config, to_dict
from thzface.data.identity_split import IdentitySplit
from thzface.engine.checkpoint import WEIGHTS, RunError, save_weights
from thzface.engine.ema import EMAWeights
from thzface.engine.recipe import Recipe
from thzface.engine.run import CONFIG, LAST, OUTPUTS, Run, save_split, save_threshold
from thzface.engine.task import Task

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
        threshold = trainer.callback_metrics.get("val/threshold")  # verification recipes: fit on validation ids
        if threshold is not None and math.isfinite(float(threshold)):
            source = f"validation identities, EER point, step {trainer.global_step}"
            save_threshold(self.run_dir, float(threshold), source)

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

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the resume point: after every epoch (its validation included), so a killed run loses at most one epoch
        trainer.save_checkpoint(self.run_dir / LAST, weights_only=False)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the latest state, also when max_steps/max_time stopped the run between checkpoint hooks
        trainer.save_checkpoint(self.run_dir / LAST, weights_only=False)
        if not (self.run_dir / WEIGHTS).exists():
            self._save(trainer, pl_module, None)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temp file and renamed: a run killed mid-write keeps its previous last.ckpt."""

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        super().save_checkpoint(checkpoint, tmp, storage_options)
        os.replace(tmp, path)


def cpu_has_native_bf16() -> bool | None:
    """Whether this CPU computes bfloat16 natively (AMX or AVX-512 BF16: oneDNN's bf16 convolutions and matmuls;
    `mtl-pretrain` made 13,801 steps in 3,600 s where float32 had made 5,628); None where the flags cannot be read."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return any(f in flags.split() for f in ("amx_bf16", "avx512_bf16"))


def _precision(cfg: Config) -> str:
    p = cfg.train.precision
    on_gpu = torch.cuda.is_available() and cfg.train.accelerator != "cpu"
    if p == "auto":
        return "bf16-mixed" if on_gpu else "32-true"
    if p.startswith("bf16") and not on_gpu and cpu_has_native_bf16() is False:
        log.warning("train.precision=%s on a CPU without native bfloat16: emulated, slower than 32-true", p)
    return p


def init_from(task: Task, run: str | Path, accepts: tuple[str, ...] = ()) -> dict:
    """Copy the weights of a previous run, a weights file or ``pretrained:NAME`` (shipped) into the task's model
    where names and shapes match (fine-tuning); a source of another recipe (``accepts`` aside: the recipes whose
    weights may start this one, ``ModelSpec.init_from``), or one that fits no tensor, is a one-line error."""
    source = Run(run)
    if source.recipe != task.cfg.recipe and source.recipe not in accepts:
        raise RunError(f"{run}: weights of recipe {source.recipe!r}, cannot initialise a {task.cfg.recipe!r} model")
    src_state = load_file(str(source.weights))
    dst = task.model.state_dict()
    taken = {k: v for k, v in src_state.items() if k in dst and dst[k].shape == v.shape}
    if not taken:
        raise RunError(f"{run}: no tensor fits the model (another architecture: compare the model: sections)")
    skipped = sorted(set(src_state) - set(taken))
    task.model.load_state_dict(taken, strict=False)
    log.info("init-from %s: %d tensors copied, %d skipped", run, len(taken), len(skipped))
    return {"source": str(run), "copied": len(taken), "of": len(dst), "skipped": skipped}


def _flat(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_diff(a: dict, b: dict) -> list[str]:
    """Dotted keys whose values differ between two plain config dicts (sorted)."""
    fa, fb = _flat(a), _flat(b)

    def same(x: object, y: object) -> bool:
        return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))

    return sorted(k for k in set(fa) | set(fb) if not same(fa.get(k), fb.get(k)))


def prepare_run(recipe: Recipe, cfg: Config, run_dir: Path, resume: bool | None) -> tuple[Config, Path | None]:
    """The config to train and the checkpoint to resume from, for a run folder that may hold an earlier run.

    ``resume=None``: resume when the folder's config.yaml equals ``cfg``; a differing one is a one-line error naming
    the keys. ``True``: continue with the folder's config. ``False``: clear the folder's outputs, start over.
    """
    saved, last = run_dir / CONFIG, run_dir / LAST
    if resume is False:
        for name in OUTPUTS:
            path = run_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        return cfg, None
    if saved.is_file():
        if resume:
            return recipe.model.config(read_yaml(saved), where=str(saved)), last if last.is_file() else None
        keys = config_diff(read_yaml(saved), to_dict(cfg))
        if keys:
            shown = ", ".join(keys[:6]) + (f" (+{len(keys) - 6} more)" if len(keys) > 6 else "")
            raise ValueError(
                f"{run_dir}: holds a run with a different config ({shown}); pass --resume to continue it with its "
                "own config, --no-resume to start over, or another --out"
            )
    elif resume:
        raise ValueError(f"{run_dir}: no config.yaml to resume (train without --resume)")
    return cfg, last if last.is_file() else None


def fit(
    recipe: Recipe,
    cfg: Config,
    data_dir: str | Path,
    run_dir: str | Path,
    init_run: str | Path | None = None,
    resume: bool | None = None,
) -> dict:
    """Train ``cfg`` with ``recipe`` on the dataset at ``data_dir`` into ``run_dir``; returns a summary dict.
    ``resume``: see :func:`prepare_run`."""
    ema = EMAWeights(cfg.train.ema) if cfg.train.ema != 0 else None  # a bad decay fails before the run is written
    if not 0.0 <= cfg.train.freeze_bn <= 1.0:
        raise ConfigError(f"train.freeze_bn must be a share of training in [0, 1] (1: never): {cfg.train.freeze_bn}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg, ckpt = prepare_run(recipe, cfg, run_dir, resume)
    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    datamodule = recipe.data(cfg, Path(data_dir))
    task: Task = recipe.build_task(cfg)
    summary: dict = {"run": str(run_dir)}
    if init_run:
        summary["init_from"] = init_from(task, init_run, recipe.model.init_from)
    save_config(cfg, run_dir / CONFIG)
    split = getattr(datamodule, "split", None)
    save_split(run_dir, Path(data_dir), split if isinstance(split, IdentitySplit) else None)

    t = cfg.train
    ckpt_dir = run_dir / "checkpoints"
    callbacks: list[Callback] = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best",
            monitor=t.monitor,
            mode=t.monitor_mode,
            save_top_k=1,
            save_last=False,  # last.ckpt is ExportBest's, written at each epoch end
            auto_insert_metric_name=False,
            enable_version_counter=False,
        ),
        ExportBest(cfg, run_dir),
    ]
    if ema is not None:
        callbacks.append(ema)  # after ExportBest: see EMAWeights
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
        check_val_every_n_epoch=1 if t.val_every <= 1 else None,  # N steps: counted across (shorter) epochs
        num_sanity_val_steps=0,
        log_every_n_steps=t.log_every,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        logger=loggers,
        enable_progress_bar=t.progress,
        enable_model_summary=False,
        deterministic=False,
        use_distributed_sampler=False,
        default_root_dir=run_dir,
    )
    ckpt_path = str(ckpt) if ckpt is not None else None
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
