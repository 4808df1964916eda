"""``thzface serve RUN``: a local FastAPI web app (page at ``/``) and JSON API for posture, reconstruction and
verification of uploaded THz scans.

API (multipart/form-data uploads; every error answers ``{"error": "<one line>"}`` with a 4xx status):

* ``GET /api/info`` → run, image size, postures, threshold, upload limits, sample names;
* ``POST /api/analyze`` with field ``image`` → posture, probabilities, embedding norm, input and reconstruction
  as base64 PNG;
* ``POST /api/verify`` with fields ``a`` and ``b`` → cosine score, threshold (``RUN/threshold.json``, fit
  on validation identities during training) and decision; each field may repeat (up to ``max_scans_per_side``
  files a side: a portal pass, an enrolment), the side's embeddings then fused into one (their unit mean,
  :func:`thzface.metrics.pairs.fuse`); it computes the embeddings alone (``embed()``, or
  the ``verify`` ONNX graph ``RUN/model-verify.onnx`` with ``--backend onnx``), no posture or reconstruction;
  the pairs of concurrent requests are embedded together, up to ``--batch N`` images a call (default
  :data:`BATCH`; 1: each request alone; :mod:`thzface.serve.batching`);
* ``GET /api/samples/<name>`` → one of the offered sample scans.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from pathlib import Path

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from thzface.data.naming import POSTURES
from thzface.embedder import Predictor
from thzface.metrics.pairs import fuse
from thzface.serve.batching import MicroBatcher
from thzface.serve.images import Decoded, UploadError, UploadLimits, decode_upload, human_bytes, png_base64
from thzface.serve.samples import find_samples

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
BATCH = 16  # default ``--batch``: most images per /api/verify embedding call (docs/benchmarks.md, Service)
THREADS = 1  # default ``--threads`` of the model: the HTTP event loop keeps the other core; two torch threads
# stalled for ~0.5 s at times on the shared 2-core machine (docs/benchmarks.md, Service)


class BodyLimit:
    """ASGI middleware: refuse request bodies above ``max_bytes`` (by Content-Length, or while streaming)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def message(self) -> str:
        return f"request body larger than {human_bytes(self.max_bytes)} (send fewer or smaller images)"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            response = JSONResponse({"error": self.message()}, status_code=413)
            return await response(scope, receive, send)
        total = 0

        async def counted():
            nonlocal total
            msg = await receive()
            total += len(msg.get("body", b""))
            if total > self.max_bytes:
                raise HTTPException(413, self.message())
            return msg

        await self.app(scope, counted, send)


class Analyzer:
    """A loaded run behind a lock: decoded scans → posture, embedding, reconstruction; pairs → verification."""

    def __init__(self, run: Path, backend: str = "torch", threads: int | None = None) -> None:
        self.run = Path(run)
        tasks = ("all", "verify")  # ONNX graphs opened up front
        self.predictor = Predictor(self.run, backend, tasks=tasks, threads=threads)
        self.size = int(self.predictor.size)
        self.channels = int(self.predictor.cfg.model.in_channels)
        self.lock = threading.Lock()

    def infer(self, images: list[np.ndarray]) -> dict[str, np.ndarray]:
        x = torch.from_numpy(np.stack(images))  # (N, C, S, S)
        with self.lock:
            return self.predictor(x)

    def embed(self, images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images)  # (N, C, S, S)
        with self.lock:
            return self.predictor.embed(x)  # (N, D)

    def analyze(self, d: Decoded) -> dict:
        res = self.infer([d.array])
        probs, emb = res["posture_probs"][0], res["embedding"][0]  # (P,), (D,)
        return {
            "posture": POSTURES[int(probs.argmax())],
            "probability": float(probs.max()),
            "probabilities": {p: float(v) for p, v in zip(POSTURES, probs, strict=True)},
            "embedding_norm": float(np.linalg.norm(emb)),
            "embedding_dim": int(emb.shape[0]),
            "input_png": png_base64(d.array),
            "reconstruction_png": png_base64(res["reconstruction"][0]),
            "image_size": self.size,
            "original_size": list(d.original_size),
            "cropped": d.cropped,
        }

    def threshold(self) -> tuple[float | None, str | None]:
        """The run's decision threshold and where it came from; (None, why) when there is no usable one."""
        thr = self.predictor.info.threshold
        if thr is None:
            return None, None
        if not np.isfinite(thr):  # eval found no operating point (e.g. an untrained model)
            return None, f"RUN/threshold.json holds {thr}: validation found no usable operating point"
        where = "RUN/threshold.json" if self.predictor.info.folder is not None else "the weights' metadata"
        return thr, f"{where} ({self.predictor.info.threshold_source})"

    def verify(self, a: Decoded, b: Decoded) -> dict:
        return self.compare(self.embed(np.stack([a.array, b.array])))  # (2, D)

    def compare_sides(self, e: np.ndarray, n_a: int) -> dict:
        """Score and decision of two sides' embeddings ``e`` (n_a + n_b, D), each side fused into one."""
        return {**self.compare(np.stack([fuse(e[:n_a]), fuse(e[n_a:])])), "scans": [n_a, len(e) - n_a]}  # (2, D)

    def compare(self, e: np.ndarray) -> dict:
        """Score and decision of a pair's embeddings ``e`` (2, D)."""
        score = float(e[0] @ e[1] / (np.linalg.norm(e[0]) * np.linalg.norm(e[1]) + 1e-12))
        thr, source = self.threshold()
        same = None if thr is None else bool(score >= thr)
        if same is not None:
            decision = "same person" if same else "different people"
        elif source is not None:
            decision = f"no decision: {source}"
        else:
            decision = "no threshold: the run has no RUN/threshold.json (training fits it on validation identities)"
        return {"score": score, "threshold": thr, "threshold_source": source, "same_person": same, "decision": decision}


