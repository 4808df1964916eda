"""ONNX export of a run's deployable model (dynamic batch) and the onnxruntime sessions behind
``thzface predict --backend onnx``, ``thzface serve --backend onnx``, ``bench onnx`` and ``bench infer``.

Two graphs (``--task``), both with one input ``image`` (N, C, S, S) float32 in [0, 1]:

* ``all`` (``RUN/model.onnx``): outputs ``embedding`` (N, D), ``posture_probs`` (N, P) and ``reconstruction``
  (N, C_out, S, S); the decoder is routed by the *predicted* posture, exactly as ``predict`` does in PyTorch;
* ``verify`` (``RUN/model-verify.onnx``): the deployed verification path, ``model.embed`` (encoder + embedding
  head) only, one output ``embedding`` (N, D).

The batch axis is dynamic, the spatial size is the run's ``data.image_size`` (inputs are resized to it, as in
:class:`thzface.embedder.Predictor`). The file carries metadata (graph task, recipe, image size,
postures, SHA-256 of the weights it came from) so a stale or other-task export is detected.

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

TASKS: tuple[str, ...] = ("verify", "all")  # the graphs ``thzface export onnx RUN --task`` writes
ONNX_NAMES: dict[str, str] = {"all": "model.onnx", "verify": "model-verify.onnx"}  # default files in a run folder
FORMAT = "thzface-onnx-1"  # metadata marker of files written here (no ``task`` key: an ``all`` graph)
INPUT = "image"
GRAPH_OUTPUTS: dict[str, tuple[str, ...]] = {
    "all": ("embedding", "posture_probs", "reconstruction"),
    "verify": ("embedding",),
}
OUTPUTS = GRAPH_OUTPUTS["all"]
OPSET = 17
CHECK_TOL = 1e-4  # largest |onnxruntime - PyTorch| accepted by the parity check of the ``all`` graph
TOLERANCE: dict[str, float] = {"all": CHECK_TOL, "verify": 1e-5}  # per graph task


class OnnxError(ValueError):
    """An ONNX export is missing, stale, foreign, or disagrees with PyTorch."""


class DeployableHeads(nn.Module):
    """The deployable model as a graph: image (N, C, S, S) → embedding, posture probabilities, reconstruction."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model.infer(x)  # type: ignore[operator]  # forward(route="predicted"), the deployed embedding
        probs = out.posture_logits.softmax(dim=1)  # (N, P)
        return out.embedding, probs, out.reconstruction  # (N, D), (N, P), (N, C, S, S)


class Embedder(nn.Module):
    """The verification graph: image (N, C, S, S) → embedding (N, D) through ``model.embed`` alone (a 1-tuple,
    like :class:`DeployableHeads`' outputs)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.model.embed(x),)  # type: ignore[operator]  # (N, D)


def check_task(task: str) -> str:
    """``task`` when it names a graph of :data:`TASKS`; OnnxError otherwise."""
    if task not in GRAPH_OUTPUTS:
        raise OnnxError(f"ONNX task {task!r} is not one of {list(TASKS)}")
    return task


def graph(model: nn.Module, task: str) -> nn.Module:
    """The module traced for ``task`` (eval mode): :class:`Embedder` for ``verify``, :class:`DeployableHeads` for
    ``all``."""
    return (Embedder if check_task(task) == "verify" else DeployableHeads)(model).eval()


def weights_digest(path: Path) -> str:
    """SHA-256 (hex) of a weights file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_onnx_path(run: Path, task: str = "all") -> Path:
    """``RUN/model.onnx`` (``all``) or ``RUN/model-verify.onnx`` (``verify``); beside a weights file given
    directly, ``<weights>.onnx`` or ``<weights>-verify.onnx``."""
    run, name = Path(run), ONNX_NAMES[check_task(task)]
    return run.with_name(run.stem + name.removeprefix("model")) if run.is_file() else run / name


