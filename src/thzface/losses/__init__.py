"""Training losses: pure differentiable torch functions → scalar, local-file LPIPS.

Families: embedding (supcon, triplet, batch-hard, identity), margin-softmax identity heads (CosFace, ArcFace,
AdaFace; combinable with supcon via ``build_identity_loss``), classification (label-smoothing CE),
reconstruction (Charbonnier, 1 - SSIM, Sobel gradient, TV; the inpainting hole L1 is in losses.inpaint),
distillation (feature, logit, relation), adversarial (hinge / non-saturating, WGAN-GP / R1 penalty), perceptual (LPIPS),
geometry (privileged shape and pose regression for pretraining).
"""

from thzface.losses.adversarial import gan_d_loss, gan_g_loss, gradient_penalty
from thzface.losses.classification import label_smoothing_ce
from thzface.losses.distillation import feature_distillation, logit_distillation, relation_distillation
from thzface.losses.embedding import batch_hard_triplet, identity_loss, supcon, supcon_uniform, triplet_margin
from thzface.losses.geometry import pose_regression, shape_regression
from thzface.losses.margin import IdentityLoss, MarginHead, build_identity_loss
from thzface.losses.perceptual import LPIPS, WeightsNotFoundError, lpips_loss
from thzface.losses.reconstruction import (
    charbonnier,
    gradient_loss,
    reconstruction_loss,
    reconstruction_terms,
    sobel,
    ssim_loss,
    tv_loss,
)

__all__ = [
    "IdentityLoss",
    "LPIPS",
    "MarginHead",
    "WeightsNotFoundError",
    "batch_hard_triplet",
    "build_identity_loss",
    "charbonnier",
    "feature_distillation",
    "gan_d_loss",
    "gan_g_loss",
    "gradient_loss",
    "gradient_penalty",
    "identity_loss",
    "label_smoothing_ce",
    "logit_distillation",
    "lpips_loss",
    "pose_regression",
    "reconstruction_loss",
    "reconstruction_terms",
    "relation_distillation",
    "shape_regression",
    "sobel",
    "ssim_loss",
    "supcon",
    "supcon_uniform",
    "triplet_margin",
    "tv_loss",
]
