"""ONNX export of a run's deployable model (embedding + posture probabilities + reconstruction, dynamic batch)
and the onnxruntime session behind ``thzface predict --backend onnx``, ``thzface serve`` and ``bench onnx``.

The graph has one input ``image`` (N, C, S, S) float32 in [0, 1] and three outputs ``embedding`` (N, D),
``posture_probs`` (N, P) and ``reconstruction`` (N, C_out, S, S); the batch axis is dynamic, the spatial size is
the run's ``data.image_size`` (inputs are resized to it, as in :class:`thzface.recipes.mtl.predict.Predictor`).
The decoder is routed by the *predicted* posture, exactly as ``predict`` does in PyTorch. The file carries
metadata (recipe, image size, postures, SHA-256 of the weights it came from) so a stale export is detected.

The exporter is PyTorch's TorchScript-based one (``dynamo=False``): the torch.export-based default needs the
``onnxscript`` package, which thzface does not depend on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from thzface.data.naming import POSTURES
from thzface.engine.checkpoint import ModelSpec, load_run, weights_path
from thzface.models.multitask import MultiTaskModel

log = logging.getLogger(__name__)

ONNX_NAME = "model.onnx"  # default file name inside a run folder
FORMAT = "thzface-onnx-1"  # metadata marker of files written here
INPUT = "image"
OUTPUTS: tuple[str, ...] = ("embedding", "posture_probs", "reconstruction")
OPSET = 17
CHECK_TOL = 1e-4  # largest |onnxruntime - PyTorch| accepted by the parity check


class OnnxError(ValueError):
    """An ONNX export is missing, stale, foreign, or disagrees with PyTorch."""


class DeployableHeads(nn.Module):
    """The deployable model as a graph: image (N, C, S, S) → embedding, posture probabilities, reconstruction."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model(x, route="predicted")
        probs = out.posture_logits.softmax(dim=1)  # (N, P)
        return out.embedding, probs, out.reconstruction  # (N, D), (N, P), (N, C, S, S)


def weights_digest(path: Path) -> str:
    """SHA-256 (hex) of a weights file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_onnx_path(run: Path) -> Path:
    """``RUN/model.onnx``, or ``<weights>.onnx`` beside a weights file given directly."""
    run = Path(run)
    return run.with_suffix(".onnx") if run.is_file() else run / ONNX_NAME


def sample_inputs(batch: int, channels: int, size: int, seed: int = 0) -> np.ndarray:
    """Seeded check inputs (batch, C, S, S) in [0, 1]: smooth blobs plus noise, like a coarse THz scan."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, channels, 4, 4, generator=g)  # (N, C, 4, 4)
    smooth = nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    noisy = smooth + 0.1 * torch.randn(batch, channels, size, size, generator=g)  # (N, C, S, S)
    return noisy.clamp(0, 1).numpy().astype(np.float32)


def _export_graph(model: nn.Module, channels: int, size: int, path: Path, opset: int) -> None:
    heads = DeployableHeads(model).eval()
    x = torch.from_numpy(sample_inputs(2, channels, size))  # (2, C, S, S) trace input
    axes = {name: {0: "batch"} for name in (INPUT, *OUTPUTS)}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(
            heads, (x,), str(path), dynamo=False, input_names=[INPUT], output_names=list(OUTPUTS),
            dynamic_axes=axes, opset_version=opset, do_constant_folding=True,
        )  # fmt: skip


def export_model(model: nn.Module, channels: int, size: int, out: Path, meta: dict[str, str], opset: int) -> None:
    """Export ``model`` to ``out`` atomically (temp file, check, metadata, rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        _export_graph(model, channels, size, Path(tmp), opset)
        proto = onnx.load(tmp)
        for k, v in {"format": FORMAT, **meta}.items():
            proto.metadata_props.add(key=f"thzface.{k}", value=v)
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU session for ``path`` (quiet logging; ``threads`` intra-op threads, default ORT's)."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for unreadable models
        raise OnnxError(f"{path}: not a loadable ONNX model ({str(e).splitlines()[0]})") from e


def session_metadata(session: ort.InferenceSession) -> dict[str, str]:
    """The ``thzface.*`` metadata of a session's model, without the prefix."""
    custom = session.get_modelmeta().custom_metadata_map
    return {k.removeprefix("thzface."): v for k, v in custom.items() if k.startswith("thzface.")}


