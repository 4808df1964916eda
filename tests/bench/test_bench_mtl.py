"""bench mtl's arms (presets, the fine-tuned arm, --arms) and its mean ± std over seeds, on hand values."""

from __future__ import annotations

import pytest

from thzface.bench import mtl as B
from thzface.recipes import find_config, load_config


def test_arms_add_the_fine_tune_from_a_given_run_and_filter():
    arms = B.arms(init="runs/pre")
    assert arms["default"] == ("mtl-default", None, []) and arms["paper"] == ("mtl-paper", None, [])
    assert arms["default-pretrained"] == ("mtl-default", "runs/pre", B.FINETUNE)
    assert list(B.arms(init="runs/pre", only="paper,default-pretrained")) == ["paper", "default-pretrained"]
    with pytest.raises(ValueError, match=r"--arms: unknown arms \['nope'\]"):
        B.arms(init="runs/pre", only="default,nope")


def test_variant_arms_run_on_request_only_with_their_overrides():
    assert list(B.arms(init="runs/pre")) == ["default", "paper", "default-pretrained", "adapted"]  # the default set
    assert B.arms(init="runs/pre")["adapted"] == ("", "runs/pre", [])  # no preset: adapted, not trained
    arms = B.arms(init="runs/pre", only="lean-s2,lean-s2-pretrained")
    lean = [  # = the mtl-lean-s2 preset: the previous four-stage encoder at stride 2, attention-pooled, one view
        "model.stem_stride=2",
        "model.widths=[32, 64, 96, 128]",
        "model.decoder_widths=[64, 48, 32, 16]",
        'model.pool="attn"',
        "model.channels_last=true",
        'model.align="none"',
        "model.flip_test=false",
    ]
    assert arms["lean-s2"] == ("mtl-default", None, lean)
    assert arms["lean-s2-pretrained"] == ("mtl-default", "runs/pre", B.FINETUNE + lean)
    own = B.arms(only="lean-s2-pretrained,dec-small-pretrained")  # no --init-from: the variant's own shipped weights
    assert own["lean-s2-pretrained"][1] == "pretrained:mtl-lean-s2" and own["dec-small-pretrained"][1] == B.PRETRAINED
    assert B.overrides({"decoder_widths": (48, 32), "rdb_layers": 3}) == [
        "model.decoder_widths=[48, 32]",
        "model.rdb_layers=3",
    ]  # tuples become YAML lists the config loader reads back


def test_an_arm_takes_a_training_recipe_change_as_arm_plus_name():
    arms = B.arms(init="runs/pre", only="default-pretrained,default-pretrained+mirror,default+single-view")
    assert arms["default-pretrained+mirror"] == ("mtl-default", "runs/pre", B.FINETUNE + ["aug.mirror=0.5"])
    assert arms["default+single-view"] == ("mtl-default", None, ["model.flip_test=false"])
    assert arms["default-pretrained"] == ("mtl-default", "runs/pre", B.FINETUNE)  # the base arm is unchanged
    with pytest.raises(ValueError, match=r"unknown arms \['default\+nope'\]"):
        B.arms(only="default+nope")


@pytest.mark.parametrize("variant", sorted(B.RECIPE_VARIANTS))
def test_every_recipe_change_is_a_key_the_fine_tune_reads(variant):
    preset, _, extra = B.arms(init="runs/pre", only=f"default-pretrained+{variant}")[f"default-pretrained+{variant}"]
    base, changed = load_config(find_config(preset), B.FINETUNE), load_config(find_config(preset), extra)
    assert changed != base  # each override names a real config field and moves it off the preset's value
    if variant == "gallery-views":
        assert changed.loss.gallery_views and not base.loss.gallery_views


def test_the_cli_help_names_every_recipe_change():
    from thzface.cli.parser import build_parser

    bench = build_parser()._subparsers._group_actions[0].choices["bench"]  # type: ignore[union-attr]
    arms = next(a for a in bench._actions if "--arms" in a.option_strings)
    assert [v for v in B.RECIPE_VARIANTS if f"ARM+{v}" not in arms.help] == []


def test_spread_is_mean_and_std_over_seeds_skipping_missing():
    mean, std = B.spread([{"idd_eer": 0.2, "steps": 10, "x": None}, {"idd_eer": 0.4, "steps": 30}])
    assert mean == pytest.approx({"idd_eer": 0.3, "steps": 20.0}) and std == pytest.approx(
        {"idd_eer": 0.1, "steps": 10.0}
    )


def test_flatten_reads_the_deployed_operating_point():
    v = {"eer": 0.3, "deployed": {"far": 0.1, "frr": 0.4, "accuracy": 0.75}, "by_posture": {"cross": {"eer": 0.35}}}
    prot = {"verification": v, "baselines": {"pixel_verification": {"eer": 0.45}}}
    rec = {r: {"ssim": 0.5, "psnr": 20.0} for r in ("predicted", "oracle", "copy_input")}
    metrics = {
        "protocols": {
            "identity-disjoint": prot,
            "all": {
                **prot,
                "posture": {"accuracy": 0.9, "macro_f1": 0.8},
                "reconstruction": rec,
                "separability": {"silhouette_identity": 0.0},
            },
        }
    }
    row = B.flatten(metrics)
    assert row["idd_eer"] == 0.3 and row["idd_deployed_far"] == 0.1 and row["idd_deployed_frr"] == 0.4
    assert row["idd_pixel_eer"] == 0.45 and row["cs_eer"] is None and row["posture_acc"] == 0.9
    assert row["idd_cross_posture_eer"] == 0.35 and row["idd_same_posture_eer"] is None  # no same-posture pairs
    assert row["mean_face_head_ssim_clean"] is None  # no mean-face route in these metrics
    rec["mean_face"] = {"clean_ssim": 0.55, "clean_head_ssim": 0.45}
    row = B.flatten(metrics)
    assert (row["mean_face_ssim_clean"], row["mean_face_head_ssim_clean"]) == (0.55, 0.45)


def test_bench_overrides_reach_every_trained_arm_last(monkeypatch, tmp_path):
    # `thzface bench mtl --data D KEY=VALUE…`: each trained arm takes them after its own overrides; bench.json says so
    from argparse import Namespace

    from thzface.bench import arm_overrides, run_bench
    from thzface.bench import distill as D

    seen: dict[str, list[str]] = {}

    def fake(config, data, out, budget_s, seed, extra, init=None):
        seen[out.parent.name] = extra
        return {
            "idd_eer": 0.3,
            "baseline_pixel_idd_eer": 0.5,
            "clean_head_ssim": 0.6,
            "baseline_copy_clean_head_ssim": 0.4,
        }

    monkeypatch.setattr(B, "train_and_eval", fake)
    monkeypatch.setattr("thzface.sim.dataset.resolve_data", lambda d, **k: tmp_path)
    user = ["train.precision=bf16-mixed"]
    args = Namespace(data="D", out=str(tmp_path / "o"), budget_s=1.0, seeds=1, init_from="runs/pre",
                     arms="default,default-pretrained", overrides=user)  # fmt: skip
    res = run_bench("mtl", args)
    assert seen == {"default": user, "default-pretrained": [*B.FINETUNE, *user]} and res["overrides"] == user
    assert arm_overrides(Namespace()) == [] and arm_overrides(Namespace(overrides=None)) == []
    mtl, dist = D.start_dicts(B.find_config("mtl-default"), B.find_config("distill-default"), None, user)
    assert mtl["train"]["precision"] == dist["train"]["precision"] == "bf16-mixed"
