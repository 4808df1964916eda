"""Embedder runs at inference: :class:`Predictor` (torch or ONNX), ``thzface predict`` (posture, embedding,
reconstruction) and ``verify``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

import numpy as np
import torch

from thzface.config import Config, atomic_write_text
from thzface.data.inputs import expand_inputs
from thzface.data.io import load_image, save_png_atomic
from thzface.data.naming import POSTURES
from thzface.engine.infer import decide, predict_files
from thzface.engine.recipe import PredictOptions
from thzface.engine.run import Run
from thzface.metrics.pairs import fuse
from thzface.models.distill_spec import DISTILL
from thzface.models.mtl_spec import MTL
from thzface.models.multitask import MultiTaskModel
from thzface.models.spec import ModelSpec

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

SPECS: tuple[ModelSpec, ...] = (MTL, DISTILL)  # runs whose deployable model embeds one THz scan (Recipe.embedder)


def open_embedder(source: str | Path, map_location: str = "cpu") -> tuple[Run, Config, MultiTaskModel]:
    """A run folder, weights file or ``pretrained:NAME`` of an embedder recipe: ``(run, cfg, model in eval mode)``;
    RunError for another recipe or a distill ``stage: teacher`` run (it needs visible images)."""
    run = Run(source)
    cfg, model, _ = run.load(SPECS, map_location, expect=MultiTaskModel)
    return run, cfg, cast(MultiTaskModel, model)


class Predictor:
    """A loaded embedder run (torch or ONNX backend) that maps images to posture, embedding, reconstruction
    (``__call__``) or to the verification embedding alone (``embed``: ``model.embed`` in torch, the ``verify``
    graph ``RUN/model-verify.onnx`` in onnxruntime).

    ``tasks``: the ONNX graphs opened up front; any other is opened on first use. ``export``: write a missing or
    stale graph on the fly (else an error that names the export command). ``threads``: onnxruntime intra-op
    threads (None: onnxruntime's default; torch's are set process-wide with ``torch.set_num_threads``).
    """

    def __init__(
        self,
        run: str | Path,
        backend: str = "torch",
        tasks: tuple[str, ...] = ("all",),
        export: bool = True,
        threads: int | None = None,
    ):
        if backend not in ("torch", "onnx"):
            raise ValueError(f"backend {backend!r}: must be torch or onnx")
        self.info, self.cfg, self.model = open_embedder(run)  # the run folder, read once
        self.run, self.extra = Path(run), self.info.extra
        self.size = self.cfg.data.image_size
        self.backend, self.export, self.threads = backend, export, threads
        self.sessions: dict[str, InferenceSession] = {}
        for task in tasks if backend == "onnx" else ():
            self.session(task)

    def session(self, task: str) -> InferenceSession:
        """The onnxruntime session of the run's ``task`` graph (see :func:`thzface.export.onnx.open_session`)."""
        if task not in self.sessions:
            from thzface.export.onnx import open_session

            self.sessions[task] = open_session(self.run, SPECS, self.threads, task, export=self.export)
        return self.sessions[task]

    def load(self, paths: list[Path]) -> torch.Tensor:
        return torch.from_numpy(np.stack([load_image(p, self.size, 1) for p in paths]))  # (N, 1, S, S)

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> np.ndarray:
        """Verification embeddings (N, D) of images (N, C, S, S): encoder + embedding head, nothing else."""
        if self.backend == "onnx":
            from thzface.export.onnx import run_session

            return run_session(self.session("verify"), x.numpy())["embedding"]
        return self.model.embed(x).numpy()  # (N, D)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        if self.backend == "onnx":
            from thzface.export.onnx import run_session

            return run_session(self.session("all"), x.numpy())
        out = self.model.infer(x)
        return {
            "embedding": out.embedding.numpy(),
            "posture_probs": out.posture_logits.softmax(1).numpy(),
            "reconstruction": out.reconstruction.numpy(),
        }


