"""Model and objective of ``mtl``: shared THz encoder → embedding + posture + reconstruction (seeds 000/001)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import torch

from thzface import losses as Ls
from thzface.config import Config
from thzface.data.batch import TripletBatch
from thzface.data.captures import CaptureBank
from thzface.data.geometry import POSE_DIM
from thzface.engine.task import Task
from thzface.losses.margin import IdentityLoss, build_identity_loss
from thzface.metrics import classification as C
from thzface.metrics import reconstruction as R
from thzface.metrics import verification as V
from thzface.models.align import ALIGN_SCALE
from thzface.models.mtl_spec import LossConfig, build_model
from thzface.models.multitask import MultiTaskModel
from thzface.recipes.mtl.frontal import FrontalHead


def classify(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Embedding (B, D) and posture logits (B, P) without running the decoder."""
    m = cast(MultiTaskModel, model)  # or a distill student: the same three-head model
    latent = m.encode(x).latent  # (B, F)
    return m.verification_head(latent), m.posture_head(latent)


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


def rec_target(batch: Mapping[str, torch.Tensor], target: str) -> torch.Tensor:
    """Reconstruction target (B, 1, S, S) of a joint batch: the unconcealed scan, or (``data.target: clean``) the
    clean target where the capture has one."""
    if target == "positive":
        return batch["target"]
    if target != "clean":
        raise ValueError(f"data.target: unknown target {target!r} (positive | clean)")
    if "clean" not in batch:
        return batch["target"]
    has = batch["has_clean"].view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    return torch.where(has, batch["clean"], batch["target"])  # (B, 1, S, S)


def identity_weights(lc: LossConfig) -> dict[str, float]:
    """{kind: weight} of the identity objective on joint batches (``loss.metric`` supcon, ``loss.margin_head``)."""
    weights = {"supcon": lc.w_metric} if lc.metric == "supcon" else {}
    if lc.margin_head != "none":
        weights[lc.margin_head] = lc.w_margin
    return weights


