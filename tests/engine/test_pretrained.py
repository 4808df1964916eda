"""The weights shipped in the package: present, small, of the mtl-default architecture, usable by --init-from."""

from __future__ import annotations

from dataclasses import replace

from thzface.engine.checkpoint import PRETRAINED_DIR, pretrained_names, read_metadata
from thzface.engine.train import init_from
from thzface.recipes import find_config, load_config
from thzface.recipes.mtl.task import build_task


def test_mtl_default_weights_are_shipped_small_and_fit_the_default_model():
    assert "mtl-default" in pretrained_names()
    path = PRETRAINED_DIR / "mtl-default.safetensors"
    assert path.stat().st_size <= 10 * 2**20  # issue 16: ≤ 10 MB
    meta = read_metadata(path)
    assert meta["recipe"] == "mtl" and meta["config"]["preset"] == "pretrain"  # configs/mtl-pretrain.yaml made it
    task = build_task(load_config(find_config("mtl-default")))
    copied = init_from(task, "pretrained:mtl-default")
    assert copied["copied"] == copied["of"] and copied["skipped"] == []  # every tensor of the default model


def test_lean_weights_fit_the_lean_preset_which_is_default_with_a_stride_2_stem_and_one_view():
    assert "mtl-lean-s2" in pretrained_names()
    path = PRETRAINED_DIR / "mtl-lean-s2.safetensors"
    assert path.stat().st_size <= 10 * 2**20
    meta = read_metadata(path)
    assert meta["config"]["model"]["stem_stride"] == 2 and meta["config"]["preset"] == "pretrain"
    lean, default = load_config(find_config("mtl-lean-s2")), load_config(find_config("mtl-default"))
    assert (lean.model.stem_stride, lean.model.channels_last, lean.model.flip_test) == (2, True, False)
    # the trunk aside: its shipped weights were pretrained attention-pooled over four stages (the default flattens
    # three stages since the eighth session), one view, without the in-plane aligner (the default's since the ninth)
    assert replace(lean.model, channels_last=False, flip_test=True, pool="flatten", widths=(48, 96, 128),
                   decoder_widths=(64, 32, 16), align="inplane") == default.model  # fmt: skip
    assert (lean.train, lean.loss, lean.data, lean.aug) == (default.train, default.loss, default.data, default.aug)
    copied = init_from(build_task(lean), "pretrained:mtl-lean-s2")
    assert copied["copied"] == copied["of"] and copied["skipped"] == []


def test_the_lean_bench_variant_is_the_lean_preset():
    from thzface.bench.infer import VARIANTS

    lean, default = load_config(find_config("mtl-lean-s2")), load_config(find_config("mtl-default"))
    assert replace(default.model, **VARIANTS["lean-s2"]) == lean.model  # so lean-s2-pretrained fits its weights


def test_inpaint_weights_are_shipped_small_and_fit_the_default_inpainting_model():
    from thzface.recipes.inpaint.task import build_task as build_inpaint

    assert "inpaint-default" in pretrained_names()
    path = PRETRAINED_DIR / "inpaint-default.safetensors"
    assert path.stat().st_size <= 10 * 2**20
    meta = read_metadata(path)
    assert meta["recipe"] == "inpaint" and meta["config"]["preset"] == "default"
    assert meta["config"]["data"]["train_csv"] == "all.csv"  # the pretraining world's every capture
    task = build_inpaint(load_config(find_config("inpaint-default")))
    copied = init_from(task, "pretrained:inpaint-default")
    assert copied["copied"] == copied["of"] and copied["skipped"] == []  # the eigenface prior too (fitted, kept)
    assert bool(task.model.prior.fitted)
