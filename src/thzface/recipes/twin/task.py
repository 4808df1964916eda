"""Model and objective of ``twin``: frozen global embedder + five face-part encoders, twin negatives (seed 003).

Training runs in two stages as the later seed versions: random negatives (the CSV's), then — from
``loss.stage2_start`` of the training (steps or wall-clock budget, whichever is further along) — the anchor's
identical twin as the negative wherever the anchor has one. The global branch is a trained thzface ``mtl`` run
(``model.global_run``), copied into this model and frozen; there is no randomly initialised stand-in.
"""

from __future__ import annotations

import numpy as np
import torch

from thzface.config import Config, to_dict
from thzface.data.datasets import sample_seed
from thzface.engine.checkpoint import load_run
from thzface.engine.task import Task
from thzface.losses.twin import box_loss, twin_triplet
from thzface.metrics import twin as TM
from thzface.metrics import verification as V
from thzface.models.mtl_spec import MTL
from thzface.models.multitask import MtlModelConfig, MultiTaskModel
from thzface.models.parts import TwinModel
from thzface.recipes.twin.config import LossConfig, ModelConfig, build_model
from thzface.recipes.twin.fusion import fit_fusion_weight, fused_scores, kind_eers, mean_eer


def load_global(cfg: Config) -> MultiTaskModel | None:
    """Load ``model.global_run`` and record its model config in ``cfg.model.global_model`` (in place).

    Raises ValueError when the recipe needs a global run and none is given: a frozen global branch must be a
    trained embedder, never a random network.
    """
    mc: ModelConfig = cfg.model
    if mc.global_kind == "none":
        return None
    if not mc.global_run:
        raise ValueError(
            "model.global_run: the twin recipe needs a trained thzface mtl run as its frozen global branch; train "
            "one (thzface train configs/mtl-default.yaml --data DIR --out RUN) and pass model.global_run=RUN, or "
            "set model.global_kind=none for the parts-only ablation"
        )
    gcfg, gmodel, _ = load_run(mc.global_run, MTL)
    if not isinstance(gmodel, MultiTaskModel) or not isinstance(gcfg.model, MtlModelConfig):
        raise ValueError(f"model.global_run {mc.global_run}: not an mtl embedder run")
    if gcfg.model.in_channels != mc.in_channels:
        raise ValueError(f"model.global_run {mc.global_run}: takes {gcfg.model.in_channels}-channel images, "
                         f"this model {mc.in_channels}")  # fmt: skip
    mc.global_model = to_dict(gcfg.model)
    return gmodel


