"""The ``verify`` ONNX graph (``embed()`` only): parity with torch within 1e-5 on real scans and on lean encoder
variants, exactly one output ``embedding``, metadata, on-the-fly / stale / other-task re-export, files written
before tasks existed, ``thzface export onnx RUN --task``, and ``verify`` scores that never run the full model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from thzface.cli import main
from thzface.embedder import SPECS as EMBEDDERS
from thzface.embedder import Predictor, verify
from thzface.export.onnx import (
    OnnxError,
    check_parity,
    default_onnx_path,
    export_model,
    export_onnx,
    new_session,
    open_session,
    run_session,
    session_metadata,
    session_task,
    weights_digest,
)
from thzface.models import build_model, mtl_preset
from thzface.models.multitask import MultiTaskModel

TOL = 1e-5  # the bound on |onnxruntime - torch| for the embedding


@pytest.fixture(scope="module")
def verify_export(onnx_run: Path, tmp_path_factory) -> dict:
    """``export_onnx(RUN, EMBEDDERS, OUT, check=True, task="verify")``'s result, exported once for the module."""
    return export_onnx(onnx_run, EMBEDDERS, tmp_path_factory.mktemp("v") / "v.onnx", check=True, task="verify")


def test_verify_graph_has_one_output_and_matches_torch_embed(onnx_run, real_scans, verify_export, tmp_path):
    res, out = verify_export, Path(verify_export["onnx"])
    assert res["task"] == "verify" and res["outputs"] == ["embedding"]
    assert res["check"]["ok"] and res["check"]["tolerance"] == TOL and res["check"]["max_abs_diff"] <= TOL
    assert "posture_agreement" not in res["check"]
    proto = onnx.load(str(out))
    assert [o.name for o in proto.graph.output] == ["embedding"] and [i.name for i in proto.graph.input] == ["image"]
    for value in (proto.graph.input[0], proto.graph.output[0]):
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    full = export_onnx(onnx_run, EMBEDDERS, tmp_path / "all.onnx")
    assert res["bytes"] < full["bytes"], "the verify graph must leave out the posture head and the decoder"
    session = new_session(out)
    meta = session_metadata(session)
    assert meta["task"] == "verify" and meta["weights_sha256"] == weights_digest(onnx_run / "model.safetensors")
    pred = Predictor(onnx_run)
    for n in (1, 7):  # batch sizes other than the trace's (2)
        x = pred.load(real_scans[:n])  # (n, 1, S, S) real scans
        got = run_session(session, x.numpy())
        assert list(got) == ["embedding"] and got["embedding"].shape == (n, pred.model.cfg.embed_dim)
        with torch.no_grad():
            ref = pred.model.embed(x).numpy()  # (n, D)
        assert np.abs(got["embedding"] - ref).max() <= TOL


@pytest.mark.parametrize("kw", [{}, {"stem_stride": 2, "separable": True, "channels_last": True, "image_size": 64}])
def test_verify_graph_of_lean_encoders_matches_torch(kw: dict, tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model(mtl_preset("tiny", **kw)).eval()
    size = model.cfg.image_size
    session = new_session(export_model(model, 1, size, tmp_path / "e.onnx", {}, task="verify"), threads=1)
    assert [o.name for o in session.get_outputs()] == ["embedding"] and session_task(session) == "verify"
    assert check_parity(model, session, 1, size)["max_abs_diff"] <= TOL
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():  # other weights in the embedding head: the check must fail
        for p in model.verification_head.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    with pytest.raises(OnnxError, match=r"ONNX check failed: max \|onnxruntime - torch\| = .* > 1e-05"):
        check_parity(model, session, 1, size)


def test_open_session_verify_exports_when_missing_stale_or_other_task(run_copy, real_scans, new_weights, tmp_path):
    run = run_copy
    session = open_session(run, EMBEDDERS, task="verify")
    assert (run / "model-verify.onnx").is_file() and not (run / "model.onnx").exists()
    x = Predictor(run).load(real_scans[:3])  # (3, 1, S, S)
    before = run_session(session, x.numpy())["embedding"]

    new_weights(run)
    session = open_session(run, EMBEDDERS, task="verify")
    assert session_metadata(session)["weights_sha256"] == weights_digest(run / "model.safetensors")
    after = run_session(session, x.numpy())["embedding"]
    assert np.abs(after - Predictor(run).embed(x)).max() <= TOL
    assert np.abs(after - before).max() > 1e-3

    export_onnx(run, EMBEDDERS, run / "model-verify.onnx", task="all")  # the other task's graph in the way
    session = open_session(run, EMBEDDERS, task="verify")
    assert session_task(session) == "verify" and [o.name for o in session.get_outputs()] == ["embedding"]

    proto = onnx.load(str(run / "model-verify.onnx"))
    del proto.metadata_props[:]
    onnx.save(proto, str(run / "model-verify.onnx"))
    with pytest.raises(OnnxError, match=r"not written by thzface .*--task verify"):
        open_session(run, EMBEDDERS, task="verify")
    with pytest.raises(OnnxError, match=r"ONNX task 'embed' is not one of \['verify', 'all'\]"):
        export_onnx(run, EMBEDDERS, tmp_path / "x.onnx", task="embed")


def test_an_export_without_task_metadata_is_an_all_graph(run_copy):
    """Files written before ``--task`` existed stay valid ``all`` graphs: no re-export."""
    run = run_copy
    export_onnx(run, EMBEDDERS)
    proto = onnx.load(str(run / "model.onnx"))
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key != "thzface.task"]
    del proto.metadata_props[:]
    for k, v in keep:
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, str(run / "model.onnx"))
    stamp = (run / "model.onnx").stat().st_mtime_ns
    session = open_session(run, EMBEDDERS)
    assert session_task(session) == "all" and "task" not in session_metadata(session)
    assert (run / "model.onnx").stat().st_mtime_ns == stamp


