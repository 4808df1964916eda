"""Model and objective of ``inpaint``: attention-gated U-Net on image + mask, curriculum occlusion (seed 002).

Training draws one mask per image and step (kinds and hole-size curriculum from ``loss.masks``, progress =
the larger of step / total steps and elapsed / ``train.max_time_s``), optionally flips image and context
(``aug.profile: flip``), and minimises ``w_l1 · L1(raw) + w_hole · hole-L1(raw) + w_ssim · (1 − hole SSIM of
the composite)`` plus, only when their weights are given, LPIPS of the composite (``loss.perceptual_path``) and
an identity term ``1 - cos(e(output), e(target))`` from a trained thzface embedder (``loss.identity_run``; the
default preset's is the shipped ``pretrained:mtl-default``).
Validation scores fixed seeded masks (bucket = image index mod number of buckets).
"""

from __future__ import annotations

import logging
from typing import cast

import numpy as np
import torch

from thzface import losses as Ls
from thzface.config import Config
from thzface.data.augment import mirror
from thzface.data.masks import MaskConfig, eval_mask, sample_mask
from thzface.engine.task import Task
from thzface.losses.inpaint import hole_ssim_loss, inpaint_l1
from thzface.models.inpaint import AttentionUNet
from thzface.recipes.inpaint.config import LossConfig, TrainConfig, build_model
from thzface.recipes.inpaint.data import contexts
from thzface.recipes.inpaint.evaluate import bucket_name, image_scores, mean_finite

log = logging.getLogger(__name__)
AUG_PROFILES = ("none", "flip")


def flip_batch(image: torch.Tensor, batch: dict, flips: np.ndarray) -> tuple[torch.Tensor, dict]:
    """Mirror the flagged images (N,) left-right together with their region, garment and part boxes."""
    if not flips.any():
        return image, batch
    f = torch.from_numpy(flips)  # (N,) bool
    out = dict(batch)
    for key in ("region", "garment"):
        out[key] = mirror(batch[key], f)  # (N, 1, S, S)
    size = image.shape[-1]
    boxes = batch["boxes"].clone()  # (N, K, 4)
    mirrored = torch.stack([size - boxes[..., 2], boxes[..., 1], size - boxes[..., 0], boxes[..., 3]], -1)
    out["boxes"] = torch.where(f.view(-1, 1, 1).to(boxes.device), mirrored, boxes)
    return mirror(image, f), out  # (N, C, S, S)


