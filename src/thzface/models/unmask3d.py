"""The deployable ``unmask3d`` model: N3D (mask + coefficients) and generator, with coefficient statistics.

``Unmask3D`` holds what ``model.safetensors`` stores: the N3D, the generator and the training-set mean/std of
every coefficient (the N3D predicts standardised values, so a zero output is the predict-the-mean baseline).
The renderer between them is numpy code of the simulator (:mod:`thzface.recipes.unmask3d.render`), not a module.
The PatchGAN discriminator is training-only and lives in the task.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from thzface.models.eigenface import EigenFace, seamless
from thzface.models.inpaint import diffusion_fill
from thzface.models.unmask3d_nets import N3D, NORMS, Generator, N3DOutput, PatchDiscriminator

MODALITIES = ("thz", "visible")
FILLS = ("zeros", "noise", "keep")
STARTS = ("input", "eigen")
RENDER_CHANNELS = 3  # depth, Lambertian shading, region labels


@dataclass
class Unmask3DModelConfig:
    modality: str = "thz"  # images unmasked: thz (concealed scan -> unconcealed) | visible (RGB photos in visible/)
    image_channels: int = 1  # 1 (THz or grayscale) | 3 (RGB visible: generator input 3 + 1 + 3 = 7 channels)
    face_model: str = "builtin"  # coefficient set the N3D predicts and the renderer draws: builtin | sfm
    face_model_path: str = ""  # sfm only: path to sfm_shape_3448.npz (empty: $THZFACE_SFM_PATH)
    render_grid_deg: float = 3.0  # head-surface grid of the renderer in degrees (the simulator's 1.5 is ~5x slower)
    use_render: bool = True  # False: the generator sees zeros instead of the render (the no-3D-prior ablation)
    n3d_widths: tuple[int, ...] = (32, 64, 128, 256)  # N3D gated-conv channels per level (stride 2 between)
    n3d_hidden: int = 256  # hidden units of the N3D coefficient MLP
    gen_widths: tuple[int, ...] = (32, 64, 128)  # generator U-Net channels per level (stride 2 between)
    gen_res_blocks: int = 6  # residual blocks at the generator bottleneck
    z_dim: int = 8  # channels of the latent noise map (bottleneck size) added in every residual block (0: none)
    hole_fill: str = "noise"  # generator input inside the mask: zeros | noise (seeded uniform) | keep (as seen)
    residual: bool = False  # keep only: output = start + net, clamped to [0, 1] with a straight-through gradient
    # (THz garments are semi-transparent, so the generator learns a correction of the seen pixels)
    start: str = "input"  # residual start: input (the concealed scan as seen) | eigen (the hole filled by a linear
    # prior of target faces and, with use_render, their renders, fitted to the known pixels and the render)
    eigen_k: int = 40  # start eigen: principal directions of the joint (target, render) prior
    eigen_ridge: float = 1.0  # start eigen: ridge on the prior's SD-scaled coefficients
    disc_widths: tuple[int, ...] = (64, 128, 256)  # PatchGAN stride-2 conv channels
    norm: str = "instance"  # normalisation in N3D and generator: instance | batch | none

    def __post_init__(self) -> None:
        self.n3d_widths, self.gen_widths = tuple(self.n3d_widths), tuple(self.gen_widths)
        self.disc_widths = tuple(self.disc_widths)
        where = "unmask3d model"
        for name, allowed in (("modality", MODALITIES), ("hole_fill", FILLS), ("norm", NORMS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{where}.{name}: {getattr(self, name)!r} is not one of {list(allowed)}")
        if self.face_model not in ("builtin", "sfm"):
            raise ValueError(f"{where}.face_model: {self.face_model!r} is not 'builtin' or 'sfm'")
        if self.image_channels not in (1, 3) or (self.modality == "thz" and self.image_channels != 1):
            raise ValueError(f"{where}.image_channels: {self.image_channels} (thz: 1; visible: 1 or 3)")
        if self.start not in STARTS or (self.start != "input" and not self.residual):
            raise ValueError(f"{where}.start: {self.start!r} must be one of {list(STARTS)}; eigen needs residual")
        if self.eigen_k < 1 or self.eigen_ridge <= 0:
            raise ValueError(f"{where}: eigen_k {self.eigen_k} must be >= 1 and eigen_ridge {self.eigen_ridge} > 0")
        if self.residual and self.hole_fill != "keep":
            raise ValueError(f"{where}.residual: needs hole_fill 'keep' (a correction of pixels the network sees)")
        if not 0.5 <= self.render_grid_deg <= 5.0:
            raise ValueError(f"{where}.render_grid_deg: {self.render_grid_deg} must lie in [0.5, 5]")

    @property
    def generator_in_channels(self) -> int:
        return self.image_channels + 1 + RENDER_CHANNELS


@dataclass
class Noise:
    """One draw of the generator's randomness: the hole fill image and the latent vector."""

    fill: torch.Tensor  # (B, C, H, W) uniform values used inside the hole when hole_fill == "noise"
    z: torch.Tensor  # (B, z_dim, H / 2^L, W / 2^L) standard normal latent map (z_dim may be 0)

    def flat(self) -> torch.Tensor:
        """The noise that drives diversity, (B, D): the latent z, or the hole fill when there is no latent."""
        return self.z.flatten(1) if self.z.shape[1] > 0 else self.fill.flatten(1)


