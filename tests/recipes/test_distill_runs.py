"""Recipe ``distill`` end to end through the engine: two-stage (teacher run → frozen-teacher student run) and
joint training, student-only weights, eval/predict with no visible image, rows with missing visible cells."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from thzface.data.csv import TripletRow, read_triplets, write_triplets
from thzface.data.naming import format_name
from thzface.embedder import EmbedderOptions
from thzface.models.multitask import MultiTaskModel
from thzface.models.teacher import TeacherModel
from thzface.recipes import DISTILL, load_config, load_run
from thzface.recipes import train as fit
from thzface.recipes.distill.task import build_task

IDS = ("ida", "idb", "idc", "idd", "ide", "idf")  # ide, idf: test only (identity-disjoint)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _save(arr: np.ndarray, path: Path) -> None:
    Image.fromarray(np.uint8(np.clip(arr, 0, 1) * 255)).save(path)


def _rows(ids, samples, missing: set[int]) -> list[TripletRow]:
    rows = []
    for i, ident in enumerate(ids):
        for p in range(5):
            for k in samples:
                a, pos = format_name(ident, p, True, k), format_name(ident, p, False, k)
                neg = format_name(ids[(i + 1) % len(ids)], p, True, k)
                vis = (None, None, None) if len(rows) in missing else (a, pos, neg)
                rows.append(TripletRow(a, pos, neg, *vis))
    return rows


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """6 identities × 5 postures × 3 samples at 32 px, THz + visible; some training rows lack visible cells."""
    root = tmp_path_factory.mktemp("distill") / "data"
    (root / "thz").mkdir(parents=True)
    (root / "visible").mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    for ident in IDS:
        c = rng.random(4)
        face = 0.3 + 0.5 * np.exp(-((xx - 0.3 - 0.4 * c[0]) ** 2 + (yy - 0.3 - 0.4 * c[1]) ** 2) / (0.02 + 0.1 * c[2]))
        for p in range(5):
            shifted = np.roll(face, 2 * p - 4, axis=1)
            for k in range(3):
                for concealed in (True, False):
                    name = format_name(ident, p, concealed, k)
                    noise = 0.05 * rng.random((32, 32))
                    _save(shifted * (0.6 if concealed else 1.0) + noise, root / "thz" / name)
                    _save(shifted * (0.8 + 0.2 * c[3]), root / "visible" / name)
    write_triplets(_rows(IDS[:4], (0, 1), missing={1, 7, 22}), root / "train_val.csv")
    write_triplets(_rows(IDS[:4], (2,), set()) + _rows(IDS[4:], (0, 1, 2), set()), root / "test.csv")
    return root


def cfg_of(repo: Path, *overrides: str):
    return load_config(repo / "configs" / "distill-tiny.yaml", ["train.max_steps=3", *overrides])


def thz_only_copy(root: Path, dst: Path) -> Path:
    """The dataset without visible/: what a deployment sees. The CSVs keep their visible columns, now pointing at
    missing files; THz-only inference must not read them."""
    (dst / "thz").parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(root / "thz", dst / "thz")
    for name in ("train_val.csv", "test.csv"):
        shutil.copy(root / name, dst / name)
    assert "visible_concealed" in (dst / "test.csv").read_text().splitlines()[0]
    return dst


def test_missing_visible_cells_load_as_absent(data: Path) -> None:
    rows = read_triplets(data / "train_val.csv", data)
    assert sum(r.visible_concealed is None for r in rows) == 3


def test_two_stage_teacher_then_frozen_student(repo: Path, data: Path, tmp_path: Path) -> None:
    teacher_run, student_run = tmp_path / "teacher", tmp_path / "student"
    summary = fit(cfg_of(repo, "model.stage=teacher"), data, teacher_run)
    assert summary["global_step"] == 3
    tcfg, teacher, _ = load_run(teacher_run, ("distill",))
    assert isinstance(teacher, TeacherModel) and tcfg.model.stage == "teacher"
    assert set(load_file(str(teacher_run / "model.safetensors"))) == set(teacher.state_dict())
    metrics = DISTILL.evaluate(teacher_run, data, tmp_path / "teacher_report")
    assert metrics["run"]["stage"] == "teacher" and metrics["run"]["rows_used"] == 50
    assert 0.0 <= metrics["summary"]["all"]["eer"] <= 1.0
    assert (tmp_path / "teacher_report" / "report.html").is_file()
    with pytest.raises(ValueError, match="stage=teacher run needs visible images"):
        DISTILL.predict(teacher_run, [data / "thz"], tmp_path / "pred", EmbedderOptions())

    overrides = ("model.stage=student", f"model.teacher_run={teacher_run}", "model.freeze_teacher=true")
    fit(cfg_of(repo, *overrides), data, student_run)
    cfg, student, extra = load_run(student_run, ("distill",))
    assert isinstance(student, MultiTaskModel) and cfg.model.stage == "student"
    saved = load_file(str(student_run / "model.safetensors"))
    assert set(saved) == set(student.state_dict())  # the student only: no teacher, no projections
    assert not any(k.startswith(("teacher", "s_proj", "t_proj")) for k in saved)
    ckpt = torch.load(student_run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")["state_dict"]
    for k, v in teacher.state_dict().items():  # the frozen teacher did not move (BatchNorm statistics included)
        assert torch.equal(ckpt[f"teacher.{k}"], v), k


def test_joint_run_evaluates_and_predicts_without_visible(repo: Path, data: Path, tmp_path: Path) -> None:
    run = tmp_path / "joint"
    fit(cfg_of(repo, "loss.w_rel=0.5"), data, run)
    plain = thz_only_copy(data, tmp_path / "thz_only")
    metrics = DISTILL.evaluate(run, plain, tmp_path / "report")
    assert set(metrics["protocols"]) == {"closed-set", "identity-disjoint", "validation-seen", "all"}
    assert "silhouette_identity" in metrics["summary"]["all"]
    assert (tmp_path / "report" / "metrics.json").is_file()
    rec = metrics["protocols"]["all"]["reconstruction"]  # the student's decoder beside copy-the-input
    assert {"predicted", "oracle", "copy_input"} <= set(rec) and "clean_ssim" not in rec["predicted"]
    # the training mean face at the predicted posture: the unconcealed scans' mean here (no clean targets)
    assert set(rec["mean_face"]) == {"ssim", "psnr", "l1"} and rec["mean_face"]["ssim"] < 1
    assert metrics["summary"]["all"]["baseline_mean_face_ssim"] == rec["mean_face"]["ssim"]
    page = (tmp_path / "report" / "report.html").read_text()
    assert "no clean targets" in page and "No clean target in this folder" in page  # the grid has no such column
    shutil.copytree(plain / "thz", plain / "clean", ignore=shutil.ignore_patterns("*_b*b_*"))  # clean = the scans
    rec = DISTILL.evaluate(run, plain, tmp_path / "report-clean")["protocols"]["all"]["reconstruction"]
    assert "Clean target: the noise-free" in (tmp_path / "report-clean" / "report.html").read_text()
    assert rec["copy_input"]["clean_ssim"] == rec["copy_input"]["ssim"] < 1
    assert rec["predicted"]["clean_psnr"] == rec["predicted"]["psnr"]
    assert rec["mean_face"]["clean_ssim"] == rec["mean_face"]["ssim"] < 1  # scored against the clean target too
    shutil.rmtree(plain / "clean")
    res = DISTILL.predict(run, [plain / "thz"], tmp_path / "pred", EmbedderOptions())
    assert res["images"] == len(list((plain / "thz").iterdir()))
    assert (tmp_path / "pred" / "predictions.json").is_file()


def test_teacher_run_errors(repo: Path, data: Path, tmp_path: Path) -> None:
    run = tmp_path / "joint"
    fit(cfg_of(repo, "train.max_steps=1"), data, run)
    with pytest.raises(ValueError, match="a stage=joint run; point at a run trained with model.stage=teacher"):
        build_task(cfg_of(repo, "model.stage=student", f"model.teacher_run={run}"))
    with pytest.raises(ValueError, match="no model.safetensors"):
        build_task(cfg_of(repo, "model.stage=student", f"model.teacher_run={tmp_path}"))