async def read_uploads(
    request: Request, fields: tuple[str, ...], limits: UploadLimits, per_field: int = 1
) -> list[list[tuple[str, bytes]]]:
    """The named file fields of a multipart request, each as up to ``per_field`` (filename, bytes); UploadError when
    one is missing or repeats more often."""
    most = len(fields) * per_field
    form = await request.form(max_files=most, max_fields=most + 4)
    out = []
    for f in fields:
        items = form.getlist(f)
        if not items:
            raise UploadError(f"missing form field {f!r}: send the scan as multipart/form-data field {f!r}", 400)
        if len(items) > per_field:
            raise UploadError(f"form field {f!r}: {len(items)} files, at most {per_field}", 400)
        files = []
        for item in items:
            if not isinstance(item, UploadFile):
                raise UploadError(f"form field {f!r} must be a file upload, not text", 400)
            name, data = item.filename or f, await item.read(limits.max_bytes + 1)
            size = item.size if item.size is not None else len(data)
            if size > limits.max_bytes:
                limit = human_bytes(limits.max_bytes)
                raise UploadError(f"{name}: file is {human_bytes(size)}, the limit is {limit}", 413)
            files.append((name, data))
        out.append(files)
    return out


def create_app(
    run: Path,
    backend: str = "torch",
    samples: Path | None = None,
    limits: UploadLimits | None = None,
    batch: int = BATCH,
    threads: int | None = None,
) -> FastAPI:
    """The web app for ``run`` (weights loaded once); ``samples``: dataset folder whose scans the page offers;
    ``batch``: most images per embedding call of ``/api/verify`` (1: each request alone, > 1: concurrent requests
    together); ``threads``: onnxruntime's intra-op threads (torch's are process-wide, set by :func:`serve`)."""
    if batch < 1:
        raise ValueError(f"--batch {batch}: must be >= 1 (1 = no batching)")
    limits = limits or UploadLimits()
    analyzer = Analyzer(Path(run), backend, threads)
    batcher = MicroBatcher(analyzer.embed, max_images=batch) if batch > 1 else None
    sample_files = {p.name: p for p in find_samples(Path(run), samples)}
    app = FastAPI(title="thzface", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    app.add_middleware(BodyLimit, max_bytes=limits.max_request_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(UploadError)
    async def upload_error(_: Request, e: UploadError) -> JSONResponse:
        return JSONResponse({"error": str(e)}, status_code=e.status)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, e: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(e.detail)}, status_code=e.status_code)

    async def decoded(request: Request, fields: tuple[str, ...], per_field: int = 1) -> list[list[Decoded]]:
        uploads = await read_uploads(request, fields, limits, per_field)
        dec = lambda name, data: decode_upload(data, name, analyzer.size, analyzer.channels, limits)  # noqa: E731
        return [[dec(name, data) for name, data in files] for files in uploads]

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/info")
    def info() -> dict:
        thr, source = analyzer.threshold()
        cfg = analyzer.predictor.cfg
        return {
            "run": str(analyzer.run),
            "recipe": cfg.recipe,
            "preset": cfg.preset,
            "backend": backend,
            "batch": batch,
            "image_size": analyzer.size,
            "postures": list(POSTURES),
            "threshold": thr,
            "threshold_source": source,
            "limits": limits.describe(),
            "samples": sorted(sample_files),
        }

    @app.get("/api/samples/{name}")
    def sample(name: str) -> FileResponse:
        if name not in sample_files:
            raise HTTPException(404, f"{name}: not one of the offered samples")
        return FileResponse(sample_files[name])

    @app.post("/api/analyze")
    async def analyze(request: Request) -> dict:
        ((d,),) = await decoded(request, ("image",))
        return {**(await run_in_threadpool(analyzer.analyze, d)), "backend": backend}

    @app.post("/api/verify")
    async def verify(request: Request) -> dict:
        side_a, side_b = await decoded(request, ("a", "b"), limits.max_scans)
        if len(side_a) == len(side_b) == 1:  # one scan a side: the pair as before
            a, b = side_a[0], side_b[0]
            if batcher is None:
                return {**(await run_in_threadpool(analyzer.verify, a, b)), "backend": backend}
            return {**analyzer.compare(await batcher(np.stack([a.array, b.array]))), "backend": backend}  # (2, D)
        x = np.stack([d.array for d in side_a + side_b])  # (n_a + n_b, C, S, S)
        e = await run_in_threadpool(analyzer.embed, x) if batcher is None else await batcher(x)  # (n_a + n_b, D)
        return {**analyzer.compare_sides(e, len(side_a)), "backend": backend}

    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    run: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    backend: str = "torch",
    samples: Path | None = None,
    batch: int = BATCH,
    threads: int = THREADS,
) -> None:
    """``thzface serve RUN [--host 127.0.0.1] [--port 8000] [--batch N] [--threads T]``: run the web app until
    interrupted; ``threads``: the model's intra-op threads (torch and onnxruntime)."""
    import uvicorn

    if not 0 < port < 65536:
        raise ValueError(f"--port {port}: must be in 1..65535")
    if threads < 1:
        raise ValueError(f"--threads {threads}: must be >= 1")
    if not is_loopback(host):
        log.warning("serving on %s: the app has no authentication; anyone who can reach this host can use it", host)
    torch.set_num_threads(threads)
    app = create_app(Path(run), backend=backend, samples=samples, batch=batch, threads=threads)
    print(f"thzface serve: http://{host}:{port}/ (JSON API under /api, Ctrl-C to stop)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