def run_session(session: ort.InferenceSession, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run ``x`` (N, C, S, S) float in [0, 1] → {"embedding", "posture_probs", "reconstruction"} arrays."""
    shape = session.get_inputs()[0].shape  # ["batch", C, S, S]
    want = f"(N, {shape[1]}, {shape[2]}, {shape[3]})"
    if not isinstance(x, np.ndarray) or x.ndim != 4 or list(x.shape[1:]) != list(shape[1:]):
        got = tuple(x.shape) if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"run_session: x must be a {want} array, got {got}")
    if x.shape[0] == 0 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"run_session: x must be a non-empty float array, got {x.shape[0]} images of {x.dtype}")
    res = session.run(list(OUTPUTS), {INPUT: np.ascontiguousarray(x, dtype=np.float32)})
    return dict(zip(OUTPUTS, res, strict=True))


@torch.no_grad()
def check_parity(
    model: nn.Module, session: ort.InferenceSession, channels: int, size: int, batches: tuple[int, ...] = (1, 5)
) -> dict:
    """Max |onnxruntime - PyTorch| per output on seeded sample inputs of each batch size; OnnxError above CHECK_TOL."""
    heads = DeployableHeads(model).eval()
    diffs = dict.fromkeys(OUTPUTS, 0.0)
    agree = 0
    for i, n in enumerate(batches):
        x = sample_inputs(n, channels, size, seed=i)  # (n, C, S, S)
        ref = dict(zip(OUTPUTS, (t.numpy() for t in heads(torch.from_numpy(x))), strict=True))
        got = run_session(session, x)
        for k in OUTPUTS:
            diffs[k] = max(diffs[k], float(np.abs(got[k] - ref[k]).max()))
        agree += int((got["posture_probs"].argmax(1) == ref["posture_probs"].argmax(1)).sum())
    worst = max(diffs.values())
    res = {
        "batches": list(batches),
        "max_abs_diff": worst,
        "max_abs_diff_per_output": diffs,
        "posture_agreement": agree / sum(batches),
        "tolerance": CHECK_TOL,
        "ok": bool(worst <= CHECK_TOL),
    }
    if not res["ok"]:
        raise OnnxError(f"ONNX check failed: max |onnxruntime - torch| = {worst:.3g} > {CHECK_TOL:g} ({diffs})")
    return res


def export_onnx(
    run: Path, models: tuple[ModelSpec, ...], out: Path | None = None, check: bool = False, opset: int = OPSET
) -> dict:
    """``thzface export onnx RUN [--out FILE] [--check]``: write the ONNX model (default ``RUN/model.onnx``).

    With ``check``, onnxruntime runs seeded sample inputs (batch 1 and 5) and the maximum difference to PyTorch
    is reported; a difference above ``CHECK_TOL`` raises :class:`OnnxError`.
    """
    wpath = weights_path(run)
    out = Path(out) if out is not None else default_onnx_path(Path(run))
    if out.is_dir():
        raise OnnxError(f"{out}: --out is a folder; give a file name such as {out / ONNX_NAME}")
    cfg, model, extra = load_run(Path(run), models, expect=MultiTaskModel)
    channels, size = int(cfg.model.in_channels), int(cfg.data.image_size)
    meta = {
        "recipe": cfg.recipe,
        "preset": cfg.preset,
        "image_size": str(size),
        "in_channels": str(channels),
        "postures": json.dumps(list(POSTURES)),
        "weights_sha256": weights_digest(wpath),
        "torch": torch.__version__,
    }
    export_model(model, channels, size, out, meta, opset)
    res: dict = {
        "run": str(run),
        "onnx": str(out),
        "bytes": out.stat().st_size,
        "opset": opset,
        "input": {INPUT: ["batch", channels, size, size]},
        "outputs": list(OUTPUTS),
        "weights_sha256": meta["weights_sha256"],
    }
    if check:
        res["check"] = check_parity(model, new_session(out), channels, size)
    return res


def open_session(run: Path, models: tuple[ModelSpec, ...], threads: int | None = None) -> ort.InferenceSession:
    """The onnxruntime session of ``RUN/model.onnx``; exported on the fly when missing or older than the weights."""
    run = Path(run)
    wpath = weights_path(run)
    path = default_onnx_path(run)
    if not path.is_file():
        log.warning("%s: no %s yet; exporting it now (thzface export onnx)", run, path.name)
        export_onnx(run, models, path)
        return new_session(path, threads)
    session = new_session(path, threads)
    meta = session_metadata(session)
    if meta.get("format") != FORMAT:
        raise OnnxError(f"{path}: not written by thzface (no {FORMAT} metadata); re-run `thzface export onnx {run}`")
    if meta.get("weights_sha256") != weights_digest(wpath):
        log.warning("%s: exported from other weights than %s; re-exporting", path, wpath.name)
        export_onnx(run, models, path)
        session = new_session(path, threads)
    return session
