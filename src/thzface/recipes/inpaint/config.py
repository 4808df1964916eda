"""Config of ``inpaint``: the ``loss:`` section and the deployable model (attention-gated U-Net)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from thzface import config as C
from thzface.config import Config
from thzface.data.masks import MaskConfig
from thzface.engine.checkpoint import ModelSpec
from thzface.losses.inpaint import HOLE_NORMS
from thzface.models.inpaint import AttentionUNet, InpaintModelConfig


@dataclass
class ModelConfig(InpaintModelConfig):
    widths: tuple[int, ...] = (16, 32, 64, 128)  # four levels, 0.58 M parameters at 64 px
    up: Literal["bilinear", "transpose"] = "transpose"
    fill: Literal["zero", "mean", "diffusion", "eigen"] = "eigen"  # hole pre-filled by the eigenface completion
    eigen_k: int = 60  # principal directions of the linear face prior (fitted to the training images)
    eigen_ridge: float = 0.1  # ridge on its SD-scaled coefficients
    residual: bool = True  # zero-initialised residual head over the fill


@dataclass
class Masks(MaskConfig):
    kinds: dict[str, float] = field(
        default_factory=lambda: {"irregular": 0.35, "rect": 0.2, "parts": 0.25, "garment": 0.2}
    )
    mode: str = "ramp"


@dataclass
class AugConfig(C.AugConfig):
    profile: str = "flip"
    p: float = 0.5


@dataclass
class TrainConfig(C.TrainConfig):
    batch_size: int = 16
    sampler: str = "random"
    lr: float = 2e-3
    max_epochs: int = 60
    warmup_frac: float = 0.03
    monitor: str = "val/hole_ssim"  # the headline metric: the network gains SSIM over its eigen start, not PSNR
    # the eigenface prior (model.fill: eigen) when training starts: data = fitted to this run's training images (a
    # start's prior, from --init-from, is replaced: the prior follows the scanner it fine-tunes on); start = a
    # start's prior kept (fitted to the data only when the weights hold none)
    prior_fit: Literal["data", "start"] = "data"


@dataclass
class LossConfig:
    w_l1: float = 1.0  # whole-image L1 on the raw output (the network also learns to reproduce the context)
    w_hole: float = 6.0  # hole-L1 weight (seed: 6)
    hole_norm: str = "hole"  # hole: mean over hole pixels per image; image: over all pixels (the seed code)
    w_ssim: float = 1.0  # hole-region SSIM loss of the composite (1 - SSIM inside the hole; 0: off)
    w_perceptual: float = 0.0  # LPIPS of the composite; needs perceptual_path (off when empty, and said so)
    perceptual_path: str = ""  # local torchvision AlexNet/VGG16 weights (nothing is downloaded)
    perceptual_lin_path: str = ""  # optional LPIPS linear-layer weights (calibrated LPIPS; empty: baseline)
    perceptual_net: str = "alex"  # alex (seed) | vgg
    w_identity: float = 0.1  # identity term weight; needs identity_run (off when empty, and said so)
    identity_run: str = "pretrained:mtl-default"  # trained thzface embedder (run or shipped weights), frozen;
    # also scores val identity
    masks: MaskConfig = field(default_factory=Masks)  # occlusion kinds, curriculum, eval mask sets

    def __post_init__(self) -> None:
        if self.hole_norm not in HOLE_NORMS:
            raise ValueError(f"LossConfig: hole_norm {self.hole_norm!r} is not one of {list(HOLE_NORMS)}")


def build_model(cfg: Config) -> AttentionUNet:
    return AttentionUNet(cfg.model)


MODEL = ModelSpec("inpaint", ModelConfig, LossConfig, build_model, aug_config=AugConfig, train_config=TrainConfig)
