"""Multi-task THz model (recipe ``mtl``): shared encoder → L2 embedding, posture logits, posture-routed
reconstruction of the unconcealed face.

``arch: paper`` is a faithful replica of the reference THz-only model (23.50 M parameters; its released
weights load through :mod:`thzface.export.importer`). ``arch: default`` is our lighter design. Routing of the
reconstruction decoder (see :meth:`MultiTaskModel.routing`):

* ``route="predicted"`` (inference default): from the *predicted* posture — a one-hot argmax for ``moe_hard``
  and ``film``, the softmax probabilities for ``moe_soft``;
* ``route="soft"``: the softmax probabilities (every expert runs and receives gradient);
* ``route="oracle"``: one-hot of the given ground-truth labels (0-based) — how the reference trained and,
  wrongly, tested; kept so evaluation can report it apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from thzface.models.align import InPlaneAligner, warp_inplane
from thzface.models.blocks import embedding_head, is_exporting
from thzface.models.decoders import MixtureDecoder, UNetDecoder
from thzface.models.encoder import EncoderFeatures, ResNetEncoder, build_trunk
from thzface.models.mtl_config import ALIGNS, ARCHS, DECODERS, POOLS, MtlModelConfig, mtl_preset

__all__ = ["ALIGNS", "ARCHS", "DECODERS", "POOLS", "MtlModelConfig", "MultiTaskModel", "MultiTaskOutput",
           "build_encoder", "build_model", "mtl_preset"]  # fmt: skip

Route = Literal["predicted", "oracle", "soft"]
ROUTES: tuple[str, ...] = ("predicted", "oracle", "soft")
RESIDUAL_HEAD_SCALE = 1e-2  # residual mode: initial scale of the decoder's last conv
RESIDUAL_EPS = 1.0 / 512  # input clamp before the logit of a residual reconstruction (half an 8-bit step)


@dataclass
class MultiTaskOutput:
    embedding: torch.Tensor  # (B, D) L2-normalised verification embedding
    posture_logits: torch.Tensor  # (B, P) posture logits
    reconstruction: torch.Tensor  # (B, C, H, W) unconcealed-face estimate in [0, 1]
    latent: torch.Tensor  # (B, F) trunk latent shared by the heads
    routing: torch.Tensor  # (B, P) decoder routing weights actually used
    alignment: torch.Tensor | None = None  # (B, 3) predicted in-plane pose (roll, tx, ty) when ``cfg.align``


class MultiTaskModel(nn.Module):
    """Encoder + verification head + posture head + posture-routed decoder, built from :class:`MtlModelConfig`."""

    def __init__(self, cfg: MtlModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        aligns = cfg.align == "inplane"
        self.aligner = InPlaneAligner(cfg.in_channels, cfg.align_width, cfg.image_size) if aligns else None
        self.encoder = build_encoder(cfg, cfg.in_channels)
        bottleneck = cfg.image_size // self.encoder.reduction
        kind = "conv" if cfg.arch == "paper" else cfg.pool
        self.trunk = build_trunk(kind, cfg.widths[-1], cfg.trunk_dim, bottleneck, cfg.dropout)
        self.verification_head = embedding_head(cfg.trunk_dim, cfg.embed_hidden, cfg.embed_dim, cfg.dropout)
        self.posture_head = nn.Linear(cfg.trunk_dim, cfg.num_postures)
        film = cfg.decoder == "film"
        n_dec, cond = (1, cfg.num_postures) if film else (cfg.num_postures, 0)
        experts = [self._make_decoder(cond_dim=cond) for _ in range(n_dec)]
        self.decoder: nn.Module = experts[0] if film else MixtureDecoder(experts)
        if cfg.residual:  # near-zero correction at start (the reconstruction begins as the input), not exactly
            with torch.no_grad():  # zero, so every decoder weight gets a gradient from the first step
                for expert in experts:
                    final = expert.head[0]
                    assert isinstance(final, nn.Conv2d)
                    final.weight.mul_(RESIDUAL_HEAD_SCALE)
                    final.bias.zero_()  # type: ignore[union-attr]
        if cfg.channels_last:  # conv weights NHWC too (checkpoints still save contiguous NCHW copies)
            self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stub lacks it

    def _make_decoder(self, cond_dim: int) -> UNetDecoder:
        c = self.cfg
        return UNetDecoder(
            c.widths[-1], tuple(reversed(c.widths[:-1])), c.decoder_reduce, c.decoder_widths,
            c.out_channels, c.rdb_growth, c.rdb_layers, cond_dim, raw_output=c.residual, final_up=c.stem_stride == 2,
        )  # fmt: skip

    def _check_input(self, x: torch.Tensor) -> None:
        if is_exporting():
            return
        c, r = self.cfg, self.encoder.reduction
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != c.in_channels:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"MultiTaskModel: x must be (B, {c.in_channels}, H, W), got {got}")
        h, w = int(x.shape[2]), int(x.shape[3])
        if c.fixed_size and (h, w) != (c.image_size, c.image_size):
            kind = "paper" if c.arch == "paper" else "pool=flatten"
            raise ValueError(f"MultiTaskModel({kind}): input must be {c.image_size}×{c.image_size}, got {h}×{w}")
        if h % r or w % r or h == 0 or w == 0:
            raise ValueError(f"MultiTaskModel: input size {h}×{w} must be a positive multiple of {r}")

    def encode(self, x: torch.Tensor, mirror: bool = False) -> EncoderFeatures:
        """x (B, C, H, W) in [0, 1] → skips, bottleneck and latent vector (with ``cfg.align``: of x warped to
        canonical by the aligner's prediction, which only its own loss trains: the warp reads it detached).
        ``mirror``: features of the B scans followed by their B left-right mirror images (the flip test); the
        aligned scan is mirrored, so the aligner and the warp run once (the mirror of a warp by (roll, tx, ty) is
        the warp of the mirror by (-roll, -tx, ty))."""
        self._check_input(x)
        aligned = alignment = None
        if self.aligner is not None:
            alignment = self.aligner(x)  # (B, 3)
            x = aligned = warp_inplane(x, alignment.detach())  # (B, C, H, W)
        if mirror:
            x = torch.cat([x, x.flip(-1)])  # (2B, C, H, W) views, then mirrors
        if self.cfg.channels_last and not is_exporting():
            x = x.contiguous(memory_format=torch.channels_last)  # (B, C, H, W), NHWC in memory
        stages = self.encoder(x)  # list of (B, w_i, H/2^(i+1), W/2^(i+1))
        latent = self.trunk(stages[-1])  # (B, F)
        return EncoderFeatures(stages[:-1], stages[-1], latent, aligned, alignment)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The verification embedding as deployed (no decoder): (B, D), L2-normalised. With ``cfg.flip_test`` the
        re-normalised sum of the embeddings of ``x`` and of its left-right mirror image, in one batch (the flip test
        of face recognition's evaluations: a symmetric face's identity does not change under the mirror, the
        pose-dependent part of one view is averaged with its mirror's). Training losses read the single view
        (``forward().embedding``); validation, evaluation, ``verify``, ``serve`` and the ONNX graphs read this."""
        if not self.cfg.flip_test:
            return self.verification_head(self.encode(x).latent)  # (B, D)
        return self._flip_test(self.encode(x, mirror=True).latent, x.shape[0])

    def _flip_test(self, latent: torch.Tensor, b: int) -> torch.Tensor:
        """Embedding (B, D) from the latents (2B, F) of B views followed by their B mirror images."""
        e = self.verification_head(latent)  # (2B, D)
        return F.normalize(e[:b] + e[b:], dim=1)  # (B, D)

    def infer(self, x: torch.Tensor) -> MultiTaskOutput:
        """Inference on ``x``: ``forward(route="predicted")`` with the deployed embedding (:meth:`embed`); with the
        flip test the scan and its mirror share one encoder pass, and posture and decoder read the scan's half."""
        if not self.cfg.flip_test:
            return self(x, route="predicted")
        b = x.shape[0]
        both = self.encode(x, mirror=True)  # views, then mirrors: (2B, ...)
        return self._heads(both.rows(b), x, None, "predicted", self._flip_test(both.latent, b))

    def routing(
        self, posture_logits: torch.Tensor, posture: torch.Tensor | None, route: str
    ) -> tuple[torch.Tensor, bool]:
        """Routing weights (B, P) for ``route`` and whether they are one-hot (see the module docstring)."""
        n, p = posture_logits.shape
        if route not in ROUTES:
            raise ValueError(f"MultiTaskModel: route {route!r} is not one of {list(ROUTES)}")
        if route == "oracle":
            if posture is None:
                raise ValueError("MultiTaskModel: route='oracle' needs the ground-truth posture labels")
            if posture.shape != (n,) or posture.dtype not in (torch.int64, torch.int32):
                raise ValueError(f"MultiTaskModel: posture must be integer labels of shape ({n},)")
            if bool(((posture < 0) | (posture >= p)).any()):
                raise ValueError(f"MultiTaskModel: posture labels must be 0-based in [0, {p - 1}]")
            return F.one_hot(posture.long(), p).to(posture_logits.dtype), True
        if route == "soft" or self.cfg.decoder == "moe_soft":
            probs = posture_logits.softmax(dim=1)  # (B, P)
            return (probs if self.cfg.gate_grad else probs.detach()), False
        return F.one_hot(posture_logits.argmax(dim=1), p).to(posture_logits.dtype), True  # (B, P)

    def reconstruct(
        self, feats: EncoderFeatures, weights: torch.Tensor, hard: bool, x: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Decode the unconcealed face (B, C, H, W) from encoder features and routing weights (B, P).

        With ``residual`` the decoder gives a correction in logit space to the input ``x`` (B, C, H, W).
        """
        if isinstance(self.decoder, MixtureDecoder):
            out = self.decoder(feats.bottleneck, feats.skips, weights, hard)
        else:
            out = self.decoder(feats.bottleneck, feats.skips, cond=weights)  # (B, C, H, W)
        if not self.cfg.residual:
            return out
        if x is None:
            raise ValueError("MultiTaskModel: residual reconstruction needs the input image x")
        return torch.sigmoid(torch.logit(x.clamp(RESIDUAL_EPS, 1 - RESIDUAL_EPS)) + out)  # (B, C, H, W)

    def forward(
        self, x: torch.Tensor, posture: torch.Tensor | None = None, route: Route = "predicted"
    ) -> MultiTaskOutput:
        feats = self.encode(x)
        return self._heads(feats, x, posture, route, self.verification_head(feats.latent))  # one view's embedding

    def _heads(
        self, feats: EncoderFeatures, x: torch.Tensor, posture: torch.Tensor | None, route: Route, emb: torch.Tensor
    ) -> MultiTaskOutput:
        """Posture, routing and reconstruction from ``feats`` of ``x``, beside the embedding ``emb`` (B, D). An
        aligning model reconstructs in the canonical frame and warps the result back to the scan's pose."""
        logits = self.posture_head(feats.latent)  # (B, P)
        weights, hard = self.routing(logits, posture, route)  # (B, P)
        if feats.aligned is None or feats.alignment is None:
            rec = self.reconstruct(feats, weights, hard, x)  # (B, C, H, W)
        else:
            rec = self.reconstruct(feats, weights, hard, feats.aligned)  # (B, C, H, W), canonical frame
            rec = warp_inplane(rec, feats.alignment.detach(), inverse=True)  # (B, C, H, W), the scan's frame
        return MultiTaskOutput(
            embedding=emb,  # (B, D)
            posture_logits=logits,
            reconstruction=rec,
            latent=feats.latent,
            routing=weights,
            alignment=feats.alignment,
        )


def build_encoder(cfg: MtlModelConfig, in_channels: int) -> ResNetEncoder:
    """The encoder design of ``cfg`` (stem, widths, depths, stride, separable) for ``in_channels`` inputs."""
    return ResNetEncoder(in_channels, cfg.stem_width, cfg.widths, cfg.depths, cfg.stem_stride, cfg.separable)


def build_model(cfg: MtlModelConfig) -> MultiTaskModel:
    """The one place that turns an :class:`MtlModelConfig` into a model."""
    if not isinstance(cfg, MtlModelConfig):
        raise ValueError(f"build_model: expected MtlModelConfig, got {type(cfg).__name__}")
    return MultiTaskModel(cfg)