class Unmask3D(nn.Module):
    """N3D + generator + coefficient statistics (buffers ``coef_mean``, ``coef_std``, ``coef_stats_set``)."""

    coef_mean: torch.Tensor
    coef_std: torch.Tensor
    coef_stats_set: torch.Tensor

    def __init__(self, cfg: Unmask3DModelConfig, n_coeffs: int, image_size: int = 64) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.image_channels
        self.n3d = N3D(c, cfg.n3d_widths, cfg.n3d_hidden, n_coeffs, cfg.norm)
        self.generator = Generator(
            cfg.generator_in_channels, c, cfg.gen_widths, cfg.gen_res_blocks, cfg.z_dim, cfg.norm
        )
        self.register_buffer("coef_mean", torch.zeros(n_coeffs))  # (K,) training-set mean
        self.register_buffer("coef_std", torch.ones(n_coeffs))  # (K,) training-set std
        self.register_buffer("coef_stats_set", torch.zeros((), dtype=torch.bool))  # set once from the training data
        pixels = (c + RENDER_CHANNELS) * image_size**2
        self.prior = EigenFace(pixels, cfg.eigen_k, cfg.eigen_ridge) if cfg.start == "eigen" else None

    @property
    def n_coeffs(self) -> int:
        return int(self.coef_mean.numel())

    def set_coef_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        if mean.shape != self.coef_mean.shape or std.shape != self.coef_std.shape:
            raise ValueError(f"set_coef_stats: expected ({self.n_coeffs},) statistics, got {tuple(mean.shape)}")
        self.coef_mean.copy_(mean)
        self.coef_std.copy_(std.clamp_min(1e-3))
        self.coef_stats_set.fill_(True)

    def standardise(self, coeffs: torch.Tensor) -> torch.Tensor:
        return (coeffs - self.coef_mean) / self.coef_std  # (B, K)

    def destandardise(self, coeffs: torch.Tensor) -> torch.Tensor:
        return coeffs * self.coef_std + self.coef_mean  # (B, K)

    def analyse(self, image: torch.Tensor) -> N3DOutput:
        """N3D on (B, C, H, W): garment logits and standardised coefficients."""
        return self.n3d(image)

    def draw_noise(self, image: torch.Tensor, generator: torch.Generator | None) -> Noise:
        """Noise for ``image``'s batch from ``generator`` (CPU generator; tensors moved to the image's device)."""
        b = image.shape[0]
        fill = torch.rand(image.shape, generator=generator).to(image.device)  # (B, C, H, W)
        levels = len(self.cfg.gen_widths) - 1
        shape = (b, self.cfg.z_dim, image.shape[2] >> levels, image.shape[3] >> levels)
        z = torch.randn(shape, generator=generator).to(image.device)  # (B, z_dim, h, w)
        return Noise(fill=fill, z=z)

    def prior_input(self, image: torch.Tensor, render: torch.Tensor) -> torch.Tensor:
        """What the joint prior models: ``cat(image, render)``, the render zeroed without ``use_render``."""
        return torch.cat([image, render if self.cfg.use_render else torch.zeros_like(render)], dim=1)

    def start(self, image: torch.Tensor, mask: torch.Tensor, render: torch.Tensor) -> torch.Tensor:
        """Residual start (B, C, H, W) in [0, 1]: the input, or the hole filled by the prior fitted to the pixels
        outside the mask and to the whole render (:func:`thzface.models.eigenface.seamless`)."""
        if self.prior is None:
            return image
        x = self.prior_input(image, render)  # (B, C + 3, H, W)
        known = torch.cat([(1.0 - mask).expand_as(image), torch.ones_like(render)], dim=1)  # render: seen everywhere
        face = self.prior.reconstruct(x, known)[:, : image.shape[1]]  # (B, C, H, W)
        return seamless(face, image, mask, diffusion_fill).clamp(0.0, 1.0)  # a linear model can leave [0, 1]

    def generator_input(
        self, image: torch.Tensor, mask: torch.Tensor, render: torch.Tensor, noise: Noise
    ) -> torch.Tensor:
        """``cat(filled image, mask, render)``: the hole holds zeros, noise or the seen pixels (``hole_fill``)."""
        if self.cfg.hole_fill == "keep":
            filled = image  # (B, C, H, W) semi-transparent garments: the pixels under them carry signal
        else:
            hole = torch.zeros_like(image) if self.cfg.hole_fill == "zeros" else noise.fill
            filled = image * (1.0 - mask) + hole * mask  # (B, C, H, W)
        if not self.cfg.use_render:
            render = torch.zeros_like(render)  # (B, 3, H, W) the no-prior ablation
        return torch.cat([filled, mask, render], dim=1)  # (B, C + 1 + 3, H, W)

    def generate(self, image: torch.Tensor, mask: torch.Tensor, render: torch.Tensor, noise: Noise) -> torch.Tensor:
        """Raw generator output (B, C, H, W) in [0, 1]; composite it with :func:`composite`.

        Residual mode adds the network's output to the input linearly (a sigmoid around ``logit(input)`` would
        freeze dark pixels, most of a THz scan, where its slope vanishes) and clamps with a straight-through
        gradient, so the pixel loss still pulls an overshooting pixel back.
        """
        z = noise.z if self.cfg.z_dim > 0 else None
        out = self.generator(self.generator_input(image, mask, render, noise), z)  # (B, C, H, W) logits
        if self.cfg.residual:
            res = self.start(image, mask, render) + out  # (B, C, H, W)
            return res + (res.clamp(0.0, 1.0) - res).detach()  # values clamped, gradient straight through
        return torch.sigmoid(out)  # (B, C, H, W)

    def forward(
        self, image: torch.Tensor, mask: torch.Tensor, render: torch.Tensor, fill: torch.Tensor, z: torch.Tensor
    ) -> torch.Tensor:
        """Tensor-only generator pass (export, profiling): the composite (B, C, H, W) for explicit noise."""
        return composite(self.generate(image, mask, render, Noise(fill=fill, z=z)), image, mask)


def composite(raw: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Generated pixels inside the mask, the input's outside: (B, C, H, W)."""
    return mask * raw + (1.0 - mask) * image


def build_discriminator(cfg: Unmask3DModelConfig) -> PatchDiscriminator:
    return PatchDiscriminator(cfg.image_channels, cfg.disc_widths)


def build_model(cfg: Unmask3DModelConfig, n_coeffs: int, image_size: int = 64) -> Unmask3D:
    return Unmask3D(cfg, n_coeffs, image_size)
