"""Config of ``twin``: the ``loss:`` section and the deployable model (global + five face-part encoders)."""

from __future__ import annotations

from dataclasses import dataclass

from thzface import config as C
from thzface.config import Config
from thzface.engine.checkpoint import ModelSpec
from thzface.models.parts import TwinModel
from thzface.models.parts import build_model as _build
from thzface.models.twin_config import TwinModelConfig


@dataclass
class ModelConfig(TwinModelConfig):
    crop_size: int = 24
    box_widths: tuple[int, ...] = (16, 32, 64, 64)


@dataclass
class TrainConfig(C.TrainConfig):
    max_epochs: int = 60
    monitor: str = "val/score"  # 1 - mean EER over the negative kinds present


@dataclass
class LossConfig:
    margin: float = 0.3  # triplet margin (seed: 1.0)
    distance: str = "euclidean"  # triplet distance: euclidean | cosine
    stage2_start: float = 0.5  # share of training after which twins replace random negatives (1: never)
    twin_prob: float = 0.5  # stage 2: probability that a row whose anchor has a twin uses it as the negative
    w_box: float = 1.0  # weight of the part-box regression loss that trains the box head
    train_boxes: str = "given"  # crops while training: given (aux part boxes; predicted where absent) | predicted

    def __post_init__(self) -> None:
        if self.train_boxes not in ("given", "predicted"):
            raise ValueError(f"train_boxes {self.train_boxes!r} is not 'given' or 'predicted'")
        if not 0.0 <= self.twin_prob <= 1.0 or self.stage2_start < 0.0:
            raise ValueError("twin_prob must lie in [0, 1] and stage2_start be >= 0")


def build_model(cfg: Config) -> TwinModel:
    return _build(cfg.model)


MODEL = ModelSpec("twin", ModelConfig, LossConfig, build_model, train_config=TrainConfig)
