"""Model and objective of ``mtl``: shared THz encoder → embedding + posture + reconstruction (seeds 000/001)."""

from __future__ import annotations

from typing import cast

import numpy as np
import torch

from thzface import losses as Ls
from thzface.config import Config
from thzface.data.batch import TripletBatch
from thzface.engine.checkpoint import ModelSpec
from thzface.engine.task import Task
from thzface.metrics import classification as C
from thzface.metrics import reconstruction as R
from thzface.metrics import verification as V
from thzface.models.multitask import MultiTaskModel
from thzface.models.multitask import build_model as _build
from thzface.recipes.mtl.config import AugConfig, LossConfig, ModelConfig, TrainConfig


def classify(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Embedding (B, D) and posture logits (B, P) without running the decoder."""
    m = cast(MultiTaskModel, model)  # or a distill student: the same three-head model
    latent = m.encode(x).latent  # (B, F)
    return m.verification_head(latent), m.posture_head(latent)


def build_model(cfg: Config) -> torch.nn.Module:
    return _build(cfg.model)


def metric_loss(lc: LossConfig, emb: torch.Tensor, labels: torch.Tensor, n: int) -> torch.Tensor:
    """Metric-learning term over the stacked (anchor, positive, negative) embeddings ``emb`` (3n, D)."""
    if lc.metric == "supcon":
        return Ls.supcon(emb, labels, temperature=lc.temperature)
    if lc.metric == "triplet":
        a, p, ng = emb[:n], emb[n : 2 * n], emb[2 * n :]
        return Ls.triplet_margin(a, p, ng, margin=lc.margin)
    if lc.metric == "batch_hard":
        return Ls.batch_hard_triplet(emb, labels, margin=lc.margin)
    raise ValueError(f"loss.metric: unknown metric loss {lc.metric!r} (supcon | triplet | batch_hard)")


class MtlTask(Task):
    """Triplet batch → SupCon/triplet + posture CE + reconstruction loss; anchor encoded once."""

    def __init__(self, cfg: Config, model: torch.nn.Module):
        super().__init__(cfg, model)
        lc: LossConfig = cfg.loss
        self.perceptual = Ls.lpips_loss(lc.lpips_path) if lc.w_lpips > 0 else None

    def metric_labels(self, batch: TripletBatch) -> torch.Tensor:
        n = batch["anchor"].shape[0]
        if self.cfg.loss.metric_labels == "triplet":  # paper preset: the reference's labelling, kept on purpose
            idx = torch.arange(n, device=batch["anchor"].device)
            return torch.cat([idx, idx, idx + n])  # (3n,)
        return torch.cat([batch["identity"], batch["identity"], batch["neg_identity"]])  # (3n,)

    def rec_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        lc: LossConfig = self.cfg.loss
        loss = Ls.reconstruction_loss(pred, target, w_charb=lc.w_charb, w_ssim=lc.w_ssim, w_grad=lc.w_grad)
        if self.perceptual is not None:
            loss = loss + lc.w_lpips * self.perceptual(pred, target)
        return loss

    def compute_losses(self, batch: TripletBatch) -> dict[str, torch.Tensor]:
        lc: LossConfig = self.cfg.loss
        a, p, ng = batch["anchor"], batch["positive"], batch["negative"]  # (n, 1, H, W) each
        n = a.shape[0]
        out = self.model(a, posture=batch["posture"], route=lc.train_route)  # anchor: all three heads, once
        emb_pn, logits_pn = classify(self.model, torch.cat([p, ng]))  # (2n, D), (2n, 5)
        emb = torch.cat([out.embedding, emb_pn])  # (3n, D)
        logits = torch.cat([out.posture_logits, logits_pn])  # (3n, 5)
        postures = torch.cat([batch["posture"], batch["posture"], batch["neg_posture"]])  # (3n,)
        l_metric = metric_loss(lc, emb, self.metric_labels(batch), n)
        l_post = Ls.label_smoothing_ce(logits, postures, smoothing=lc.smoothing)
        l_rec = self.rec_loss(out.reconstruction, batch["target"])
        total = lc.w_metric * l_metric + lc.w_posture * l_post + lc.w_rec * l_rec
        return {"loss": total, "metric": l_metric, "posture": l_post, "rec": l_rec}

    @torch.no_grad()
    def validation_outputs(self, batch: TripletBatch) -> dict[str, torch.Tensor]:
        out = self.model(batch["anchor"], route="predicted")
        emb_p, _ = classify(self.model, batch["positive"])
        return {
            "emb_a": out.embedding,
            "emb_p": emb_p,
            "identity": batch["identity"],
            "posture": batch["posture"],
            "pred": out.posture_logits.argmax(1),
            "ssim": torch.from_numpy(R.ssim(out.reconstruction, batch["target"])),
            "psnr": torch.from_numpy(R.psnr(out.reconstruction, batch["target"])),
        }

    def validation_metrics(self, c: dict[str, torch.Tensor]) -> dict[str, float]:
        ids = c["identity"].numpy()
        scores = (c["emb_a"] @ c["emb_p"].T).numpy()  # (N, N) concealed probe vs unconcealed gallery
        genuine = ids[:, None] == ids[None, :]
        off_diag = ~np.eye(len(ids), dtype=bool)  # drop the exact counterpart pair (same sample)
        s, y = scores[off_diag], genuine[off_diag]
        eer = V.eer(s, y)[0] if 0 < y.sum() < y.size else float("nan")
        acc = C.accuracy(c["posture"].numpy(), c["pred"].numpy())
        ssim = float(c["ssim"].mean())
        score = float(np.nanmean([1 - eer, acc, ssim]))
        return {"eer": eer, "posture_acc": acc, "ssim": ssim, "psnr": float(c["psnr"].mean()), "score": score}


def build_task(cfg: Config) -> MtlTask:
    return MtlTask(cfg, build_model(cfg))


MODEL = ModelSpec("mtl", ModelConfig, LossConfig, build_model, aug_config=AugConfig, train_config=TrainConfig)