def test_cli_export_onnx_task_verify_and_bad_task(run_copy, capsys):
    run = run_copy
    assert main(["export", "onnx", str(run), "--task", "verify", "--check"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["onnx"] == str(run / "model-verify.onnx") and (run / "model-verify.onnx").is_file()
    assert res["outputs"] == ["embedding"] and res["check"]["max_abs_diff"] <= TOL
    assert not (run / "model.onnx").exists()
    with pytest.raises(SystemExit) as e:
        main(["export", "onnx", str(run), "--task", "bogus"])
    assert e.value.code == 2
    assert "argument --task: invalid choice: 'bogus' (choose from" in capsys.readouterr().err


def test_verify_runs_embed_only_and_onnx_matches_torch(run_copy, real_scans, monkeypatch):
    run = run_copy
    a, b = real_scans[:2]

    def full_forward(*args, **kwargs):
        raise AssertionError("verify ran the whole model for an embedding")

    monkeypatch.setattr(MultiTaskModel, "forward", full_forward)
    export_onnx(run, EMBEDDERS, task="verify")
    res = {be: verify(run, a, b, threshold=0.5, backend=be) for be in ("torch", "onnx")}
    assert not (run / "model.onnx").exists()
    assert abs(res["onnx"]["score"] - res["torch"]["score"]) <= TOL
    assert res["onnx"]["same_person"] == res["torch"]["same_person"]
    pred = Predictor(run)
    e = pred.embed(pred.load([a, b]))  # (2, D)
    cos = float(e[0] @ e[1] / (np.linalg.norm(e[0]) * np.linalg.norm(e[1])))
    assert res["torch"]["score"] == pytest.approx(cos, abs=1e-6)


def test_default_paths_per_task(tmp_path):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"")
    assert default_onnx_path(tmp_path, "all") == tmp_path / "model.onnx"
    assert default_onnx_path(tmp_path, "verify") == tmp_path / "model-verify.onnx"
    assert default_onnx_path(weights, "all") == tmp_path / "w.onnx"
    assert default_onnx_path(weights, "verify") == tmp_path / "w-verify.onnx"


def test_cli_verify_backend_onnx_agrees_with_torch_and_needs_the_export(run_copy, real_scans, new_weights, capsys):
    """``thzface verify --backend onnx`` runs RUN/model-verify.onnx and never writes it: a missing or stale export is
    a one-line error naming the file and the command that makes it; with the export, both backends decide alike."""
    run, (a, b) = run_copy, real_scans[:2]
    argv = ["verify", str(run), str(a), str(b), "--threshold", "0.5"]
    assert main([*argv, "--backend", "onnx"]) == 2
    err = capsys.readouterr().err.strip()
    want = f"`thzface export onnx {run} --task verify`"
    path = run / "model-verify.onnx"
    assert err == f"thzface: error: {path}: no ONNX export of the run's verify graph; make it with {want}"
    assert not (run / "model-verify.onnx").exists()
    assert main(["export", "onnx", str(run), "--task", "verify"]) == 0
    capsys.readouterr()
    res = {}
    for backend in ("torch", "onnx"):
        assert main([*argv, "--backend", backend]) == 0
        res[backend] = json.loads(capsys.readouterr().out)
    assert abs(res["onnx"]["score"] - res["torch"]["score"]) <= TOL
    assert res["onnx"]["same_person"] == res["torch"]["same_person"] and res["onnx"]["threshold"] == 0.5
    new_weights(run)
    assert main([*argv, "--backend", "onnx"]) == 2
    err = capsys.readouterr().err
    assert "exported with other weights than model.safetensors; re-run" in err and want in err
