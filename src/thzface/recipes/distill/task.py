"""Training tasks of the ``distill`` recipe: the teacher alone, and a THz student distilled from a teacher.

A batch holds THz triplets plus the visible image of every member and ``vis_present`` (n, 3). Members are
stacked as anchors, positives, negatives (3n). The teacher runs only on members whose visible image exists;
the teacher and distillation terms of the others are skipped (never computed from zero images).

Feature distillation goes through trained projections: ``feat_proj: student`` maps the student latent to the
teacher feature's width (the projection learns from the distillation loss itself, the teacher feature is the
detached target); ``feat_proj: both`` maps both sides to ``distill_dim`` and trains the teacher projection
with a SupCon term on its output (the reference left it a fixed random projection).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from thzface import losses as Ls
from thzface.config import Config
from thzface.data.batch import TripletBatch, VisibleTripletBatch
from thzface.engine.checkpoint import RunError, load_run
from thzface.engine.task import Task
from thzface.metrics import classification as C
from thzface.metrics import verification as V
from thzface.models.distill_spec import DISTILL, LossConfig, ModelConfig, student_config
from thzface.models.mtl_spec import MTL
from thzface.models.multitask import MultiTaskModel
from thzface.models.multitask import build_model as build_student
from thzface.models.teacher import TeacherModel, TeacherOutput, build_teacher, init_from_student
from thzface.recipes.mtl.task import MtlTask, metric_loss

MEMBERS = ("anchor", "positive", "negative")
VISIBLE = ("vis_concealed", "vis_unconcealed", "vis_negative")
TERMS = ("t_metric", "t_posture", "feat", "logit", "rel")


def member_presence(batch: Mapping[str, Any]) -> torch.Tensor:
    """(3n,) bool: the member has a visible image, ordered anchors, positives, negatives."""
    if "vis_present" not in batch:
        raise ValueError("distill batch: no vis_present (set data.use_visible=true)")
    return batch["vis_present"].bool().T.reshape(-1)  # (3n,)


def stack(batch: Mapping[str, Any], keys: tuple[str, ...]) -> torch.Tensor:
    return torch.cat([batch[k] for k in keys])  # (3n, C, H, W)


def member_labels(batch: Mapping[str, Any], how: str) -> torch.Tensor:
    """Metric-learning labels of the 3n members: identities, or triplet indices (the reference's labelling)."""
    if how == "triplet":
        idx = torch.arange(batch["anchor"].shape[0], device=batch["anchor"].device)
        return torch.cat([idx, idx, idx + len(idx)])  # (3n,)
    return torch.cat([batch["identity"], batch["identity"], batch["neg_identity"]])  # (3n,)


def select(t: TeacherOutput, rows: torch.Tensor) -> TeacherOutput:
    return TeacherOutput(**{f.name: getattr(t, f.name)[rows] for f in fields(TeacherOutput)})


def teacher_terms(lc: LossConfig, t: TeacherOutput, labels: torch.Tensor, postures: torch.Tensor) -> dict:
    """Teacher SupCon on its embeddings and label-smoothing CE on its posture logits."""
    return {
        "t_metric": Ls.supcon(t.embedding, labels, temperature=lc.temperature),
        "t_posture": Ls.label_smoothing_ce(t.posture_logits, postures, smoothing=lc.smoothing),
    }


def distill_terms(
    lc: LossConfig,
    s_latent: torch.Tensor,
    s_logits: torch.Tensor,
    s_emb: torch.Tensor,
    t: TeacherOutput,
    s_proj: nn.Module,
    t_proj: nn.Module | None,
    labels: torch.Tensor,
) -> dict:
    """Feature (through the projections), logit (KL at T, ×T²) and optional relation distillation of m rows."""
    target = t.latent if lc.feat_target == "latent" else t.pooled  # (m, Ft)
    zs = s_proj(s_latent)  # (m, Ft) or (m, distill_dim)
    out = {}
    if t_proj is None:
        out["feat"] = Ls.feature_distillation(zs, target)
    else:
        zt = t_proj(target)  # (m, distill_dim): detached in the MSE, trained by the SupCon below
        out["feat"] = Ls.feature_distillation(zs, zt)
        out["t_proj"] = Ls.supcon(zt, labels, temperature=lc.temperature)
    out["logit"] = Ls.logit_distillation(s_logits, t.posture_logits, T=lc.kd_temperature)
    if lc.w_rel > 0 and len(s_emb) >= 2:
        out["rel"] = Ls.relation_distillation(s_emb, t.embedding)
    return out


def pair_metrics(emb_a: torch.Tensor, emb_p: torch.Tensor, ids: torch.Tensor, post, pred) -> dict[str, float]:
    """Validation EER (and its threshold) of concealed probes vs unconcealed gallery (own counterpart excluded),
    posture accuracy."""
    if len(ids) == 0:
        return {"eer": float("nan"), "threshold": float("nan"), "posture_acc": float("nan")}
    eer, thr = V.probe_gallery_eer((emb_a @ emb_p.T).numpy(), ids.numpy())  # (N, N) probe × gallery
    return {"eer": eer, "threshold": thr, "posture_acc": C.accuracy(post.numpy(), pred.numpy())}


@dataclass
class StudentPass:
    emb: torch.Tensor  # (3n, D) embeddings of anchors, positives, negatives
    logits: torch.Tensor  # (3n, P) posture logits
    latent: torch.Tensor  # (3n, F) trunk latents
    bottleneck: torch.Tensor  # (3n, C, h, w) encoder bottlenecks (the shared teacher's THz tokens)
    rec: torch.Tensor  # (n, C, H, W) reconstruction of the anchors


class DistillTask(MtlTask):
    """``mtl`` student losses + teacher losses (unless frozen) + distillation terms; the student is deployed."""

    model: MultiTaskModel

    def __init__(self, cfg: Config, model: MultiTaskModel, teacher: TeacherModel):
        super().__init__(cfg, model)
        lc: LossConfig = cfg.loss
        self.teacher = teacher
        self.frozen = bool(cfg.model.freeze_teacher)
        width = teacher.feature_dims[lc.feat_target]
        both = lc.feat_proj == "both"
        self.s_proj = nn.Linear(model.cfg.trunk_dim, lc.distill_dim if both else width)
        self.t_proj = nn.Linear(width, lc.distill_dim) if both else None
        if self.frozen:
            teacher.requires_grad_(False)
            teacher.eval()

    def train(self, mode: bool = True) -> DistillTask:
        super().train(mode)
        if self.frozen:
            self.teacher.eval()  # a frozen teacher keeps its dropout off and BatchNorm statistics fixed
        return self

    def student_pass(self, batch: TripletBatch) -> StudentPass:
        """The ``mtl`` task's forward (anchor once with the decoder, positives + negatives without)."""
        m, lc = self.model, self.cfg.loss
        fa = m.encode(batch["anchor"])
        logits_a = m.posture_head(fa.latent)  # (n, P)
        weights, hard = m.routing(logits_a, batch["posture"], lc.train_route)  # (n, P)
        emb_a = m.verification_head(fa.latent)  # (n, D)
        rec = m.reconstruct(fa, weights, hard, batch["anchor"])  # (n, C, H, W)
        fpn = m.encode(torch.cat([batch["positive"], batch["negative"]]))
        emb_pn, logits_pn = m.verification_head(fpn.latent), m.posture_head(fpn.latent)  # (2n, D), (2n, P)
        return StudentPass(
            emb=torch.cat([emb_a, emb_pn]),
            logits=torch.cat([logits_a, logits_pn]),
            latent=torch.cat([fa.latent, fpn.latent]),
            bottleneck=torch.cat([fa.bottleneck, fpn.bottleneck]),
            rec=rec,
        )

    def run_teacher(self, vis: torch.Tensor, thz: torch.Tensor, thz_map: torch.Tensor | None) -> TeacherOutput:
        """Teacher on (vis, THz); a teacher without THz encoder reads the student's bottleneck ``thz_map``."""
        if self.teacher.thz_encoder is None:
            return self.teacher(vis, thz_map=self.model.encode(thz).bottleneck if thz_map is None else thz_map)
        return self.teacher(vis, thz=thz)

    def compute_losses(self, batch: TripletBatch) -> dict[str, torch.Tensor]:  # with the visible keys
        lc: LossConfig = self.cfg.loss
        n = batch["anchor"].shape[0]
        s = self.student_pass(batch)
        labels = self.metric_labels(batch)  # (3n,)
        postures = torch.cat([batch["posture"], batch["posture"], batch["neg_posture"]])  # (3n,)
        terms = {
            "metric": metric_loss(lc, s.emb, labels, n),
            "posture": Ls.label_smoothing_ce(s.logits, postures, smoothing=lc.smoothing),
            "rec": self.rec_loss(s.rec, batch["target"]),
        }
        total = lc.w_metric * terms["metric"] + lc.w_posture * terms["posture"] + lc.w_rec * terms["rec"]
        zero = total.new_zeros(())
        terms.update({k: zero for k in TERMS}, **({"t_proj": zero} if self.t_proj is not None else {}))
        present = member_presence(batch)  # (3n,)
        is_anchor = torch.arange(3 * n, device=present.device) < n
        d_rows = present if lc.distill_full_triplet else present & is_anchor  # (3n,) rows distilled
        t_rows = d_rows if self.frozen else present  # (3n,) rows the teacher runs on
        idx = t_rows.nonzero().squeeze(1)  # (m,)
        if len(idx) >= (1 if self.frozen else 2):  # a training BatchNorm needs two rows
            with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
                t = self.run_teacher(stack(batch, VISIBLE)[idx], stack(batch, MEMBERS)[idx], s.bottleneck[idx])
            if not self.frozen:
                terms.update(teacher_terms(lc, t, labels[idx], postures[idx]))
            keep = d_rows[idx]  # (m,)
            if keep.any():
                rows = idx[keep]
                st = (s.latent[rows], s.logits[rows], s.emb[rows])  # student rows matching the teacher's
                terms.update(distill_terms(lc, *st, select(t, keep), self.s_proj, self.t_proj, labels[rows]))
        total = total + lc.w_teacher_metric * terms["t_metric"] + lc.w_teacher_posture * terms["t_posture"]
        total = total + lc.w_feat * terms["feat"] + lc.w_logit * terms["logit"] + lc.w_rel * terms["rel"]
        if self.t_proj is not None:
            total = total + lc.w_teacher_proj * terms["t_proj"]
        return {"loss": total, **terms, "vis_frac": present.float().mean()}

    @torch.no_grad()
    def validation_outputs(self, batch: TripletBatch) -> dict[str, torch.Tensor]:
        out = super().validation_outputs(batch)
        vis = cast(VisibleTripletBatch, batch)
        ok = vis["vis_present"][:, 0] & vis["vis_present"][:, 1]  # (n,) anchor and positive have visible
        if ok.any():
            ta = self.run_teacher(vis["vis_concealed"][ok], batch["anchor"][ok], None)
            tp = self.run_teacher(vis["vis_unconcealed"][ok], batch["positive"][ok], None)
            out.update(t_emb_a=ta.embedding, t_emb_p=tp.embedding, t_pred=ta.posture_logits.argmax(1))
        else:
            d = self.teacher.cfg.embed_dim
            empty = batch["anchor"].new_zeros((0, d))
            out.update(t_emb_a=empty, t_emb_p=empty, t_pred=batch["posture"][ok])
        out.update(t_identity=batch["identity"][ok], t_posture=batch["posture"][ok])
        return out

    def validation_metrics(self, c: dict[str, torch.Tensor]) -> dict[str, float]:
        student = super().validation_metrics(c)
        t = pair_metrics(c["t_emb_a"], c["t_emb_p"], c["t_identity"], c["t_posture"], c["t_pred"])
        return {**student, **{f"teacher_{k}": v for k, v in t.items()}}


class TeacherTask(Task):
    """Stage ``teacher``: the teacher's SupCon + posture CE on every member with a visible image."""

    model: TeacherModel

    def compute_losses(self, batch: VisibleTripletBatch) -> dict[str, torch.Tensor]:  # with the visible keys
        lc: LossConfig = self.cfg.loss
        idx = member_presence(batch).nonzero().squeeze(1)  # (m,)
        if len(idx) < 2:  # nothing to learn from in this batch (a training BatchNorm needs two rows)
            zero = torch.zeros((), device=batch["anchor"].device, requires_grad=True)
            return {"loss": zero, "t_metric": zero.detach(), "t_posture": zero.detach()}
        postures = torch.cat([batch["posture"], batch["posture"], batch["neg_posture"]])  # (3n,)
        labels = member_labels(batch, lc.metric_labels)  # (3n,)
        t = self.model(stack(batch, VISIBLE)[idx], thz=stack(batch, MEMBERS)[idx])
        terms = teacher_terms(lc, t, labels[idx], postures[idx])
        total = lc.w_teacher_metric * terms["t_metric"] + lc.w_teacher_posture * terms["t_posture"]
        return {"loss": total, **terms}

    @torch.no_grad()
    def validation_outputs(self, batch: VisibleTripletBatch) -> dict[str, torch.Tensor]:
        ok = batch["vis_present"][:, 0] & batch["vis_present"][:, 1]  # (n,)
        ta = self.model(batch["vis_concealed"][ok], thz=batch["anchor"][ok]) if ok.any() else None
        tp = self.model(batch["vis_unconcealed"][ok], thz=batch["positive"][ok]) if ok.any() else None
        empty = batch["anchor"].new_zeros((0, self.model.cfg.embed_dim))
        return {
            "emb_a": ta.embedding if ta is not None else empty,
            "emb_p": tp.embedding if tp is not None else empty,
            "pred": ta.posture_logits.argmax(1) if ta is not None else batch["posture"][ok],
            "identity": batch["identity"][ok],
            "posture": batch["posture"][ok],
        }

    def validation_metrics(self, c: dict[str, torch.Tensor]) -> dict[str, float]:
        m = pair_metrics(c["emb_a"], c["emb_p"], c["identity"], c["posture"], c["pred"])
        return {**m, "score": float(np.nanmean([1 - m["eer"], m["posture_acc"]]))}


def load_teacher(cfg: Config) -> TeacherModel:
    """The trained teacher of ``model.teacher_run``, checked to fit this run's data and student."""
    run = cfg.model.teacher_run
    where = f"model.teacher_run={run}"
    try:
        tcfg, teacher, _ = load_run(run, DISTILL)
    except RunError as e:
        raise ValueError(f"{where}: {e}") from e
    if not isinstance(teacher, TeacherModel):
        raise ValueError(f"{where}: a stage={tcfg.model.stage} run; point at a run trained with model.stage=teacher")
    if tcfg.data.image_size != cfg.data.image_size or tcfg.model.num_postures != cfg.model.num_postures:
        raise ValueError(f"{where}: teacher image_size/num_postures differ from this run's")
    if tcfg.model.teacher != cfg.model.teacher:
        raise ValueError(f"{where}: its model.teacher section differs from this config's; use the same one")
    return teacher


def new_teacher(mc: ModelConfig) -> TeacherModel:
    """A teacher to train (stage joint|teacher): built, then started from ``model.teacher_init`` when set."""
    teacher = build_teacher(mc.teacher, student_config(mc))
    if mc.teacher_init:
        where = f"model.teacher_init={mc.teacher_init}"
        try:
            _, source, _ = load_run(mc.teacher_init, (MTL, DISTILL), expect=MultiTaskModel)
            init_from_student(teacher, source.state_dict())
        except ValueError as e:  # RunError included
            raise ValueError(f"{where}: {e}") from e
    return teacher


def build_task(cfg: Config) -> Task:
    if not cfg.data.use_visible:
        raise ValueError("data.use_visible: the distill recipe trains with visible images; set it to true")
    mc: ModelConfig = cfg.model
    if mc.stage == "teacher":
        return TeacherTask(cfg, new_teacher(mc))
    student: MultiTaskModel = build_student(student_config(mc))
    teacher = load_teacher(cfg) if mc.stage == "student" else new_teacher(mc)
    return DistillTask(cfg, student, teacher)
