"""ONNX export: onnxruntime parity with PyTorch on real scans and a dynamic batch, metadata, on-the-fly and stale
re-export, ``predict --backend onnx``, a parity check that fails on wrong weights, bad inputs, and the throughput
bench."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from thzface.bench.onnx import run as bench_run
from thzface.data.io import load_image
from thzface.embedder import SPECS as EMBEDDERS
from thzface.embedder import EmbedderOptions, Predictor, predict
from thzface.engine.checkpoint import WEIGHTS, RunError, save_weights
from thzface.export.onnx import (
    CHECK_TOL,
    OUTPUTS,
    OnnxError,
    check_parity,
    export_onnx,
    new_session,
    open_session,
    run_session,
    session_metadata,
    weights_digest,
)
from thzface.recipes import get_recipe, load_config, load_run


@pytest.fixture(scope="module")
def exported(onnx_run: Path, tmp_path_factory) -> dict:
    """``export_onnx(RUN, EMBEDDERS, OUT, check=True)``'s result, exported once for the module."""
    return export_onnx(onnx_run, EMBEDDERS, tmp_path_factory.mktemp("onnx") / "m.onnx", check=True)


def test_export_check_and_dynamic_batch_match_torch(onnx_run, real_scans, exported):
    res, out = exported, Path(exported["onnx"])
    assert res["onnx"] == str(out) and out.is_file() and res["bytes"] == out.stat().st_size
    assert res["check"]["ok"] and res["check"]["max_abs_diff"] <= CHECK_TOL
    assert res["check"]["posture_agreement"] == 1.0
    proto = onnx.load(str(out))
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param == "batch" and not batch_dim.HasField("dim_value")
    session = new_session(out)
    pred = Predictor(onnx_run)  # torch backend
    for n in (1, 7):  # batch sizes other than the trace's (2)
        x = pred.load(real_scans[:n])  # (n, 1, S, S) real scans
        got, ref = run_session(session, x.numpy()), pred(x)
        for k in OUTPUTS:
            assert got[k].shape == ref[k].shape and got[k].shape[0] == n, k
            assert np.abs(got[k] - ref[k]).max() <= CHECK_TOL, k
        np.testing.assert_allclose(got["posture_probs"].sum(1), 1.0, atol=1e-5)


def test_metadata_records_the_weights(onnx_run, exported):
    meta = session_metadata(new_session(Path(exported["onnx"])))
    cfg, _, _ = load_run(onnx_run)
    assert meta["recipe"] == "mtl" and int(meta["image_size"]) == cfg.data.image_size
    assert meta["weights_sha256"] == weights_digest(onnx_run / "model.safetensors")
    assert json.loads(meta["postures"]) == ["front", "left", "right", "up", "down"]


def test_open_session_exports_when_missing_and_when_stale(run_copy, real_scans, new_weights):
    run = run_copy
    session = open_session(run, EMBEDDERS)
    assert (run / "model.onnx").is_file()
    x = Predictor(run).load(real_scans[:3])  # (3, 1, S, S)
    before = run_session(session, x.numpy())["embedding"]

    new_weights(run)  # the old export is stale
    session = open_session(run, EMBEDDERS)
    assert session_metadata(session)["weights_sha256"] == weights_digest(run / "model.safetensors")
    after = run_session(session, x.numpy())["embedding"]
    assert np.abs(after - Predictor(run)(x)["embedding"]).max() <= CHECK_TOL
    assert np.abs(after - before).max() > 1e-3


def test_predict_backend_onnx_matches_torch(run_copy, real_scans, tmp_path):
    run = run_copy
    files = real_scans[:4]
    res = {}
    for backend in ("torch", "onnx"):
        predict(run, files, tmp_path / backend, EmbedderOptions(backend=backend))
        res[backend] = json.loads((tmp_path / backend / "predictions.json").read_text())
    assert (run / "model.onnx").is_file()
    for a, b in zip(res["torch"], res["onnx"], strict=True):
        assert a["posture"] == b["posture"]
        assert np.abs(np.array(a["embedding"]) - np.array(b["embedding"])).max() <= 1e-4
        ra = load_image(a["reconstruction"], None)
        rb = load_image(b["reconstruction"], None)
        assert np.abs(ra - rb).max() <= 1 / 255 + 1e-6


def test_parity_check_fails_on_other_weights(onnx_run, exported):
    cfg, model, _ = load_run(onnx_run)
    with torch.no_grad():
        model.posture_head.bias.add_(torch.arange(5.0))  # (5,) shifts the posture probabilities
    with pytest.raises(OnnxError, match=r"ONNX check failed: max \|onnxruntime - torch\|"):
        check_parity(model, new_session(Path(exported["onnx"])), 1, cfg.data.image_size)


def test_bad_inputs_and_files(onnx_run, run_copy, exported, tmp_path):
    out = Path(exported["onnx"])
    session = new_session(out)
    size = load_run(onnx_run)[0].data.image_size
    with pytest.raises(
        ValueError, match=rf"run_session: x must be a \(N, 1, {size}, {size}\) array, got \(2, 1, 8, 8\)"
    ):
        run_session(session, np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="non-empty float array"):
        run_session(session, np.zeros((2, 1, size, size), np.uint8))
    (tmp_path / "folder").mkdir()
    with pytest.raises(OnnxError, match="--out is a folder"):
        export_onnx(onnx_run, EMBEDDERS, tmp_path / "folder")
    with pytest.raises(RunError, match="run folder not found"):
        export_onnx(tmp_path / "nope", EMBEDDERS, tmp_path / "x.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(OnnxError, match="junk.onnx: not a loadable ONNX model"):
        new_session(tmp_path / "junk.onnx")
    foreign = run_copy
    proto = onnx.load(str(out))
    del proto.metadata_props[:]
    onnx.save(proto, str(foreign / "model.onnx"))
    with pytest.raises(OnnxError, match="not written by thzface"):
        open_session(foreign, EMBEDDERS)


def test_bench_onnx_reports_both_backends(onnx_run, tmp_path):
    args = argparse.Namespace(data=str(onnx_run), out=str(tmp_path / "bench"), budget_s=0.5, workers=1, seeds=1)
    res = bench_run(args)
    assert (tmp_path / "bench" / "model.onnx").is_file()
    for backend in ("torch", "onnxruntime"):
        assert res["throughput"][backend]["images_per_s_batch1"] > 0
        assert res["throughput"][backend]["images_per_s_batch64"] > 0
    assert res["parity"]["ok"] and "onnxruntime" in res["table"]
    with pytest.raises(ValueError, match="pass the run folder with --data RUN"):
        bench_run(argparse.Namespace(data=None, out=str(tmp_path), budget_s=1))


def test_distill_student_exports_and_teacher_is_refused(repo, tmp_path):
    for stage in ("joint", "teacher"):  # untrained weights suffice: the graph and the parity check are the subject
        cfg = load_config(repo / "configs" / "distill-tiny.yaml", [f"model.stage={stage}"])
        save_weights(get_recipe("distill").model.build_model(cfg).state_dict(), cfg, tmp_path / stage / WEIGHTS)
    res = export_onnx(tmp_path / "joint", EMBEDDERS, check=True)
    assert res["check"]["ok"] and session_metadata(new_session(Path(res["onnx"])))["recipe"] == "distill"
    with pytest.raises(RunError, match="a distill stage=teacher run needs visible images"):
        export_onnx(tmp_path / "teacher", EMBEDDERS)
    with pytest.raises(RunError, match="a distill stage=teacher run needs visible images"):
        Predictor(tmp_path / "teacher")  # predict/verify and serve load with expect=MultiTaskModel
