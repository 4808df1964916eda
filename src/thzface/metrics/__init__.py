"""Pure evaluation metrics: verification (with identity-bootstrap intervals and fused multi-scan sets),
classification, reconstruction, separability, per-group tables.

Verification and classification work on numpy arrays; reconstruction metrics accept numpy or torch images and
return one float64 value per image; the SSIM map in :mod:`thzface.metrics.ssim` is the one SSIM definition
shared with :mod:`thzface.losses`. :mod:`thzface.metrics.baselines` holds the skeptic's baselines (raw-pixel
cosine and nearest neighbour, copy-the-input, majority class).
"""

from thzface.metrics.bootstrap import BootstrapCI, identity_bootstrap
from thzface.metrics.classification import accuracy, confusion_matrix, macro_f1, per_class_accuracy
from thzface.metrics.pairs import PairScores, cross_scores, fuse, pair_scores, set_embeddings
from thzface.metrics.reconstruction import composite, l1, masked_l1, masked_psnr, masked_ssim, psnr, ssim
from thzface.metrics.separability import diversity, frechet_distance, silhouette, silhouette_samples
from thzface.metrics.ssim import gaussian_window, ssim_map
from thzface.metrics.summary import summarize
from thzface.metrics.verification import (
    KFoldResult,
    OperatingPoint,
    ThresholdMetrics,
    at_threshold,
    best_threshold,
    det_curve,
    eer,
    kfold_accuracy,
    roc_auc,
    roc_curve,
    tar_at_far,
    triplet_accuracy,
    verification_summary,
)

__all__ = [
    "BootstrapCI",
    "KFoldResult",
    "OperatingPoint",
    "PairScores",
    "ThresholdMetrics",
    "accuracy",
    "at_threshold",
    "best_threshold",
    "composite",
    "cross_scores",
    "confusion_matrix",
    "det_curve",
    "diversity",
    "eer",
    "frechet_distance",
    "fuse",
    "gaussian_window",
    "identity_bootstrap",
    "kfold_accuracy",
    "l1",
    "macro_f1",
    "masked_l1",
    "masked_psnr",
    "masked_ssim",
    "pair_scores",
    "per_class_accuracy",
    "psnr",
    "roc_auc",
    "roc_curve",
    "set_embeddings",
    "silhouette",
    "silhouette_samples",
    "ssim",
    "ssim_map",
    "summarize",
    "tar_at_far",
    "triplet_accuracy",
    "verification_summary",
]