class TwinTask(Task):
    """Triplet (anchor, positive, random-or-twin negative) through the fused model + part-box regression."""

    model: TwinModel

    def twin_rows(self, has_twin: torch.Tensor) -> torch.Tensor:
        """(B,) bool: rows whose negative is the twin at this step (stage 2, coin ``twin_prob``, seeded)."""
        lc: LossConfig = self.cfg.loss
        if self.progress() < lc.stage2_start:
            return torch.zeros_like(has_twin)
        g = torch.Generator().manual_seed(sample_seed(self.cfg.train.seed, self.global_step, 11))
        coin = torch.rand(has_twin.shape[0], generator=g).to(has_twin.device) < lc.twin_prob  # (B,)
        return has_twin & coin

    def compute_losses(self, batch: dict) -> dict[str, torch.Tensor]:
        lc: LossConfig = self.cfg.loss
        a, p = batch["anchor"], batch["positive"]  # (n, 1, S, S)
        n = a.shape[0]
        use_twin = self.twin_rows(batch["has_twin"])  # (n,)
        t4, t3 = use_twin.view(-1, 1, 1, 1), use_twin.view(-1, 1, 1)
        neg = torch.where(t4, batch["twin"], batch["negative"])  # (n, 1, S, S)
        neg_boxes = torch.where(t3, batch["twin_boxes"], batch["negative_boxes"])  # (n, 5, 4)
        has = batch["has_boxes"]  # (n, 4) anchor, negative, twin, positive
        neg_has = torch.where(use_twin, has[:, 2], has[:, 1])  # (n,)
        boxes = torch.cat([batch["anchor_boxes"], batch["positive_boxes"], neg_boxes])  # (3n, 5, 4)
        valid = torch.cat([has[:, 0], has[:, 3], neg_has])  # (3n,)
        given = valid if lc.train_boxes == "given" else torch.zeros_like(valid)
        out = self.model(torch.cat([a, p, neg]), boxes, given)
        e = out.embedding if out.parts is None else out.parts  # (3n, D): residual fusion trains the part embedding
        terms = twin_triplet(e[:n], e[n : 2 * n], e[2 * n :], use_twin, lc.margin, lc.distance)
        total = terms["triplet"]
        if out.boxes_pred is not None:
            terms["box"] = box_loss(out.boxes_pred, boxes, valid, self.cfg.model.image_size)
            total = total + lc.w_box * terms["box"]
        terms = {k: v for k, v in terms.items() if bool(torch.isfinite(v))}  # no NaN curves for absent kinds
        return {"loss": total, **terms, "twin_share": use_twin.float().mean()}

    @torch.no_grad()
    def validation_outputs(self, batch: dict) -> dict[str, torch.Tensor]:
        has = batch["has_boxes"][:, 0]  # (n,)
        out_a = self.model(batch["anchor"], batch["anchor_boxes"], has)
        out_p = self.model(batch["positive"], batch["positive_boxes"], batch["has_boxes"][:, 3])
        res = {
            "emb_a": out_a.embedding,
            "emb_p": out_p.embedding,
            "identity": batch["identity"],
            "twin_identity": batch["twin_identity"],
        }
        if out_a.global_ is not None and out_a.parts is not None and out_p.global_ is not None:
            res.update(g_a=out_a.global_, g_p=out_p.global_, p_a=out_a.parts, p_p=out_p.parts)  # residual halves
        if out_a.boxes_pred is not None:
            err = (out_a.boxes_pred - batch["anchor_boxes"]).abs().mean(dim=(1, 2))  # (n,) pixels
            res["box_err"] = torch.where(has, err, torch.full_like(err, float("nan")))
        return res

    def validation_metrics(self, c: dict[str, torch.Tensor]) -> dict[str, float]:
        ids = [str(i) for i in c["identity"].tolist()]
        twins = {str(i): str(t) for i, t in zip(c["identity"].tolist(), c["twin_identity"].tolist(), strict=True)
                 if t >= 0}  # fmt: skip
        kinds = TM.pair_kinds(ids, ids, twins)
        keep = ~np.eye(len(ids), dtype=bool)  # drop each probe's own counterpart
        out: dict[str, float] = {}
        if "g_a" in c:  # residual fusion: refit the part weight on these validation people (recipes/twin/fusion.py)
            s_g = (c["g_a"] @ c["g_p"].T).double().numpy()  # (N, N) concealed probes × unconcealed gallery
            s_p = (c["p_a"] @ c["p_p"].T).double().numpy()  # (N, N)
            w, _ = fit_fusion_weight(s_g[keep], s_p[keep], kinds[keep])
            self.model.fusion_weight.fill_(w)  # saved with the checkpoint this validation may select
            scores = fused_scores(s_g, s_p, w)  # (N, N) = the fused embedding's cosines at w
            out["fusion_weight"] = w
        else:
            scores = (c["emb_a"] @ c["emb_p"].T).double().numpy()  # (N, N) concealed probes × unconcealed gallery
        eers = kind_eers(scores[keep], kinds[keep])
        out.update({f"eer_{name}": v for name, v in eers.items()})
        out["score"] = 1.0 - mean_eer(eers)  # 1 - mean EER over the kinds present
        out["threshold"] = V.probe_gallery_eer(scores, c["identity"].numpy())[1]  # deployed: genuine vs all others
        if "box_err" in c and bool(torch.isfinite(c["box_err"]).any()):
            out["box_err_px"] = float(np.nanmean(c["box_err"].numpy()))
        return out


def build_task(cfg: Config) -> TwinTask:
    gmodel = load_global(cfg)
    model = build_model(cfg)
    if gmodel is not None and model.global_net is not None:
        model.global_net.load_from(gmodel)
    return TwinTask(cfg, model)
