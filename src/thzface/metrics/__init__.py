"""Pure evaluation metrics: verification, classification, reconstruction, separability, per-group tables.

Verification and classification work on numpy arrays; reconstruction metrics accept numpy or torch images and
return one float64 value per image; the SSIM map in :mod:`thzface.metrics.ssim` is the one SSIM definition
shared with :mod:`thzface.losses`. :mod:`thzface.metrics.baselines` holds the skeptic's baselines (raw-pixel
cosine and nearest neighbour, copy-the-input, majority class).
"""

from thzface.metrics.classification import accuracy, confusion_matrix, macro_f1, per_class_accuracy
from thzface.metrics.pairs import PairScores, pair_scores
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
    "KFoldResult",
    "OperatingPoint",
    "PairScores",
    "ThresholdMetrics",
    "accuracy",
    "at_threshold",
    "best_threshold",
    "composite",
    "confusion_matrix",
    "det_curve",
    "diversity",
    "eer",
    "frechet_distance",
    "gaussian_window",
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
    "silhouette",
    "silhouette_samples",
    "ssim",
    "ssim_map",
    "summarize",
    "tar_at_far",
    "triplet_accuracy",
    "verification_summary",
]
