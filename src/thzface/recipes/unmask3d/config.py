"""Config of ``unmask3d``: 3D-prior non-deterministic unmasking (seed 004 made real); the deployable model.

Phase 1 trains the N3D (garment mask + face-model coefficients, supervised by the simulator's truth); phase 2
freezes it and trains the generator (masked image + mask + render of the predicted coefficients + noise) against
a PatchGAN with a gradient penalty. The phase switch is ``loss.n3d_frac`` of training progress. The task is in
:mod:`thzface.recipes.unmask3d.task`, data in ``unmask3d.data``, renderer in ``unmask3d.render``.
"""

from __future__ import annotations

from dataclasses import dataclass

from thzface import config as C
from thzface.config import Config
from thzface.engine.checkpoint import ModelSpec
from thzface.models.unmask3d import Unmask3D, Unmask3DModelConfig
from thzface.recipes.unmask3d.render import layout_for

__all__ = ["ModelConfig", "LossConfig", "build_model", "MODEL"]
GANS = ("hinge", "nonsaturating")
PENALTIES = ("wgan-gp", "r1")


@dataclass
class ModelConfig(Unmask3DModelConfig):
    n3d_widths: tuple[int, ...] = (16, 32, 64, 128)
    n3d_hidden: int = 128
    gen_widths: tuple[int, ...] = (16, 32, 64)
    gen_res_blocks: int = 4
    hole_fill: str = "keep"  # the generator sees the concealed pixels as they are
    residual: bool = True  # output = start + net
    start: str = "eigen"  # the hole starts at the joint (target, render) prior's completion
    eigen_k: int = 60
    eigen_ridge: float = 0.1
    disc_widths: tuple[int, ...] = (32, 64, 128)


@dataclass
class DataConfig(C.DataConfig):
    target: str = "clean"  # the noise-free unconcealed head at the concealed scan's pose (where the folder has it)


@dataclass
class AugConfig(C.AugConfig):
    p: float = 0.5


@dataclass
class TrainConfig(C.TrainConfig):
    batch_size: int = 16
    sampler: str = "random"
    lr: float = 5e-4
    weight_decay: float = 0.0
    max_epochs: int = 200
    warmup_frac: float = 0.02
    grad_clip: float = 0.0  # manual optimisation: the task clips nothing
    monitor: str = "val/score"


@dataclass
class LossConfig:
    n3d_frac: float = 0.4  # share of training progress (steps, or time with max_time_s) in phase 1 (N3D)
    w_bce: float = 1.0  # N3D: garment-mask binary cross-entropy
    w_coef: float = 1.0  # N3D: L1 on standardised coefficients, mean per group (shape, expression, pose, placement)
    w_lm: float = 1.0  # N3D: landmark reprojection L1 (true 3D landmarks, predicted pose + placement) / image side
    w_id3d: float = 0.1  # N3D identity term: 1 - cos(predicted, true) standardised identity-shape coefficients
    w_pix: float = 10.0  # generator: L1 of the raw output against the unconcealed target
    w_id: float = 0.1  # generator identity loss 1 - cos(e(output), e(target)); needs identity_run (off when empty)
    identity_run: str = ""  # trained thzface embedder run (mtl/distill), frozen; also scores eval identity
    w_tv: float = 0.1  # generator: total variation of the composite
    w_adv: float = 0.01  # generator: adversarial term
    w_ms: float = 1.0  # generator: bounded mode-seeking diversity term (two noise draws per step; 0: off)
    ms_tau: float = 0.03  # mode-seeking bound: no push once mean |output diff| in the mask / mean |z diff| >= tau
    gan: str = "hinge"  # adversarial objective: hinge | nonsaturating
    penalty: str = "wgan-gp"  # discriminator gradient penalty: wgan-gp | r1
    w_gp: float = 10.0  # gradient-penalty weight
    clip: float = 1.0  # gradient-norm clip per optimiser (manual optimisation: train.grad_clip must be 0)
    mid_lr_factor: float = 1.0  # learning-rate factor from the middle of each phase on (seed: 0.1, 1e-4 -> 1e-5)
    gan_beta1: float = 0.5  # Adam beta1 of generator and discriminator (N3D: 0.9)

    def __post_init__(self) -> None:
        where = "unmask3d loss"
        if not 0.0 <= self.n3d_frac <= 1.0:
            raise ValueError(f"{where}.n3d_frac: {self.n3d_frac} must lie in [0, 1]")
        if self.gan not in GANS or self.penalty not in PENALTIES:
            raise ValueError(f"{where}: gan must be one of {list(GANS)}, penalty one of {list(PENALTIES)}")
        weights = ("w_bce", "w_coef", "w_lm", "w_id3d", "w_pix", "w_id", "w_tv", "w_adv", "w_ms", "w_gp", "clip")
        bad = [w for w in weights if getattr(self, w) < 0]
        if bad:
            raise ValueError(f"{where}: weights must be >= 0, got negative {bad}")
        if self.ms_tau <= 0:
            raise ValueError(f"{where}.ms_tau: {self.ms_tau} must be > 0")
        if not 0.0 < self.mid_lr_factor <= 1.0 or not 0.0 <= self.gan_beta1 < 1.0:
            raise ValueError(f"{where}: mid_lr_factor must lie in (0, 1] and gan_beta1 in [0, 1)")


def build_model(cfg: Config) -> Unmask3D:
    m: ModelConfig = cfg.model
    return Unmask3D(m, layout_for(m.face_model, m.face_model_path).size, cfg.data.image_size)


MODEL = ModelSpec(
    "unmask3d", ModelConfig, LossConfig, build_model, data_config=DataConfig, aug_config=AugConfig,
    train_config=TrainConfig,
)  # fmt: skip
