"""The ``distill`` model spec (a THz + visible teacher guides the THz-only ``mtl`` student; only the student is
deployed): config sections and the deployable model builder, below the recipes so the embedder loads its students.

Stages (``model.stage``):

* ``joint`` — teacher and student trained together from scratch (the reference, one stage);
* ``teacher`` — the teacher alone (own THz encoder + visible encoder + fusion + heads); its run's
  ``model.safetensors`` holds the teacher, evaluated on THz + visible test rows;
* ``student`` — a student distilled from the teacher of ``model.teacher_run`` (a ``stage: teacher`` run),
  frozen with ``freeze_teacher: true`` (two-stage) or trained on with its own losses.

The student's model and loss fields are the ``mtl`` recipe's, unchanged (so a controlled comparison with ``mtl``
can use identical settings); the teacher and the distillation terms have their own fields below.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import torch

from thzface import config as C
from thzface.config import Config
from thzface.models.mtl_spec import AugConfig
from thzface.models.mtl_spec import LossConfig as MtlLossConfig
from thzface.models.mtl_spec import ModelConfig as MtlRecipeModelConfig
from thzface.models.mtl_spec import TrainConfig as MtlTrainConfig
from thzface.models.multitask import MtlModelConfig
from thzface.models.multitask import build_model as build_student
from thzface.models.spec import ModelSpec
from thzface.models.teacher import TeacherConfig, build_teacher

STAGES: tuple[str, ...] = ("joint", "teacher", "student")
TEACHER_VISIBLE: tuple[str, ...] = ("enrolment", "capture")  # data.teacher_visible (recipes/distill/data.py)


@dataclass
class DataConfig(C.DataConfig):
    use_visible: bool = True  # the teacher reads the visible images while training
    teacher_visible: Literal["enrolment", "capture"] = "enrolment"  # each member's unconcealed photo | the CSV's
    target: str = "clean"  # the student's reconstruction target, as mtl-default's (clean/ where the folder has it)

    def __post_init__(self) -> None:
        if self.teacher_visible not in TEACHER_VISIBLE:
            raise ValueError(f"data.teacher_visible: {self.teacher_visible!r} is not one of {list(TEACHER_VISIBLE)}")


@dataclass
class ModelConfig(MtlRecipeModelConfig):
    teacher: TeacherConfig = field(default_factory=TeacherConfig)  # the THz + visible teacher (models/teacher.py)
    stage: Literal["joint", "teacher", "student"] = "joint"  # what this run trains (module docstring)
    teacher_run: str = ""  # stage=student: run folder (or weights file) of a stage=teacher run
    freeze_teacher: bool = False  # stage=student: keep the loaded teacher fixed (two-stage) instead of training it on
    teacher_init: str = ""  # stage joint|teacher: mtl run / weights (pretrained:NAME) that start both teacher encoders

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.stage not in STAGES:
            raise ValueError(f"model.stage: {self.stage!r} is not one of {list(STAGES)}")
        if self.stage == "student" and not self.teacher_run:
            raise ValueError("model.teacher_run: stage=student needs the path of a stage=teacher run")
        if self.stage != "student" and self.teacher_run:
            raise ValueError(f"model.teacher_run: only read with stage=student (stage is {self.stage!r})")
        if self.freeze_teacher and self.stage != "student":
            raise ValueError("model.freeze_teacher: only a trained teacher (stage=student + teacher_run) can be frozen")
        if self.teacher_init and self.stage == "student":
            raise ValueError("model.teacher_init: a stage=student run loads its trained teacher (model.teacher_run)")
        if self.teacher.share_thz_encoder and self.stage != "joint":
            raise ValueError("model.teacher.share_thz_encoder: only with stage=joint (a separate teacher owns one)")


@dataclass
class TrainConfig(MtlTrainConfig):
    sampler: str = "pk"  # pk | random: distillation reads triplet rows (anchor, positive, negative with visibles)
    batch_size: int = 48


@dataclass
class LossConfig(MtlLossConfig):
    margin_head: str = "none"  # triplet rows: no margin-softmax head (the student's objective is the reference's)
    w_teacher_metric: float = 0.5  # teacher SupCon (student's metric_labels, temperature); unused while frozen
    w_teacher_posture: float = 0.5  # teacher posture label-smoothing CE (student's smoothing); unused while frozen
    w_feat: float = 1.0  # feature distillation: MSE(student projection, teacher feature)
    w_logit: float = 0.5  # logit distillation: T² · KL(teacher ‖ student) of the posture logits
    w_rel: float = 0.0  # embedding-relation distillation (pairwise cosine matrices); 0: off
    kd_temperature: float = 3.0  # temperature T of the logit distillation
    distill_full_triplet: bool = True  # distil anchors, positives and negatives (false: anchors only)
    feat_target: Literal["latent", "pooled"] = "latent"  # teacher feature: trunk latent | mean fused token (ref.)
    feat_proj: Literal["student", "both"] = "student"  # student: student→teacher width; both: both → distill_dim
    distill_dim: int = 256  # feat_proj=both: width of the two projections
    w_teacher_proj: float = 0.5  # feat_proj=both: SupCon on the teacher projection (what trains it)

    def __post_init__(self) -> None:
        weights = ("w_teacher_metric", "w_teacher_posture", "w_feat", "w_logit", "w_rel", "w_teacher_proj")
        for name in weights:
            if not getattr(self, name) >= 0:
                raise ValueError(f"loss.{name}: {getattr(self, name)} must be >= 0")
        if not self.kd_temperature > 0:
            raise ValueError(f"loss.kd_temperature: {self.kd_temperature} must be > 0")
        if self.feat_target not in ("latent", "pooled"):
            raise ValueError(f"loss.feat_target: {self.feat_target!r} is not one of ['latent', 'pooled']")
        if self.feat_proj not in ("student", "both"):
            raise ValueError(f"loss.feat_proj: {self.feat_proj!r} is not one of ['student', 'both']")
        if self.distill_dim <= 0:
            raise ValueError(f"loss.distill_dim: {self.distill_dim} must be positive")


def student_config(mc: MtlModelConfig) -> MtlModelConfig:
    """The plain ``mtl`` model config inside a distill model config (the student's fields)."""
    return MtlModelConfig(**{f.name: getattr(mc, f.name) for f in dataclasses.fields(MtlModelConfig)})


def build_model(cfg: Config) -> torch.nn.Module:
    """The deployable model of a run: the student (stage joint|student) or the teacher (stage teacher)."""
    mc: ModelConfig = cfg.model
    if mc.stage == "teacher":
        return build_teacher(mc.teacher, student_config(mc))
    return build_student(student_config(mc))


DISTILL = ModelSpec(
    "distill", ModelConfig, LossConfig, build_model, DataConfig, aug_config=AugConfig, train_config=TrainConfig,
    init_from=("mtl",),  # a student starts from mtl weights (--init-from): the student is an mtl model
)  # fmt: skip