class GeometryHeads(torch.nn.Module):
    """Training-only heads (never in the deployed weights): the person's shape coefficients from the embedding, the
    scan's pose from the trunk latent (:mod:`thzface.losses.geometry`)."""

    def __init__(self, embed_dim: int, trunk_dim: int, shape_dim: int, shape_sigma: float) -> None:
        super().__init__()
        self.shape = torch.nn.Linear(embed_dim, shape_dim)
        self.pose = torch.nn.Linear(trunk_dim, POSE_DIM)
        self.register_buffer("sigma", torch.tensor(float(shape_sigma)))  # the training people's coefficient spread

    @classmethod
    def from_bank(cls, bank: CaptureBank, embed_dim: int, trunk_dim: int) -> GeometryHeads:
        assert bank.shape is not None and bank.has_geometry is not None
        shapes = bank.shape[bank.has_geometry]  # (N', S)
        return cls(embed_dim, trunk_dim, shapes.shape[1], float(shapes.std().clamp_min(1e-6)))

    def losses(self, emb: torch.Tensor, latent: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> dict:
        """``shape`` and ``pose`` terms over the batch rows that have geometry (none: no terms)."""
        m = batch["has_geometry"]  # (B,)
        if not bool(m.any()):
            return {}
        sigma = float(self.get_buffer("sigma"))
        return {
            "shape": Ls.shape_regression(self.shape(emb[m]), batch["shape"][m], sigma=sigma),
            "pose": Ls.pose_regression(self.pose(latent[m]), batch["pose"][m]),
        }


def alignment_losses(
    m: MultiTaskModel, pred: torch.Tensor, batch: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The aligner's loss on the rows with in-plane poses: its prediction ``pred`` (B, 3) for the concealed scans
    and, through the aligner once more, for their unconcealed counterparts (the gallery side is aligned too);
    ``align_px``: the mean placement error in pixels of the concealed scans, ``align_deg``: of the roll."""
    has = batch["has_inplane"]  # (B,)
    if not bool(has.any()) or m.aligner is None:
        return {}
    target = batch["inplane"][has]  # (B', 3)
    open_pred = m.aligner(batch["target"][has])  # (B', 3)
    loss = Ls.pose_regression(pred[has], target, scale=ALIGN_SCALE)
    loss = (loss + Ls.pose_regression(open_pred, batch["inplane_open"][has], scale=ALIGN_SCALE)) / 2
    err = (pred[has] - target).detach().abs()  # (B', 3)
    px = err[:, 1:].mean() * batch["thz"].shape[-1] / 2  # grid units → pixels
    return {"align": loss, "align_px": px, "align_deg": err[:, 0].mean()}


class MtlTask(Task):
    """Identity + posture CE + reconstruction loss, on joint P×K batches (one forward pass for every role; a
    margin-softmax head over the training identities) or on the reference's triplet rows (``paper``)."""

    def __init__(self, cfg: Config, model: torch.nn.Module):
        super().__init__(cfg, model)
        lc: LossConfig = cfg.loss
        self.perceptual = Ls.lpips_loss(lc.lpips_path) if lc.w_lpips > 0 else None
        self.identity_loss: IdentityLoss | None = None  # joint batches; built in setup() from the training classes
        self.geometry: GeometryHeads | None = None  # training-only shape / pose heads; built in setup() from the data
        self.frontal: FrontalHead | None = None  # training-only frontal-face head; built in setup() from the data
        if cfg.train.sampler == "joint" and lc.metric == "triplet":
            raise ValueError("loss.metric=triplet needs triplet rows (train.sampler pk | random), not joint batches")

    def setup(self, stage: str) -> None:
        dm = getattr(self._trainer, "datamodule", None)  # the fit's data module (JointDataModule: its classes)
        if stage == "fit" and self.cfg.train.sampler == "joint" and self.identity_loss is None:
            classes = getattr(dm, "classes", None)
            if classes is None:
                raise ValueError("train.sampler=joint: the data module gives no identity classes (use JointDataModule)")
            self.build_identity_loss(len(classes))
        lc: LossConfig = self.cfg.loss
        if stage == "fit" and (lc.w_shape > 0 or lc.w_pose > 0) and self.geometry is None:
            bank = getattr(dm, "bank", None)
            if bank is None or bank.shape is None or not bool(bank.has_geometry.any()):
                raise ValueError(
                    "loss.w_shape / loss.w_pose need joint batches over a simulated folder with identities.json and "
                    "poses.npz (thzface synth writes both)"
                )
            self.geometry = GeometryHeads.from_bank(bank, self.cfg.model.embed_dim, self.cfg.model.trunk_dim)
        if stage == "fit" and lc.w_frontal > 0 and self.frontal is None:
            self.frontal = FrontalHead.from_bank(getattr(dm, "bank", None), self.cfg.model.embed_dim, lc.frontal_size)

    def build_identity_loss(self, num_classes: int) -> None:
        """The identity objective of joint batches; a margin head holds one weight row per training identity."""
        lc: LossConfig = self.cfg.loss
        weights = identity_weights(lc)
        if weights:
            dim, s, m = self.cfg.model.embed_dim, lc.margin_s, lc.margin_m
            self.identity_loss = build_identity_loss(weights, num_classes, dim, lc.temperature, s, m)

    def metric_labels(self, batch: TripletBatch) -> torch.Tensor:
        n = batch["anchor"].shape[0]
        if self.cfg.loss.metric_labels == "triplet":  # paper preset: the reference's labelling, kept on purpose
            idx = torch.arange(n, device=batch["anchor"].device)
            return torch.cat([idx, idx, idx + n])  # (3n,)
        return torch.cat([batch["identity"], batch["identity"], batch["neg_identity"]])  # (3n,)

    def rec_loss(self, pred: torch.Tensor, target: torch.Tensor, perceptual: bool = True) -> torch.Tensor:
        """The reconstruction loss of ``loss:`` (Charbonnier, SSIM, gradient; + LPIPS when on and ``perceptual``)."""
        lc: LossConfig = self.cfg.loss
        loss = Ls.reconstruction_loss(pred, target, w_charb=lc.w_charb, w_ssim=lc.w_ssim, w_grad=lc.w_grad)
        if perceptual and self.perceptual is not None:
            loss = loss + lc.w_lpips * self.perceptual(pred, target)
        return loss

    def compute_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        return self.joint_losses(batch) if "thz" in batch else self.triplet_losses(batch)

    def joint_losses(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """P×K batch: every capture through all three heads once; positives are the other captures of a person."""
        lc: LossConfig = self.cfg.loss
        m = cast(MultiTaskModel, self.model)
        x, ids = batch["thz"], batch["identity"]  # (B, 1, S, S), (B,)
        out = m(x, posture=batch["posture"], route=lc.train_route)
        terms: dict[str, torch.Tensor] = {}
        ident = x.new_zeros(())
        if self.identity_loss is not None:
            adaface = lc.margin_head == "adaface"
            raw = m.verification_head[:-1](out.latent) if adaface else out.embedding  # (B, D)
            labels = ids
            if lc.gallery_views:  # the unconcealed counterparts join the loss (one view, as forward's embedding)
                g_latent = m.encode(batch["target"]).latent  # (B, F)
                g = m.verification_head[:-1](g_latent) if adaface else m.verification_head(g_latent)  # (B, D)
                raw, labels = torch.cat([raw, g]), torch.cat([ids, ids])  # (2B, D), (2B,)
            parts = self.identity_loss(raw, labels)
            ident = parts.pop("loss")
            terms.update(parts)
            if "supcon" in parts:  # what the loss would be had the embedding learnt nothing (read it against this)
                terms["supcon_uniform"] = x.new_tensor(Ls.supcon_uniform(raw.shape[0]))
        if lc.metric == "batch_hard":
            terms["batch_hard"] = Ls.batch_hard_triplet(out.embedding, ids, margin=lc.margin)
            ident = ident + lc.w_metric * terms["batch_hard"]
        l_post = Ls.label_smoothing_ce(out.posture_logits, batch["posture"], smoothing=lc.smoothing)
        l_rec = self.rec_loss(out.reconstruction, rec_target(batch, self.cfg.data.target))
        total = ident + lc.w_posture * l_post + lc.w_rec * l_rec
        if self.geometry is not None and "has_geometry" in batch:
            geo = self.geometry.losses(out.embedding, out.latent, batch)
            total = total + lc.w_shape * geo.get("shape", 0.0) + lc.w_pose * geo.get("pose", 0.0)
            terms.update(geo)
        if self.frontal is not None and "has_geometry" in batch:
            painted = self.frontal.painted(out.embedding, batch)  # (pred, target) or None
            if painted is not None:
                terms["frontal"] = self.rec_loss(*painted, perceptual=False)
                total = total + lc.w_frontal * terms["frontal"]
        if out.alignment is not None and lc.w_align > 0 and "has_inplane" in batch:
            terms.update(alignment_losses(m, out.alignment, batch))
            total = total + lc.w_align * terms.get("align", 0.0)
        return {"loss": total, "identity": ident, **terms, "posture": l_post, "rec": l_rec}

    def triplet_losses(self, batch: TripletBatch) -> dict[str, torch.Tensor]:
        """Triplet rows (the reference): anchor through all three heads, positive and negative encoded."""
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
    def validation_outputs(self, batch: Any) -> dict[str, torch.Tensor]:
        """Concealed probe → embedding, posture, reconstruction; its unconcealed scan → the gallery embedding."""
        joint = "thz" in batch
        x, gallery = (batch["thz"], batch["target"]) if joint else (batch["anchor"], batch["positive"])
        target = rec_target(batch, self.cfg.data.target) if joint else batch["target"]
        m = cast(MultiTaskModel, self.model)
        out = m.infer(x)  # the deployed embedding (MultiTaskModel.embed): the threshold is fit on what verify reads
        site = {"site": batch["site"]} if "site" in batch else {}  # multi-site worlds: impostors within a scanner
        return {
            **site,
            "emb_a": out.embedding,
            "emb_p": m.embed(gallery),
            "identity": batch["identity"],
            "posture": batch["posture"],
            "pred": out.posture_logits.argmax(1),
            "ssim": torch.from_numpy(R.ssim(out.reconstruction, target)),
            "psnr": torch.from_numpy(R.psnr(out.reconstruction, target)),
        }

    def validation_metrics(self, c: dict[str, torch.Tensor]) -> dict[str, float]:
        """Validation identities: probe × gallery EER (own counterpart excluded; in a multi-site world impostor pairs
        within a site only) and its threshold (what the run deploys), posture accuracy, SSIM; ``score`` = mean of
        (1 − EER, accuracy, SSIM) picks the checkpoint."""
        site = c["site"].numpy() if "site" in c else None
        eer, thr = V.probe_gallery_eer((c["emb_a"] @ c["emb_p"].T).numpy(), c["identity"].numpy(), site)  # (N, N)
        acc = C.accuracy(c["posture"].numpy(), c["pred"].numpy())
        ssim = float(c["ssim"].mean())
        score = float(np.nanmean([1 - eer, acc, ssim]))
        return {"eer": eer, "threshold": thr, "posture_acc": acc, "ssim": ssim, "psnr": float(c["psnr"].mean()),
                "score": score}  # fmt: skip


def build_task(cfg: Config) -> MtlTask:
    return MtlTask(cfg, build_model(cfg))
