"""Adversarial losses: discriminator / generator objectives (hinge, non-saturating) and gradient penalties."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from thzface.metrics.checks import check_float_tensor

GAN_KINDS = ("hinge", "nonsaturating")
PENALTY_KINDS = ("wgan-gp", "r1")


def _check_kind(kind: str, where: str) -> None:
    if kind not in GAN_KINDS:
        raise ValueError(f"{where}: kind must be one of {GAN_KINDS}, got {kind!r}")


def gan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """Discriminator loss on raw logits of any shape (e.g. PatchGAN maps); scalar.

    hinge: mean(relu(1 - D(real))) + mean(relu(1 + D(fake)));
    nonsaturating: mean(softplus(-D(real))) + mean(softplus(D(fake))) (binary cross-entropy with logits).
    """
    where = "gan_d_loss"
    check_float_tensor(real_logits, where, "real_logits")
    check_float_tensor(fake_logits, where, "fake_logits")
    _check_kind(kind, where)
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_g_loss(fake_logits: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """Generator loss on the discriminator's logits for generated images; scalar.

    hinge: -mean(D(fake)); nonsaturating: mean(softplus(-D(fake))).
    """
    where = "gan_g_loss"
    check_float_tensor(fake_logits, where, "fake_logits")
    _check_kind(kind, where)
    if kind == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    kind: str = "wgan-gp",
) -> torch.Tensor:
    """Gradient penalty on the discriminator; scalar, differentiable w.r.t. the discriminator's parameters.

    wgan-gp (Gulrajani et al. 2017): x = e * real + (1 - e) * fake with e ~ U(0, 1) per sample (drawn with
    ``generator``, which must live on ``real``'s device); penalty = mean((|grad_x sum D(x)|_2 - 1)^2).
    r1 (Mescheder et al. 2018): penalty = mean(|grad_x sum D(x)|_2^2) at x = real (``fake`` unused); the usual
    weight is gamma / 2. ``real`` and ``fake`` are detached: the penalty trains only the discriminator.
    """
    where = "gradient_penalty"
    check_float_tensor(real, where, "real")
    if real.ndim < 2 or real.shape[0] < 1:
        raise ValueError(f"{where}: real must be a batch (N, ...), got shape {tuple(real.shape)}")
    if kind not in PENALTY_KINDS:
        raise ValueError(f"{where}: kind must be one of {PENALTY_KINDS}, got {kind!r}")
    with torch.enable_grad():
        if kind == "wgan-gp":
            if fake is None:
                raise ValueError(f"{where}: kind='wgan-gp' needs fake")
            check_float_tensor(fake, where, "fake")
            if fake.shape != real.shape:
                raise ValueError(f"{where}: real and fake shapes differ: {tuple(real.shape)} vs {tuple(fake.shape)}")
            shape = (real.shape[0],) + (1,) * (real.ndim - 1)
            e = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)  # (N, 1, ...)
            x = e * real.detach() + (1.0 - e) * fake.detach().to(real.device)  # (N, ...)
        else:
            x = real.detach().clone()  # (N, ...)
        x.requires_grad_(True)
        out = discriminator(x)
        (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)  # (N, ...)
        norm_sq = grad.flatten(1).pow(2).sum(dim=1)  # (N,)
        if kind == "r1":
            return norm_sq.mean()
        return ((norm_sq + 1e-12).sqrt() - 1.0).pow(2).mean()
