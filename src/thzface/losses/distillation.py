"""Knowledge-distillation losses (teacher → student): feature MSE, temperature-scaled logit KL, relations.

Each takes the teacher's tensor detached by default (``detach_teacher=True``): the distillation term then
trains only the student. If the teacher side passes through a projection that *only* this loss would train,
detaching leaves that projection random (the seed system's defect): train it through another loss, or leave
it out. ``weight`` (N,), a bool mask or floats >= 0, lets samples without a teacher be skipped; their rows
are neither averaged in nor allowed to put NaN into the gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from thzface.losses.reduce import check_pair, check_weight, weighted_mean
from thzface.metrics.checks import check_positive


def _teacher(teacher: torch.Tensor, weight: torch.Tensor | None, detach: bool) -> torch.Tensor:
    """Detach (optionally) and zero the rows of skipped samples so they cannot put NaN into any gradient."""
    t = teacher.detach() if detach else teacher
    if weight is None:
        return t
    keep = (weight > 0).view(-1, *([1] * (t.ndim - 1)))  # (N, 1, ...)
    return torch.where(keep, t, torch.zeros_like(t))


def feature_distillation(
    student_feat: torch.Tensor,
    teacher_feat: torch.Tensor,
    weight: torch.Tensor | None = None,
    detach_teacher: bool = True,
) -> torch.Tensor:
    """Mean squared error between student and teacher features (N, ...), averaged per sample then over the
    (weighted) batch; scalar. Project both sides to a common shape first (with trained projections)."""
    where = "feature_distillation"
    check_pair(student_feat, teacher_feat, where, ("student_feat", "teacher_feat"))
    n = student_feat.shape[0]
    w = check_weight(weight, n, student_feat, where)
    t = _teacher(teacher_feat, w, detach_teacher)
    per_sample = ((student_feat - t) ** 2).reshape(n, -1).mean(dim=1)  # (N,)
    return weighted_mean(per_sample, w)


def logit_distillation(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    T: float = 3.0,
    weight: torch.Tensor | None = None,
    detach_teacher: bool = True,
) -> torch.Tensor:
    """T^2 * KL(softmax(teacher / T) || softmax(student / T)), summed over classes, averaged over the
    (weighted) batch; scalar (Hinton et al. 2015: the T^2 keeps gradient magnitudes comparable across
    temperatures)."""
    where = "logit_distillation"
    check_pair(student_logits, teacher_logits, where, ("student_logits", "teacher_logits"), ndim=2)
    T = check_positive(T, where, "T")
    w = check_weight(weight, student_logits.shape[0], student_logits, where)
    t = _teacher(teacher_logits, w, detach_teacher)
    log_p_s = F.log_softmax(student_logits / T, dim=1)  # (N, K)
    log_p_t = F.log_softmax(t / T, dim=1)  # (N, K)
    per_sample = F.kl_div(log_p_s, log_p_t, reduction="none", log_target=True).sum(dim=1)  # (N,)
    return (T * T) * weighted_mean(per_sample, w)


def relation_distillation(s_emb: torch.Tensor, t_emb: torch.Tensor, detach_teacher: bool = True) -> torch.Tensor:
    """Match pairwise cosine-similarity matrices: mean over i != j of (cos_s(i, j) - cos_t(i, j))^2; scalar.

    ``s_emb`` (N, D_s) and ``t_emb`` (N, D_t) may differ in width (no projection needed); N >= 2. Invariant to
    rotations and scalings of either embedding space.
    """
    where = "relation_distillation"
    for name, x in (("s_emb", s_emb), ("t_emb", t_emb)):
        if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point or x.ndim != 2:
            raise ValueError(f"{where}: {name} must be a floating-point (N, D) tensor")
    n = s_emb.shape[0]
    if t_emb.shape[0] != n or n < 2:
        raise ValueError(f"{where}: s_emb and t_emb need the same N >= 2, got {s_emb.shape[0]} and {t_emb.shape[0]}")
    zs = F.normalize(s_emb, dim=1)  # (N, D_s)
    zt = F.normalize(t_emb.detach() if detach_teacher else t_emb, dim=1)  # (N, D_t)
    diff = zs @ zs.T - zt @ zt.T  # (N, N)
    off_diag = ~torch.eye(n, dtype=torch.bool, device=diff.device)  # (N, N)
    return (diff[off_diag] ** 2).mean()
