"""``thzface bench infer`` pieces on the tiny model: FLOPs split, one profiled row (its embedding-only ONNX graph
is :mod:`thzface.export.onnx`'s ``verify`` graph, tested in tests/export/test_onnx_verify.py), ratios vs paper,
and the bench.json layout of ``run``."""

from __future__ import annotations

from argparse import Namespace

import pytest
import torch

from thzface.bench import infer
from thzface.models import build_model, flops_per_sample, mtl_preset


def tiny(**kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(mtl_preset("tiny", **{"align": "none", **kw})).eval()


def test_component_flops_split_sums_to_the_forward_and_embedding_is_encoder_plus_head() -> None:
    model = tiny(flip_test=False)
    f = infer.component_flops(model, 32)
    assert f["flops_total"] == flops_per_sample(model) == f["flops_encoder"] + f["flops_heads"] + f["flops_decoder"]
    assert "flops_other" not in f and f["flops_decoder"] > f["flops_heads"] > 0
    # tiny verification head: Linear(64→64) + Linear(64→32) = 2·(64·64 + 64·32) FLOPs per sample
    assert f["flops_embedding"] == f["flops_encoder"] + 2 * (64 * 64 + 64 * 32)
    flip = infer.component_flops(tiny(flip_test=True), 32)  # the flip test embeds the scan and its mirror image
    assert flip["flops_embedding"] == 2 * f["flops_embedding"] and flip["flops_total"] == f["flops_total"]
    aligned = infer.component_flops(tiny(flip_test=False, align="inplane"), 32)  # its aligner: a part of its own
    warp = 2 * 32 * 32 * 2 * 2  # one warp's sampling grid: (H·W, 2) @ (2, 2); the forward warps in and back out,
    other = 2 * warp + 2 * 2 * 2  # the way back's offset -R^T t: (2, 2) @ (2, 1)
    assert aligned["flops_aligner"] > 0 and aligned.get("flops_other") == other
    assert aligned["flops_total"] == f["flops_total"] + aligned["flops_aligner"] + other
    assert aligned["flops_embedding"] == f["flops_embedding"] + aligned["flops_aligner"] + warp


def test_profile_models_rows_peaks_and_ratios() -> None:
    models = {"a": (tiny(), 32, 4, "predicted"), "b": (tiny(stem_stride=2), 32, 4, "soft")}
    rows, peaks = infer.profile_models(models, threads=1, min_s=0.01, rounds=2)
    assert set(rows) == {"a", "b"} and peaks["peak"] > 0
    for row in rows.values():
        for key in infer.KEYS:
            assert row[key] > 0, key
        assert row["onnx_max_abs_diff"] <= 1e-5 and row["train_batch"] == 4
        assert row["embed_share_of_peak"] == pytest.approx(row["embed_gflops_per_s"] / peaks["peak"])
    assert rows["b"]["flops_encoder"] < rows["a"]["flops_encoder"]
    rows = {"paper": dict.fromkeys(infer.RATES, 2.0), "x": dict.fromkeys(infer.RATES, 6.0)}
    assert infer.ratios(rows) == {"x": dict.fromkeys(infer.RATES, 3.0)}


def test_profile_model_leaves_the_weights_unchanged() -> None:
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    infer.train_rate(model, 4, 32, "soft", min_s=0.01)
    infer.train_rate(model, 4, 32, "soft", min_s=0.01, bf16=True)  # under bfloat16 autocast, as bf16-mixed trains
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()) and not model.training


def test_run_writes_one_key_per_model_and_ratio_vs_paper(monkeypatch) -> None:
    models = {name: (tiny(), 32, 4, "predicted") for name in ("default", "paper")}
    monkeypatch.setattr(infer, "models_to_time", lambda run_dir: models)
    monkeypatch.setattr(infer, "matmul_peak_gflops", lambda threads, min_s: {"torch_matmul": 50.0, "peak": 50.0})
    res = infer.run(Namespace(data=None, workers=1, budget_s=1.0, out="unused"))
    assert set(res["default"]) >= set(infer.KEYS) and set(res["paper"]) >= set(infer.KEYS)
    assert set(res["ratio_vs_paper"]) == {"default"} and set(res["ratio_vs_paper"]["default"]) == set(infer.RATES)
    assert res["threads"] == 1 and res["matmul_peak_gflops"]["peak"] == 50.0 and "ratio vs paper" in res["table"]
    assert res["default"]["embed_share_of_peak"] == pytest.approx(res["default"]["embed_gflops_per_s"] / 50.0)


def test_variants_are_valid_overrides_of_the_default_model_config() -> None:
    from dataclasses import replace

    base = mtl_preset("default")
    for name, kw in infer.VARIANTS.items():
        cfg = replace(base, **kw)
        assert cfg != base, name


def test_models_to_time_builds_presets_variants_and_the_run(tiny_run) -> None:
    models = infer.models_to_time(tiny_run)
    assert list(models) == [*infer.PRESETS, *infer.VARIANTS, "run"]
    model, size, batch, route = models["run"]
    assert size == 32 and model.cfg.image_size == 32 and batch > 0 and route in ("predicted", "soft", "oracle")
    assert models["paper"][0].cfg.arch == "paper" and models["paper"][2] == 64
    assert models["lean-s2"][0].cfg.widths == (32, 64, 96, 128) and models["default-s1"][0].cfg.stem_stride == 1
