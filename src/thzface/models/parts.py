"""Twin-aware verification model (recipe ``twin``): frozen global embedder + five face-part encoders, fused.

``fusion: residual`` (default) keeps the global embedding as it is and appends the part embedding (its own MLP)
scaled by ``fusion_weight`` (fitted on validation people, recipes/twin/fusion.py): the fused cosine is
``(cos_global + w² cos_parts) / (1 + w²)``, so ``w = 0`` is the global embedder exactly and the parts can only be
given weight where validation people say they help. ``fusion: mlp`` (seed 003) is one MLP over both.

Part boxes are ``(B, 5, 4)`` pixel boxes ``x0, y0, x1, y1`` in the input image, in :data:`PART_NAMES` order
(continuous pixel coordinates: pixel ``i`` spans ``[i, i + 1)``). They come from the data (the simulator's
landmark-derived ``part_boxes``) or from the model's own part-box head, trained on the simulator. The global
branch is a thzface embedder run's encoder + trunk + verification head, frozen: no gradient, and always in eval
mode (batch-norm statistics and dropout never change).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from thzface.config import from_dict
from thzface.models.blocks import is_exporting
from thzface.models.encoder import ResNetEncoder
from thzface.models.multitask import MtlModelConfig, MultiTaskModel
from thzface.models.twin_config import PART_NAMES, TwinModelConfig


def crop_parts(images: torch.Tensor, boxes: torch.Tensor, size: int, margin: float = 0.0) -> torch.Tensor:
    """Square crops around part boxes, resampled to ``size``²: (B, C, H, W), (B, K, 4) → (B, K, C, size, size).

    The crop is centred on the box with side ``max(w, h) · (1 + margin)`` (at least 1 px), so a part keeps its
    aspect ratio; sampling is bilinear and whatever lies outside the image reads as 0.
    """
    if not is_exporting():
        if images.ndim != 4 or boxes.ndim != 3 or boxes.shape[-1] != 4 or boxes.shape[0] != images.shape[0]:
            raise ValueError(f"crop_parts: need images (B, C, H, W) and boxes (B, K, 4), got "
                             f"{tuple(images.shape)} and {tuple(boxes.shape)}")  # fmt: skip
        if not bool(torch.isfinite(boxes).all()):
            raise ValueError("crop_parts: boxes hold NaN or inf")
    b, c, h, w = images.shape
    k = boxes.shape[1]
    x0, y0, x1, y1 = boxes.to(images.dtype).unbind(-1)  # (B, K) each
    side = torch.maximum(x1 - x0, y1 - y0).clamp_min(1.0) * (1.0 + margin)  # (B, K)
    theta = torch.zeros(b * k, 2, 3, dtype=images.dtype, device=images.device)  # (BK, 2, 3)
    theta[:, 0, 0] = (side / w).reshape(-1)
    theta[:, 0, 2] = ((x0 + x1) / w - 1.0).reshape(-1)
    theta[:, 1, 1] = (side / h).reshape(-1)
    theta[:, 1, 2] = ((y0 + y1) / h - 1.0).reshape(-1)
    grid = F.affine_grid(theta, [b * k, c, size, size], align_corners=False)  # (BK, s, s, 2)
    src = images[:, None].expand(b, k, c, h, w).reshape(b * k, c, h, w)  # (BK, C, H, W)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # (BK, C, s, s)
    return out.view(b, k, c, size, size)


class Bottleneck(nn.Module):
    """ResNet-50 bottleneck: 1×1 → 3×3 (stride) → 1×1 (×4 channels), BN after each, projection shortcut."""

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = 4 * width
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )  # fmt: skip
        same = stride == 1 and cin == cout
        self.shortcut = nn.Identity() if same else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                                 nn.BatchNorm2d(cout))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))  # (B, 4w, H/s, W/s)


def resnet50_body(in_channels: int) -> nn.Sequential:
    """ResNet-50 feature extractor (stem + stages [3, 4, 6, 3]) → (B, 2048, H/32, W/32); random init."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                               nn.MaxPool2d(3, 2, 1)]  # fmt: skip
    cin = 64
    for i, (width, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3), strict=True)):
        for j in range(blocks):
            layers.append(Bottleneck(cin, width, 2 if (j == 0 and i > 0) else 1))
            cin = 4 * width
    return nn.Sequential(*layers)