def sample_inputs(batch: int, channels: int, size: int, seed: int = 0) -> np.ndarray:
    """Seeded check inputs (batch, C, S, S) in [0, 1]: smooth blobs plus noise, like a coarse THz scan."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, channels, 4, 4, generator=g)  # (N, C, 4, 4)
    smooth = nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    noisy = smooth + 0.1 * torch.randn(batch, channels, size, size, generator=g)  # (N, C, S, S)
    return noisy.clamp(0, 1).numpy().astype(np.float32)


def _export_graph(model: nn.Module, channels: int, size: int, path: Path, opset: int, task: str) -> None:
    x = torch.from_numpy(sample_inputs(2, channels, size))  # (2, C, S, S) trace input
    outputs = GRAPH_OUTPUTS[task]
    axes = {name: {0: "batch"} for name in (INPUT, *outputs)}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(
            graph(model, task), (x,), str(path), dynamo=False, input_names=[INPUT], output_names=list(outputs),
            dynamic_axes=axes, opset_version=opset, do_constant_folding=True,
        )  # fmt: skip


def export_model(
    model: nn.Module, channels: int, size: int, out: Path, meta: dict[str, str], task: str = "all", opset: int = OPSET
) -> Path:
    """Export ``model``'s ``task`` graph to ``out`` atomically (temp file, check, metadata incl. ``task``, rename)."""
    check_task(task)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        _export_graph(model, channels, size, Path(tmp), opset, task)
        proto = onnx.load(tmp)
        for k, v in {"format": FORMAT, "task": task, **meta}.items():
            proto.metadata_props.add(key=f"thzface.{k}", value=v)
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def new_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU session for ``path`` (quiet logging; ``threads`` intra-op threads, default ORT's)."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for unreadable models
        raise OnnxError(f"{path}: not a loadable ONNX model ({str(e).splitlines()[0]})") from e


def session_metadata(session: ort.InferenceSession) -> dict[str, str]:
    """The ``thzface.*`` metadata of a session's model, without the prefix."""
    custom = session.get_modelmeta().custom_metadata_map
    return {k.removeprefix("thzface."): v for k, v in custom.items() if k.startswith("thzface.")}


def session_task(session: ort.InferenceSession) -> str:
    """The graph task of a session's model (``all`` for files written before tasks existed)."""
    return session_metadata(session).get("task", "all")


def run_session(session: ort.InferenceSession, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run ``x`` (N, C, S, S) float in [0, 1] → the graph's outputs by name: {"embedding"} for ``verify``,
    {"embedding", "posture_probs", "reconstruction"} for ``all``."""
    shape = session.get_inputs()[0].shape  # ["batch", C, S, S]
    want = f"(N, {shape[1]}, {shape[2]}, {shape[3]})"
    if not isinstance(x, np.ndarray) or x.ndim != 4 or list(x.shape[1:]) != list(shape[1:]):
        got = tuple(x.shape) if isinstance(x, np.ndarray) else type(x).__name__
        raise ValueError(f"run_session: x must be a {want} array, got {got}")
    if x.shape[0] == 0 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"run_session: x must be a non-empty float array, got {x.shape[0]} images of {x.dtype}")
    names = [o.name for o in session.get_outputs()]
    res = session.run(names, {INPUT: np.ascontiguousarray(x, dtype=np.float32)})
    return dict(zip(names, res, strict=True))


@torch.no_grad()
def check_parity(
    model: nn.Module, session: ort.InferenceSession, channels: int, size: int, batches: tuple[int, ...] = (1, 5)
) -> dict:
    """Max |onnxruntime - PyTorch| per output of the session's graph (task from its metadata) on seeded sample
    inputs of each batch size; OnnxError above the task's :data:`TOLERANCE`."""
    task = session_task(session)
    outputs, tol, module = GRAPH_OUTPUTS[task], TOLERANCE[task], graph(model, task)
    diffs = dict.fromkeys(outputs, 0.0)
    agree = 0
    for i, n in enumerate(batches):
        x = sample_inputs(n, channels, size, seed=i)  # (n, C, S, S)
        ref = dict(zip(outputs, (t.numpy() for t in module(torch.from_numpy(x))), strict=True))
        got = run_session(session, x)
        for k in outputs:
            diffs[k] = max(diffs[k], float(np.abs(got[k] - ref[k]).max()))
        if "posture_probs" in outputs:
            agree += int((got["posture_probs"].argmax(1) == ref["posture_probs"].argmax(1)).sum())
    worst = max(diffs.values())
    res = {"task": task, "batches": list(batches), "max_abs_diff": worst, "max_abs_diff_per_output": diffs}
    if "posture_probs" in outputs:
        res["posture_agreement"] = agree / sum(batches)
    res |= {"tolerance": tol, "ok": bool(worst <= tol)}
    if not res["ok"]:
        raise OnnxError(f"ONNX check failed: max |onnxruntime - torch| = {worst:.3g} > {tol:g} ({diffs})")
    return res


def export_onnx(
    run: Path,
    models: tuple[ModelSpec, ...],
    out: Path | None = None,
    check: bool = False,
    opset: int = OPSET,
    task: str = "all",
) -> dict:
    """``thzface export onnx RUN [--task {verify,all}] [--out FILE] [--check]``: write the ``task`` graph (default
    file ``RUN/model.onnx`` for ``all``, ``RUN/model-verify.onnx`` for ``verify``).

    With ``check``, onnxruntime runs seeded sample inputs (batch 1 and 5) and the maximum difference to PyTorch
    is reported; a difference above the task's :data:`TOLERANCE` raises :class:`OnnxError`.
    """
    check_task(task)
    wpath = weights_path(run)
    out = Path(out) if out is not None else default_onnx_path(Path(run), task)
    if out.is_dir():
        raise OnnxError(f"{out}: --out is a folder; give a file name such as {out / ONNX_NAMES[task]}")
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
    export_model(model, channels, size, out, meta, task, opset)
    res: dict = {
        "run": str(run),
        "onnx": str(out),
        "task": task,
        "bytes": out.stat().st_size,
        "opset": opset,
        "input": {INPUT: ["batch", channels, size, size]},
        "outputs": list(GRAPH_OUTPUTS[task]),
        "weights_sha256": meta["weights_sha256"],
    }
    if check:
        res["check"] = check_parity(model, new_session(out), channels, size)
    return res


def open_session(
    run: Path, models: tuple[ModelSpec, ...], threads: int | None = None, task: str = "all", export: bool = True
) -> ort.InferenceSession:
    """The onnxruntime session of the run's ``task`` graph (``RUN/model.onnx`` or ``RUN/model-verify.onnx``);
    exported on the fly when missing, older than the weights, or holding another task's graph; with
    ``export=False`` those are an :class:`OnnxError` that names the command making the file."""
    run = Path(run)
    wpath = weights_path(run)
    path = default_onnx_path(run, task)
    command = f"`thzface export onnx {run} --task {task}`"
    if not path.is_file():
        if not export:
            raise OnnxError(f"{path}: no ONNX export of the run's {task} graph; make it with {command}")
        log.warning("%s: no %s yet; exporting it now (thzface export onnx --task %s)", run, path.name, task)
        export_onnx(run, models, path, task=task)
        return new_session(path, threads)
    session = new_session(path, threads)
    meta = session_metadata(session)
    if meta.get("format") != FORMAT:
        raise OnnxError(f"{path}: not written by thzface (no {FORMAT} metadata); re-run {command}")
    found = session_task(session)
    if meta.get("weights_sha256") != weights_digest(wpath) or found != task:
        why = f"other weights than {wpath.name}" if found == task else f"--task {found}"
        if not export:
            raise OnnxError(f"{path}: exported with {why}; re-run {command}")
        log.warning("%s: exported with %s; re-exporting", path, why)
        export_onnx(run, models, path, task=task)
        session = new_session(path, threads)
    return session