@dataclass(frozen=True)
class EmbedderOptions(PredictOptions):
    """``thzface predict`` options of an embedder run."""

    task: str = "all"  # all | verify (the verification embedding alone, encoder + embedding head)
    BACKENDS: ClassVar[tuple[str, ...]] = ("torch", "onnx")


def predict(run: Path, inputs: list[Path], out: Path, opts: EmbedderOptions) -> dict:
    """Write ``OUT/<stem>_recon.png`` per image and ``OUT/predictions.json`` (posture, probability, embedding);
    ``opts.task == "verify"``: ``OUT/embeddings.json`` only, from the embedding path (no posture, no decoder)."""
    if opts.task not in ("all", "verify"):
        raise ValueError(f"--task {opts.task!r}: must be all or verify")
    pred = Predictor(run, opts.backend, tasks=(opts.task,))
    batch_size = opts.batch_size
    files = expand_inputs(inputs)
    out.mkdir(parents=True, exist_ok=True)
    if opts.task == "verify":
        rows = predict_files(files, batch_size, lambda chunk: {"embedding": pred.embed(pred.load(chunk))})
        embeddings = [{"image": str(f), "embedding": [round(float(v), 6) for v in r["embedding"]]} for f, r in rows]
        atomic_write_text(out / "embeddings.json", json.dumps(embeddings, indent=1))
        return {"images": len(embeddings), "out": str(out), "embeddings": str(out / "embeddings.json")}
    records = []
    for f, res in predict_files(files, batch_size, lambda chunk: pred(pred.load(chunk))):
        probs = res["posture_probs"]
        recon = out / f"{f.stem}_recon.png"
        save_png_atomic(res["reconstruction"], recon)
        records.append(
            {
                "image": str(f),
                "posture": POSTURES[int(probs.argmax())],
                "probability": float(probs.max()),
                "probabilities": {p: float(v) for p, v in zip(POSTURES, probs, strict=True)},
                "embedding": [round(float(v), 6) for v in res["embedding"]],
                "reconstruction": str(recon),
            }
        )
    atomic_write_text(out / "predictions.json", json.dumps(records, indent=1))
    return {
        "images": len(records),
        "out": str(out),
        "predictions": str(out / "predictions.json"),
        "postures": {r["image"]: f"{r['posture']} ({r['probability']:.2f})" for r in records},
    }


def verify(
    run: Path,
    a: Path,
    b: Path,
    threshold: float | None = None,
    *,
    backend: str = "torch",
) -> dict:
    """Cosine score of two scans (embeddings only, see :meth:`Predictor.embed`) and the decision at ``threshold``
    (default: the run's threshold, fit on validation identities in training). ``backend="onnx"`` runs the run's
    export ``RUN/model-verify.onnx`` and never writes one: missing or stale, it is an error naming the command."""
    pred = Predictor(run, backend, tasks=("verify",), export=False)
    e = pred.embed(pred.load([a, b]))  # (2, D)
    return decide(pred.info, a, b, e[0], e[1], threshold)


def verify_sets(
    run: Path, a: list[Path], b: list[Path], threshold: float | None = None, *, backend: str = "torch"
) -> dict:
    """Several scans per side (a portal pass, an enrolment): each side's embeddings fused into one (the unit mean of
    the unit embeddings, :func:`thzface.metrics.pairs.fuse`), then scored and decided as one pair at ``threshold``
    (default: the run's). One scan a side gives exactly :func:`verify`'s score."""
    if not a or not b:
        raise ValueError("verify: each side needs at least one scan")
    pred = Predictor(run, backend, tasks=("verify",), export=False)
    e = pred.embed(pred.load([*a, *b]))  # (len(a) + len(b), D)
    res = decide(pred.info, a[0], b[0], fuse(e[: len(a)]), fuse(e[len(a) :]), threshold)
    res.update(a=[str(p) for p in a], b=[str(p) for p in b], scans=[len(a), len(b)], fusion="mean")
    return res