class PartEncoder(nn.Module):
    """One part crop (B, C, s, s) → feature (B, out_dim): a residual CNN or a ResNet-50, average-pooled."""

    def __init__(self, kind: str, in_channels: int, stem: int, widths: Sequence[int], out_dim: int) -> None:
        super().__init__()
        self.body: nn.Module = ResNetEncoder(in_channels, stem, widths) if kind == "cnn" else resnet50_body(in_channels)
        self.proj = nn.Linear(widths[-1] if kind == "cnn" else 2048, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        h = h[-1] if isinstance(h, list) else h  # (B, F, h, w)
        return self.proj(h.mean(dim=(2, 3)))  # (B, out_dim)


class BoxHead(nn.Module):
    """Image (B, C, S, S) → part boxes (B, 5, 4) in pixels: residual CNN, flattened map, sigmoid (cx, cy, w, h)."""

    def __init__(self, in_channels: int, image_size: int, widths: Sequence[int]) -> None:
        super().__init__()
        self.size = image_size
        self.body = ResNetEncoder(in_channels, widths[0], widths)
        cells = (image_size // self.body.reduction) ** 2
        self.proj = nn.Linear(widths[-1] * cells, 4 * len(PART_NAMES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)[-1].flatten(1)  # (B, F·cells) — flattened, so position survives
        cxcywh = torch.sigmoid(self.proj(h)).view(-1, len(PART_NAMES), 4) * self.size  # (B, 5, 4)
        cxcy, wh = cxcywh[..., :2], cxcywh[..., 2:]
        return torch.cat([cxcy - wh / 2, cxcy + wh / 2], dim=-1)  # (B, 5, 4) x0, y0, x1, y1


class GlobalEmbedder(nn.Module):
    """Frozen encoder + trunk (+ verification head) of a thzface ``mtl`` model; input resized to its size."""

    def __init__(self, mtl: MtlModelConfig, feature: str) -> None:
        super().__init__()
        m = MultiTaskModel(mtl)
        self.encoder, self.trunk, self.verification_head = m.encoder, m.trunk, m.verification_head
        self.size, self.feature = mtl.image_size, feature
        self.out_dim = mtl.embed_dim if feature == "embedding" else mtl.trunk_dim
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> GlobalEmbedder:
        return super().train(False)  # frozen: batch-norm statistics and dropout stay as trained

    def load_from(self, model: MultiTaskModel) -> None:
        """Copy the encoder, trunk and verification head of a trained mtl model (shapes must match)."""
        for name in ("encoder", "trunk", "verification_head"):
            getattr(self, name).load_state_dict(getattr(model, name).state_dict(), strict=True)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(m.training for m in self.modules()):  # a trainer may set .training directly (Lightning does)
            self.train(False)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)  # (B, C, s, s)
        latent = self.trunk(self.encoder(x)[-1])  # (B, F)
        return latent if self.feature == "latent" else self.verification_head(latent)  # (B, G)


@dataclass
class TwinOutput:
    embedding: torch.Tensor  # (B, D) fused embedding (L2-normalised when cfg.normalize)
    parts: torch.Tensor | None  # (B, Dp) residual fusion: the unit part embedding (what training shapes)
    global_: torch.Tensor | None  # (B, G) residual fusion: the unit global embedding (frozen)
    boxes: torch.Tensor | None  # (B, 5, 4) part boxes the crops were cut from (None without parts)
    boxes_pred: torch.Tensor | None  # (B, 5, 4) boxes of the part-box head (None without one)


class TwinModel(nn.Module):
    """Global branch (frozen) + part branches on crops + fusion MLP, built from :class:`TwinModelConfig`."""

    def __init__(self, cfg: TwinModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.global_net: GlobalEmbedder | None = None
        if cfg.global_kind == "mtl":
            if not cfg.global_model:
                raise ValueError("TwinModel: model.global_model is empty; set model.global_run to a trained mtl run "
                                 "(or model.global_kind=none for the parts-only ablation)")  # fmt: skip
            self.global_net = GlobalEmbedder(from_dict(MtlModelConfig, cfg.global_model, "model.global_model"),
                                             cfg.global_feature)  # fmt: skip
        self.part_index: torch.Tensor
        self.register_buffer("part_index", torch.tensor([PART_NAMES.index(p) for p in cfg.parts], dtype=torch.long),
                             persistent=False)  # fmt: skip
        n_enc = 1 if cfg.shared_parts else len(cfg.parts)
        self.part_encoders = nn.ModuleList(
            PartEncoder(cfg.part_encoder, cfg.in_channels, cfg.part_stem, cfg.part_widths, cfg.part_dim)
            for _ in range(n_enc if cfg.parts else 0)
        )
        self.box_net = BoxHead(cfg.in_channels, cfg.image_size, cfg.box_widths) if cfg.box_head else None
        residual = cfg.fusion == "residual"
        fused = self.global_net.out_dim if self.global_net is not None and not residual else 0
        fused += len(cfg.parts) * cfg.part_dim
        self.fusion_weight: torch.Tensor
        self.register_buffer("fusion_weight", torch.tensor(float(cfg.fusion_weight)))  # () w, saved with the run
        self.fusion = nn.Sequential(
            nn.Linear(fused, cfg.fusion_hidden), nn.BatchNorm1d(cfg.fusion_hidden), nn.ReLU(),
            nn.Dropout(cfg.dropout), nn.Linear(cfg.fusion_hidden, cfg.embed_dim),
        )  # fmt: skip

    def _check_input(self, x: torch.Tensor) -> None:
        s, c = self.cfg.image_size, self.cfg.in_channels
        if not is_exporting() and (x.ndim != 4 or tuple(x.shape[1:]) != (c, s, s)):
            raise ValueError(f"TwinModel: x must be (B, {c}, {s}, {s}), got {tuple(x.shape)}")

    def part_features(self, crops: torch.Tensor) -> torch.Tensor:
        """Crops (B, K, C, s, s) → features (B, K·P), parts in ``cfg.parts`` order."""
        b, k = crops.shape[:2]
        if self.cfg.shared_parts:
            return self.part_encoders[0](crops.flatten(0, 1)).view(b, -1)  # (B, K·P)
        return torch.cat([enc(crops[:, i]) for i, enc in enumerate(self.part_encoders)], dim=1)  # (B, K·P)

    def forward(
        self, x: torch.Tensor, boxes: torch.Tensor | None = None, use_given: torch.Tensor | None = None
    ) -> TwinOutput:
        """x (B, C, S, S); ``boxes`` (B, 5, 4) given part boxes; ``use_given`` (B,) bool picks, per row, the given
        boxes (True) or the box head's (False). Without ``boxes`` the box head's boxes are used."""
        self._check_input(x)
        pred = self.box_net(x) if self.box_net is not None else None  # (B, 5, 4)
        feats: list[torch.Tensor] = []
        g = self.global_net(x) if self.global_net is not None else None  # (B, G)
        if g is not None and self.cfg.fusion == "mlp":
            feats.append(g)
        used = None
        if self.cfg.parts:
            if boxes is None and pred is None:
                raise ValueError("TwinModel: no part boxes given and no box head (model.box_head=false)")
            used = pred.detach() if boxes is None else boxes  # type: ignore[union-attr]
            if boxes is not None and use_given is not None:
                if pred is None and not is_exporting() and not bool(use_given.all()):
                    raise ValueError("TwinModel: some rows have no part boxes and there is no box head")
                if pred is not None:
                    used = torch.where(use_given.view(-1, 1, 1), boxes, pred.detach())  # (B, 5, 4)
            crops = crop_parts(x, used[:, self.part_index], self.cfg.crop_size, self.cfg.crop_margin)
            feats.append(self.part_features(crops))  # (B, K·P)
        emb = self.fusion(torch.cat(feats, dim=1))  # (B, D)
        if self.cfg.fusion == "mlp":
            emb = F.normalize(emb, dim=1) if self.cfg.normalize else emb
            return TwinOutput(embedding=emb, parts=None, global_=None, boxes=used, boxes_pred=pred)
        p = F.normalize(emb, dim=1)  # (B, Dp)
        if g is None:  # parts only
            return TwinOutput(embedding=p, parts=p, global_=None, boxes=used, boxes_pred=pred)
        g = F.normalize(g, dim=1)  # (B, G)
        fused = torch.cat([g, self.fusion_weight * p], dim=1) / torch.sqrt(1.0 + self.fusion_weight**2)  # (B, G+Dp)
        return TwinOutput(embedding=fused, parts=p, global_=g, boxes=used, boxes_pred=pred)


def build_model(cfg: TwinModelConfig) -> TwinModel:
    """The one place that turns a :class:`TwinModelConfig` into a model."""
    if not isinstance(cfg, TwinModelConfig):
        raise ValueError(f"build_model: expected TwinModelConfig, got {type(cfg).__name__}")
    return TwinModel(cfg)
