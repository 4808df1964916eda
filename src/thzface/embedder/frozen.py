"""A frozen thzface verification embedder (a trained ``mtl``/``distill`` run) as another recipe's identity loss and
identity-similarity metric (inpaint, unmask3d); never a randomly initialised network.

Images in [0, 1] are converted to the embedder's input: RGB → grayscale (ITU-R 601 luma) and a bilinear resize
to the run's ``data.image_size``. Embeddings are L2-normalised.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from thzface.embedder.predictor import open_embedder
from thzface.engine.checkpoint import RunError
from thzface.models.multitask import MultiTaskModel

LUMA = (0.299, 0.587, 0.114)


class FrozenEmbedder(nn.Module):
    """``forward(images (B, C, H, W) in [0, 1]) -> (B, D)`` unit embeddings; weights frozen, always in eval."""

    def __init__(self, model: MultiTaskModel, size: int, source: str) -> None:
        super().__init__()
        self.model, self.size, self.source = model, size, source
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenEmbedder:
        return super().train(False)  # BatchNorm statistics and dropout of the embedder never change

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 3:
            w = images.new_tensor(LUMA).view(1, 3, 1, 1)
            images = (images * w).sum(1, keepdim=True)  # (B, 1, H, W)
        if images.shape[-1] != self.size or images.shape[-2] != self.size:
            images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=False)
        emb = self.model.verification_head(self.model.encode(images).latent)  # (B, D) single view, no decoder
        return F.normalize(emb, dim=1)


def load_embedder(run: str | Path) -> FrozenEmbedder:
    """The embedder of a trained run; RunError when the run is of another recipe or carries no training step."""
    info, cfg, model = open_embedder(run)
    extra = info.extra
    if int(extra.get("step") or 0) <= 0:
        raise RunError(f"{run}: weights record no training step (extra.step); the identity embedder must be trained")
    return FrozenEmbedder(model, cfg.data.image_size, f"{Path(run)} ({cfg.recipe}, step {extra['step']})")


def identity_similarity(embedder: FrozenEmbedder, a: torch.Tensor, b: torch.Tensor, batch: int = 128) -> torch.Tensor:
    """Cosine similarity (N,) of the embeddings of matching images of ``a`` and ``b`` (N, C, H, W)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(a), batch):
            out.append((embedder(a[i : i + batch]) * embedder(b[i : i + batch])).sum(1))  # (n,)
    return torch.cat(out)
