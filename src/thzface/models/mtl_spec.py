"""The ``mtl`` model spec: its config sections' dataclasses (defaults == ``configs/mtl-default.yaml``, a test checks
it) and the deployable model builder; here, below the recipes, so the embedder loads mtl runs without the recipe."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from thzface import config as C
from thzface.config import Config
from thzface.models.multitask import MtlModelConfig
from thzface.models.multitask import build_model as _build
from thzface.models.spec import ModelSpec


@dataclass
class ModelConfig(MtlModelConfig):
    """The ``mtl`` recipe's model section: :class:`MtlModelConfig` itself (its defaults are ``mtl-default``'s)."""


@dataclass
class DataConfig(C.DataConfig):
    target: str = "clean"  # reconstruct the simulator's clean target at the concealed pose (what eval scores the
    # decoder against); a folder without clean/ (real data) falls back to the unconcealed scan, the positive


@dataclass
class AugConfig(C.AugConfig):
    profile: str = "scan"  # scan-like augmentation (ours)
    p: float = 0.5
    paired: bool = True
    mirror: float = 0.0  # joint batches: probability of a left-right mirror of a capture (posture left <-> right)


@dataclass
class TrainConfig(C.TrainConfig):
    sampler: str = "joint"  # joint (P×K captures, one forward pass) | pk | random (triplet rows)
    batch_size: int = 32  # P·K: 8 identities × 4 captures
    lr: float = 2e-3
    max_epochs: int = 60
    warmup_frac: float = 0.03
    monitor: str = "val/score"  # mean of (1 - EER, posture accuracy, SSIM) on validation


@dataclass
class LossConfig:
    metric: str = "supcon"  # supcon | batch_hard | triplet (triplet rows only) | none (identity metric-learning loss)
    metric_labels: str = "identity"  # identity | triplet (the reference's defect: triplet indices as labels)
    w_metric: float = 1.0  # weight of the metric-learning loss
    temperature: float = 0.1  # SupCon temperature
    margin: float = 0.3  # triplet margin (triplet / batch_hard)
    margin_head: str = "arcface"  # none | cosface | arcface | adaface: margin-softmax identity head (joint batches)
    w_margin: float = 0.5  # weight of the margin-softmax cross-entropy
    margin_s: float | None = None  # its scale s (None: the paper's, 64)
    margin_m: float | None = None  # its margin m (None: the paper's: cosface 0.35, arcface 0.5, adaface 0.4)
    w_posture: float = 1.0  # weight of the posture cross-entropy
    smoothing: float = 0.1  # label smoothing of the posture cross-entropy
    w_rec: float = 1.0  # weight of the reconstruction loss
    w_charb: float = 1.0  # Charbonnier term inside the reconstruction loss
    w_ssim: float = 0.8  # (1 - SSIM) term inside the reconstruction loss
    w_grad: float = 0.2  # Sobel-gradient L1 term inside the reconstruction loss
    w_lpips: float = 0.0  # perceptual term; needs lpips_path (off when empty, and said so)
    lpips_path: str = ""  # local path to perceptual backbone weights (nothing is downloaded)
    train_route: str = "predicted"  # decoder routing while training: predicted | oracle | soft
    w_shape: float = 0.0  # privileged geometry (simulated folders, training only): the person's shape coefficients
    # regressed from the embedding by a training-only head (losses.geometry.shape_regression)
    w_pose: float = 0.0  # the scan's pose (yaw, pitch, roll, dx, dy) regressed from the trunk latent (training only)
    w_frontal: float = 0.0  # the person's frontal clean face painted from the embedding by a training-only head
    # (recipes/mtl/frontal.py; simulated folders with clean targets and poses; the reconstruction loss's weights)
    frontal_size: int = 32  # side of that face in pixels (a multiple of 8)
    gallery_views: bool = False  # joint batches: each capture's unconcealed counterpart (the gallery's kind of scan)
    # is embedded too and joins the identity loss with its person's label, so the metric is learnt across the two
    # states verification pairs (concealed probe x unconcealed gallery); off: concealed captures only
    w_align: float = 1.0  # model.align=inplane: the aligner's in-plane pose of each concealed scan and of its
    # unconcealed counterpart against the simulator's (smooth-L1 in units of models.align.ALIGN_SCALE); rows or
    # folders without poses (real data) train nothing of the aligner


def build_model(cfg: Config) -> nn.Module:
    """The deployable model of an mtl run (a :class:`~thzface.models.multitask.MultiTaskModel`)."""
    return _build(cfg.model)


MTL = ModelSpec(
    "mtl", ModelConfig, LossConfig, build_model, data_config=DataConfig, aug_config=AugConfig, train_config=TrainConfig
)
