"""Embedding-only ONNX graph of a multi-task model for the speed benchmark: export ``model.embed`` with
``torch.onnx`` (batch axis dynamic), open it in onnxruntime with a fixed thread count, check it against torch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

INPUT, OUTPUT = "thz", "embedding"


class Embedder(nn.Module):
    """``model.embed`` as a module's forward (what torch.onnx traces): (B, C, H, W) → (B, D)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embed(x)  # type: ignore[operator]  # (B, D)


def export_embedding(model: nn.Module, channels: int, size: int, path: Path, opset: int = 17) -> Path:
    """Write the embedding-only graph of ``model`` (eval mode) to ``path``; input ``thz``, output ``embedding``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    x = torch.rand(2, channels, size, size, generator=torch.Generator().manual_seed(0))  # (2, C, S, S)
    axes = {INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(
            Embedder(model), (x,), str(path), dynamo=False, input_names=[INPUT], output_names=[OUTPUT],
            dynamic_axes=axes, opset_version=opset, do_constant_folding=True,
        )  # fmt: skip
    return path


def embedding_session(path: Path, threads: int) -> ort.InferenceSession:
    """A CPU onnxruntime session with ``threads`` intra-op threads and one inter-op thread."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def embed_onnx(session: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
    """Embeddings (N, D) of a float32 batch (N, C, H, W)."""
    return session.run([OUTPUT], {INPUT: x})[0]


def max_abs_diff(model: nn.Module, session: ort.InferenceSession, channels: int, size: int, batch: int = 4) -> float:
    """Largest |onnxruntime − torch| over the embeddings of a seeded random batch (model in eval mode)."""
    x = torch.rand(batch, channels, size, size, generator=torch.Generator().manual_seed(1))  # (N, C, S, S)
    model.eval()
    with torch.no_grad():
        ref = model.embed(x).numpy()  # type: ignore[operator]  # (N, D)
    return float(np.abs(embed_onnx(session, x.numpy()) - ref).max())
