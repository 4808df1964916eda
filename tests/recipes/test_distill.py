"""Recipe ``distill`` unit tests: configs, every parameter that should learn gets a gradient, the student is the
``mtl`` student, missing visible images are skipped (not fed zeros), a tiny batch is overfitted."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from thzface.config import ConfigError
from thzface.models.distill_spec import LossConfig, ModelConfig
from thzface.recipes import load_config
from thzface.recipes.distill.task import DistillTask, TeacherTask, build_task
from thzface.recipes.mtl.task import MtlTask

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_cfg(repo, *overrides: str):
    return load_config(repo / "configs" / "distill-tiny.yaml", list(overrides))


def batch(n: int = 8, seed: int = 0, present: torch.Tensor | None = None) -> dict:
    """A random triplet batch with visible images; identities in pairs so SupCon has positives."""
    g = torch.Generator().manual_seed(seed)

    def img() -> torch.Tensor:
        return torch.rand(n, 1, 32, 32, generator=g)  # (n, 1, 32, 32)

    ident = torch.arange(n) // 2
    return {
        "anchor": img(),
        "positive": img(),
        "target": img(),
        "negative": img(),
        "identity": ident,
        "neg_identity": (ident + 1) % (n // 2),
        "posture": torch.arange(n) % 5,
        "neg_posture": (torch.arange(n) + 2) % 5,
        "vis_concealed": img(),
        "vis_unconcealed": img(),
        "vis_negative": img(),
        "vis_present": torch.ones(n, 3, dtype=torch.bool) if present is None else present,
    }


def grads_of(module: torch.nn.Module) -> dict[str, bool]:
    """Which parameters got a gradient; a student's in-plane aligner is left out: only the mtl recipe's alignment
    loss trains it (distill's triplet rows carry no poses; its student starts from the shipped, aligned weights)."""
    named = module.named_parameters()
    return {k: p.grad is not None and bool(p.grad.abs().sum() > 0) for k, p in named if not k.startswith("aligner.")}


def test_shipped_configs_load_and_validate(repo) -> None:
    for preset in ("tiny", "default", "paper"):
        cfg = load_config(repo / "configs" / f"distill-{preset}.yaml")
        assert cfg.recipe == "distill" and cfg.data.use_visible and cfg.model.stage == "joint"
    with pytest.raises(ConfigError, match="stage=student needs the path of a stage=teacher run"):
        tiny_cfg(repo, "model.stage=student")
    with pytest.raises(ConfigError, match="teacher_run: only read with stage=student"):
        tiny_cfg(repo, "model.teacher_run=somewhere")
    with pytest.raises(ConfigError, match="freeze_teacher: only a trained teacher"):
        tiny_cfg(repo, "model.freeze_teacher=true")
    with pytest.raises(ConfigError, match="share_thz_encoder: only with stage=joint"):
        tiny_cfg(repo, "model.stage=teacher", "model.teacher.share_thz_encoder=true")
    with pytest.raises(ConfigError, match="kd_temperature"):
        tiny_cfg(repo, "loss.kd_temperature=0")
    with pytest.raises(ConfigError, match="loss.w_feat"):
        tiny_cfg(repo, "loss.w_feat=-1")
    with pytest.raises(ConfigError, match="feat_proj"):
        tiny_cfg(repo, "loss.feat_proj=teacher")
    with pytest.raises(ValueError, match="data.use_visible"):
        build_task(tiny_cfg(repo, "data.use_visible=false"))


@pytest.mark.parametrize(
    "overrides",
    [
        ("loss.feat_proj=student", "loss.feat_target=latent"),
        ("loss.feat_proj=both", "loss.feat_target=pooled", "model.teacher.fusion=paper", "model.teacher.trunk=conv"),
        ("loss.feat_proj=both", "model.teacher.share_thz_encoder=true"),
    ],
)
def test_every_parameter_that_should_learn_gets_a_gradient(repo, overrides) -> None:
    torch.manual_seed(0)
    task = build_task(tiny_cfg(repo, "loss.w_rel=1.0", *overrides))
    assert isinstance(task, DistillTask)
    terms = task.compute_losses(batch())
    terms["loss"].backward()
    for part in (task.model, task.teacher, task.s_proj, *([task.t_proj] if task.t_proj is not None else [])):
        missing = [k for k, ok in grads_of(part).items() if not ok]
        assert not missing, f"{type(part).__name__}: no gradient for {missing}"
    for k in ("metric", "posture", "rec", "t_metric", "t_posture", "feat", "logit", "rel"):
        assert float(terms[k].detach()) > 0, k
    trainable = {id(p) for p in task.trainable_parameters()}
    assert all(id(p) in trainable for p in task.teacher.parameters())


def test_teacher_projection_is_trained_only_by_its_own_term(repo) -> None:
    """The reference's defect: the teacher projection got no gradient. Here its SupCon trains it; the feature
    MSE does not (its side is detached)."""
    task = build_task(tiny_cfg(repo, "loss.feat_proj=both", "loss.w_teacher_proj=0"))
    task.compute_losses(batch())["loss"].backward()
    assert task.t_proj is not None
    assert task.t_proj.weight.grad is None or float(task.t_proj.weight.grad.abs().sum()) == 0
    task = build_task(tiny_cfg(repo, "loss.feat_proj=both"))
    task.compute_losses(batch())["loss"].backward()
    assert task.t_proj is not None and task.t_proj.weight.grad is not None
    assert float(task.t_proj.weight.grad.abs().sum()) > 0


def test_student_terms_are_exactly_the_mtl_task_terms(repo) -> None:
    cfg = tiny_cfg(repo, "model.dropout=0.0")
    task = build_task(cfg)
    mcfg = dataclasses.replace(cfg, recipe="mtl", loss=task.cfg.loss)
    mtl = MtlTask(mcfg, task.model)
    b = batch(seed=3)
    ours, ref = task.compute_losses(b), mtl.compute_losses(b)
    for k in ("metric", "posture", "rec"):
        assert torch.allclose(ours[k], ref[k], atol=1e-6), k


def test_frozen_teacher_gets_no_gradient_and_stays_in_eval(repo) -> None:
    cfg = tiny_cfg(repo, "loss.feat_proj=both")
    joint = build_task(cfg)
    model = dataclasses.replace(cfg.model, stage="student", teacher_run="unused", freeze_teacher=True)
    task = DistillTask(dataclasses.replace(cfg, model=model), joint.model, joint.teacher)
    task.train()
    assert not task.teacher.training and task.model.training
    terms = task.compute_losses(batch())
    terms["loss"].backward()
    assert all(p.grad is None for p in task.teacher.parameters())
    assert float(terms["t_metric"]) == 0 and float(terms["feat"]) > 0 and float(terms["t_proj"]) > 0
    assert task.t_proj is not None and all(grads_of(task.s_proj).values()) and all(grads_of(task.t_proj).values())
    teacher_ids = {id(p) for p in task.teacher.parameters()}
    assert not any(id(p) in teacher_ids for p in task.trainable_parameters())


def test_missing_visible_members_are_skipped_not_fed_zeros(repo) -> None:
    torch.manual_seed(0)
    task = build_task(tiny_cfg(repo, "loss.w_rel=1.0", "model.dropout=0.0", "model.teacher.dropout=0.0"))
    task.teacher.fusion.vis_from_thz.dropout = task.teacher.fusion.thz_from_vis.dropout = 0.0
    present = torch.ones(8, 3, dtype=torch.bool)
    present[1, 0] = present[4, :] = present[6, 2] = False  # 5 of 24 members without a visible image
    seen: list[int] = []
    task.teacher.register_forward_pre_hook(lambda m, args, kw: seen.append(args[0].shape[0]), with_kwargs=True)
    b = batch(present=present)
    first = task.compute_losses(b)
    assert seen == [19] and abs(float(first["vis_frac"]) - 19 / 24) < 1e-6
    b2 = dict(b)
    for key, col in (("vis_concealed", 0), ("vis_unconcealed", 1), ("vis_negative", 2)):
        b2[key] = b[key].clone()
        b2[key][~present[:, col]] = 123.0  # whatever sits in an empty cell must not matter
    second = task.compute_losses(b2)
    for k in ("t_metric", "t_posture", "feat", "logit", "rel", "loss"):
        assert torch.allclose(first[k], second[k], atol=1e-5), k


def test_no_visible_at_all_skips_teacher_terms(repo) -> None:
    task = build_task(tiny_cfg(repo))
    terms = task.compute_losses(batch(present=torch.zeros(8, 3, dtype=torch.bool)))
    assert all(float(terms[k]) == 0 for k in ("t_metric", "t_posture", "feat", "logit", "rel"))
    terms["loss"].backward()  # the student still learns
    assert float(terms["vis_frac"]) == 0 and torch.isfinite(terms["loss"])


def test_anchors_only_distillation(repo) -> None:
    task = build_task(tiny_cfg(repo, "loss.distill_full_triplet=false", "loss.w_rel=1.0"))
    seen: list[int] = []
    task.s_proj.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
    task.compute_losses(batch())
    assert seen == [8]


def test_teacher_stage_task_and_overfit(repo) -> None:
    task = build_task(tiny_cfg(repo, "model.stage=teacher"))
    assert isinstance(task, TeacherTask) and task.model.thz_encoder is not None
    b = batch(seed=1)
    opt = torch.optim.Adam(task.trainable_parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = task.compute_losses(b)["loss"]
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


def test_joint_overfits_a_tiny_batch(repo) -> None:
    torch.manual_seed(0)
    task = build_task(tiny_cfg(repo, "loss.w_rel=1.0"))
    b = batch(seed=2)
    opt = torch.optim.Adam(task.trainable_parameters(), lr=3e-3)
    first = last = None
    for _ in range(30):
        opt.zero_grad()
        terms = task.compute_losses(b)
        terms["loss"].backward()
        opt.step()
        first = first or {k: float(v) for k, v in terms.items()}
        last = {k: float(v) for k, v in terms.items()}
    assert first is not None and last is not None
    assert last["loss"] < 0.5 * first["loss"]
    assert last["metric"] < first["metric"] and last["t_metric"] < first["t_metric"]
    assert last["feat"] < first["feat"]


def test_loss_config_inherits_every_mtl_field() -> None:
    from thzface.models.mtl_spec import LossConfig as MtlLoss
    from thzface.models.multitask import MtlModelConfig

    assert {f.name for f in dataclasses.fields(MtlLoss)} <= {f.name for f in dataclasses.fields(LossConfig)}
    assert {f.name for f in dataclasses.fields(MtlModelConfig)} <= {f.name for f in dataclasses.fields(ModelConfig)}


def test_paper_preset_has_the_reference_parameter_counts(repo) -> None:
    """Reference multimodal model: 35.61 M parameters in all, 23.48 M in the student used at inference."""
    task = build_task(load_config(repo / "configs" / "distill-paper.yaml"))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    student, total = count(task.model), count(task)
    assert round(student / 1e6, 2) == 23.48 and round(total / 1e6, 2) == 35.61
    assert task.teacher.thz_encoder is None  # the THz encoder is shared with the student, as in the reference
