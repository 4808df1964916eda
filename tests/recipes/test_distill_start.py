"""What the distillation teacher sees and where every arm starts: the enrolment visible images
(recipes/distill/data.py), a teacher started from student weights (models/teacher.py), the bench's common start
(bench/distill.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from thzface.bench.distill import ARMS, confounds, select_arms, start_dicts
from thzface.bench.mtl import PRETRAINED
from thzface.config import ConfigError
from thzface.data.csv import TripletRow
from thzface.models.multitask import MultiTaskModel, mtl_preset
from thzface.models.teacher import TeacherConfig, build_teacher, init_from_student
from thzface.recipes import config_from_dict, find_config, load_config
from thzface.recipes.distill.data import teacher_rows

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROW = TripletRow("a-1_b2b_3.png", "a-1_n2n_3.png", "b-2_b4b_1.png", "a-1_b2b_3.png", "a-1_n2n_3.png", "b-2_b4b_1.png")


def visible_folder(tmp_path: Path, names: list[str]) -> Path:
    (tmp_path / "visible").mkdir()
    for n in names:
        (tmp_path / "visible" / n).write_bytes(b"")
    return tmp_path


def test_enrolment_pairs_every_member_with_its_unconcealed_photograph(tmp_path: Path) -> None:
    root = visible_folder(tmp_path, ["a-1_b2b_3.png", "a-1_n2n_3.png", "b-2_b4b_1.png", "b-2_n4n_1.png"])
    (r,) = teacher_rows([ROW], root, "enrolment")
    assert r.visible == ("a-1_n2n_3.png", "a-1_n2n_3.png", "b-2_n4n_1.png")
    assert (r.anchor, r.positive, r.negative) == (ROW.anchor, ROW.positive, ROW.negative)  # THz untouched
    assert r.anchor_name.identity == "a-1" and r.negative_name.concealed
    assert teacher_rows([ROW], root, "capture") == [ROW]  # the CSV's columns as they are


def test_enrolment_without_the_unconcealed_photograph_gives_none(tmp_path: Path) -> None:
    root = visible_folder(tmp_path, ["a-1_b2b_3.png", "a-1_n2n_3.png", "b-2_b4b_1.png"])  # no b-2_n4n_1
    (r,) = teacher_rows([ROW], root, "enrolment")
    assert r.visible == ("a-1_n2n_3.png", "a-1_n2n_3.png", None)  # skipped by the task, never a concealed face
    (r,) = teacher_rows([ROW], tmp_path / "elsewhere", "enrolment")  # no visible/ at all
    assert r.visible == (None, None, None)
    with pytest.raises(ValueError, match="teacher_visible"):
        teacher_rows([ROW], root, "visible")


def test_teacher_visible_and_teacher_init_are_validated(repo) -> None:
    assert load_config(repo / "configs" / "distill-default.yaml").data.teacher_visible == "enrolment"
    assert load_config(repo / "configs" / "distill-paper.yaml").data.teacher_visible == "capture"
    with pytest.raises(ConfigError, match="teacher_visible"):
        load_config(repo / "configs" / "distill-tiny.yaml", ["data.teacher_visible=concealed"])
    with pytest.raises(ConfigError, match="teacher_init"):
        load_config(repo / "configs" / "distill-tiny.yaml", ["model.stage=student", "model.teacher_run=T",
                                                              "model.teacher_init=pretrained:mtl-default"])  # fmt: skip


def test_teacher_starts_from_the_student_encoder_trunk_and_heads() -> None:
    torch.manual_seed(0)
    cfg = mtl_preset("tiny", pool="attn")  # an attention-pooled student and teacher (the flatten pair: the conv trunk)
    student = MultiTaskModel(cfg)
    teacher = build_teacher(TeacherConfig(heads=2, trunk="attn", trunk_dim=cfg.trunk_dim, embed_hidden=cfg.embed_hidden,
                                          embed_dim=cfg.embed_dim), cfg)  # fmt: skip
    fusion_before = {k: v.clone() for k, v in teacher.fusion.state_dict().items()}
    got = init_from_student(teacher, student.state_dict())
    s, t = student.state_dict(), teacher.state_dict()
    enc = [k for k in s if k.startswith("encoder.")]
    parts = [k for k in s if k.startswith(("trunk.", "verification_head.", "posture_head."))]
    for k in enc:
        rest = k.partition(".")[2]
        assert torch.equal(t[f"thz_encoder.{rest}"], s[k]) and torch.equal(t[f"vis_encoder.{rest}"], s[k])
    assert all(torch.equal(t[k], s[k]) for k in parts)
    assert got == {"copied": 2 * len(enc) + len(parts), "of": len(t)}
    assert all(torch.equal(teacher.fusion.state_dict()[k], v) for k, v in fusion_before.items())  # as built
    with pytest.raises(ValueError, match="no tensor of the student fits"):
        init_from_student(teacher, {"decoder.x": torch.zeros(1)})


def test_bench_arms_always_hold_the_headline_pair() -> None:
    assert select_arms(None) == ARMS
    assert select_arms("distill-2stage") == ("mtl", "distill-joint", "distill-2stage")
    with pytest.raises(ValueError, match="unknown distill arms"):
        select_arms("mtl,paper")


def test_bench_start_is_the_same_for_both_arms() -> None:
    mtl_yaml, dist_yaml = find_config("mtl-default"), find_config("distill-default")
    m, d = (config_from_dict(x) for x in start_dicts(mtl_yaml, dist_yaml, PRETRAINED))
    assert confounds(m, d) == []  # the fine-tuning learning rate is a shared setting, in both
    assert m.train.lr == d.train.lr == 0.0005 and d.model.teacher_init == PRETRAINED
    m0, d0 = (config_from_dict(x) for x in start_dicts(mtl_yaml, dist_yaml, None))
    assert m0.train.lr == load_config(mtl_yaml).train.lr and d0.model.teacher_init == "" and confounds(m0, d0) == []