class InpaintTask(Task):
    """Image batch → curriculum masks → U-Net → pixel (+ perceptual, + identity) loss."""

    def __init__(self, cfg: Config, model: AttentionUNet) -> None:
        super().__init__(cfg, model)
        lc: LossConfig = cfg.loss
        if cfg.model.image_size != cfg.data.image_size:
            raise ValueError(
                f"model.image_size {cfg.model.image_size} must equal data.image_size {cfg.data.image_size}"
            )
        if cfg.aug.profile not in AUG_PROFILES:
            raise ValueError(f"aug.profile: inpaint supports {list(AUG_PROFILES)} (intensity changes would alter "
                             f"the target), got {cfg.aug.profile!r}")  # fmt: skip
        self.terms_status: dict[str, str] = {}
        self.perceptual = None
        if lc.w_perceptual > 0 and lc.perceptual_path:
            lin = lc.perceptual_lin_path or None
            self.perceptual = Ls.lpips_loss(lc.perceptual_path, lin, net=lc.perceptual_net)
            self.terms_status["perceptual"] = f"on: LPIPS-{lc.perceptual_net} from {lc.perceptual_path}"
        else:
            self.terms_status["perceptual"] = "off: " + (
                "no loss.perceptual_path" if lc.w_perceptual > 0 else "weight 0"
            )
        self.embedder = None
        if lc.identity_run:
            from thzface.embedder import load_embedder

            self.embedder = load_embedder(lc.identity_run)
        on = self.embedder is not None and lc.w_identity > 0
        self.terms_status["identity"] = (
            f"on: embedder {self.embedder.source}" if on and self.embedder is not None
            else "off: " + ("no loss.identity_run" if lc.w_identity > 0 else "weight 0")
        )  # fmt: skip
        for name, status in self.terms_status.items():
            if status.startswith("off") and "weight 0" not in status:
                log.warning("inpaint: %s term %s", name, status)

    @property
    def unet(self) -> AttentionUNet:
        """``self.model``, typed."""
        return cast(AttentionUNet, self.model)

    def on_fit_start(self) -> None:
        super().on_fit_start()
        prior = self.unet.prior
        refit = cast(TrainConfig, self.cfg.train).prior_fit == "data"  # also over a start's (--init-from) prior
        if prior is not None and (refit or not bool(prior.fitted)):  # the eigenface fill, kept in the weights
            prior.fit(self.trainer.datamodule.prior_images().to(self.device))  # type: ignore[attr-defined]

    def export_extra(self) -> dict:
        return {"loss_terms": self.terms_status}

    def train_masks(self, batch: dict, rng: np.random.Generator, progress: float) -> torch.Tensor:
        size = batch["image"].shape[-1]
        masks = [sample_mask(self.cfg.loss.masks, rng, size, c, progress)[0] for c in contexts(batch)]
        return torch.from_numpy(np.stack(masks)).float()[:, None].to(batch["image"].device)  # (N, 1, S, S)

    def compute_losses(self, batch: dict) -> dict[str, torch.Tensor]:
        lc: LossConfig = self.cfg.loss
        rank = self.trainer.global_rank if self._trainer is not None else 0
        rng = np.random.default_rng([self.cfg.train.seed, self.global_step, rank])
        image = batch["image"]  # (N, C, S, S)
        flip_p = self.cfg.aug.p if self.cfg.aug.profile == "flip" else 0.0
        image, batch = flip_batch(image, batch, rng.random(image.shape[0]) < flip_p)
        progress = self.progress()
        mask = self.train_masks(batch, rng, progress)  # (N, 1, S, S)
        out = self.unet.inpaint(image, mask)
        l_pix = inpaint_l1(out.raw, image, mask, w_l1=lc.w_l1, w_hole=lc.w_hole, hole_norm=lc.hole_norm)
        terms = {"pixel": l_pix}
        total = l_pix
        if lc.w_ssim > 0:
            terms["ssim"] = hole_ssim_loss(out.output, image, mask)
            total = total + lc.w_ssim * terms["ssim"]
        if self.perceptual is not None:
            terms["perceptual"] = self.perceptual(out.output, image)
            total = total + lc.w_perceptual * terms["perceptual"]
        if self.embedder is not None and lc.w_identity > 0:
            with torch.no_grad():
                e_target = self.embedder(image)  # (N, D)
            terms["identity"] = Ls.identity_loss(self.embedder(out.output), e_target)
            total = total + lc.w_identity * terms["identity"]
        hole = mask.mean().detach()
        return {"loss": total, **terms, "hole_fraction": hole, "progress": torch.tensor(progress)}

    @torch.no_grad()
    def validation_outputs(self, batch: dict) -> dict[str, torch.Tensor]:
        mc: MaskConfig = self.cfg.loss.masks
        size = batch["image"].shape[-1]
        buckets = [int(i) % len(mc.buckets) for i in batch["index"]]
        items = zip(batch["index"].tolist(), buckets, contexts(batch), strict=True)
        masks = [eval_mask(mc, i, b, size, c)[0] for i, b, c in items]
        mask = torch.from_numpy(np.stack(masks)).float()[:, None].to(batch["image"].device)  # (N, 1, S, S)
        image = batch["image"]  # (N, C, S, S)
        pred = self.unet.inpaint(image, mask).output.float().clamp(0, 1)  # (N, C, S, S)
        scores = image_scores(pred, image, mask, self.embedder)
        return {"bucket": torch.tensor(buckets), **{k: torch.from_numpy(v) for k, v in scores.items()}}

    def validation_metrics(self, c: dict[str, torch.Tensor]) -> dict[str, float]:
        values = {k: v.numpy() for k, v in c.items() if k != "bucket"}
        res = mean_finite(values, np.ones(len(c["bucket"]), bool))
        for b, (lo, hi) in enumerate(self.cfg.loss.masks.buckets):
            sel = c["bucket"].numpy() == b
            if sel.any():
                res[f"hole_psnr_{bucket_name(lo, hi)}"] = mean_finite(values, sel)["hole_psnr"]
        return res


def build_task(cfg: Config) -> InpaintTask:
    return InpaintTask(cfg, build_model(cfg))
