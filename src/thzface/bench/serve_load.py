"""The web service under load: start ``thzface serve RUN`` on 127.0.0.1 in a subprocess, drive ``POST /api/verify``
with N concurrent keep-alive clients until a request cap or a time cap, and report requests/s, latency
percentiles, errors, the server's peak resident memory, and the CPU time per request of the server and of the
clients (they share the machine: cheap clients, one pre-encoded body, keep the measurement about the server).
Loopback only: the host is not a parameter."""

from __future__ import annotations

import http.client
import io
import json
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from thzface.bench import format_table
from thzface.bench.measure import load_average, peak_rss_bytes, process_cpu_seconds

HOST = "127.0.0.1"
CLI = "import sys; from thzface.cli import main; sys.exit(main())"
BOUNDARY = "thzface-bench-boundary"
LATENCY_STATS: dict[str, Callable[[np.ndarray], float]] = {
    "p50": lambda a: float(np.percentile(a, 50)),
    "p99": lambda a: float(np.percentile(a, 99)),
    "mean": lambda a: float(np.mean(a)),
    "max": lambda a: float(np.max(a)),
}
BATCHING: dict[str, tuple[str, ...]] = {"unbatched": ("--batch", "1"), "batched": ()}  # the serve default batches


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def scan_png(size: int, seed: int) -> bytes:
    """A seeded random grayscale PNG of size×size (stands in for an uploaded scan)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)  # (S, S)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def multipart(files: dict[str, bytes]) -> bytes:
    """A multipart/form-data body with one PNG file part per field (boundary :data:`BOUNDARY`)."""
    parts = []
    for field, data in files.items():
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{field}.png"\r\n'
        parts.append(head.encode() + b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def wait_ready(proc: subprocess.Popen, port: int, startup_s: float, log: Path) -> dict:
    """Poll ``GET /api/info`` until it answers; RuntimeError (with the server log's tail) if it exits or times out."""
    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"bench serve: the server exited with code {proc.returncode}: {' | '.join(tail)}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/api/info", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"bench serve: the server did not answer on {HOST}:{port} within {startup_s:.0f} s")


class Load:
    """Shared state of the client threads: a request budget, a deadline, and what came back."""

    def __init__(self, max_requests: int, max_seconds: float) -> None:
        self.lock = threading.Lock()
        self.left, self.deadline = max_requests, time.monotonic() + max_seconds
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.cpu_s = 0.0  # CPU seconds of the client threads together

    def claim(self) -> bool:
        """Take one request from the budget; False once the budget or the time is used up."""
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True

    def client(self, port: int, body: bytes) -> None:
        """One keep-alive client: POST /api/verify until :meth:`claim` says stop; adds its CPU time to ``cpu_s``."""
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        cpu = thread_cpu_seconds()
        try:
            while self.claim():
                start = time.perf_counter()
                try:
                    conn.request("POST", "/api/verify", body=body, headers=headers)
                    resp = conn.getresponse()
                    payload = resp.read()
                    ok = resp.status == 200 and "score" in json.loads(payload)
                    error = None if ok else f"HTTP {resp.status}: {payload[:200]!r}"
                except (OSError, http.client.HTTPException, ValueError) as e:
                    conn.close()
                    error = f"{type(e).__name__}: {e}"
                elapsed = time.perf_counter() - start
                with self.lock:
                    if error:
                        self.errors.append(error)
                    else:
                        self.latencies.append(elapsed)
        finally:
            conn.close()
            with self.lock:
                self.cpu_s += thread_cpu_seconds() - cpu


def thread_cpu_seconds() -> float:
    """User + system CPU seconds of the calling thread (Linux), else of the whole process."""
    usage = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    return usage.ru_utime + usage.ru_stime


def per_request_ms(seconds: float | None, requests: int) -> float | None:
    """CPU ``seconds`` spread over ``requests``, in ms (None when unknown or no request was made)."""
    return None if seconds is None or requests <= 0 else 1000.0 * seconds / requests


def serve_load(
    run: Path,
    clients: int = 8,
    max_requests: int = 2000,
    max_seconds: float = 30.0,
    serve_args: Sequence[str] = (),
    startup_s: float = 120.0,
) -> dict:
    """Load-test ``thzface serve RUN [serve_args]`` on 127.0.0.1 (e.g. ``serve_args=("--backend", "onnx")`` once
    the CLI has it) with ``clients`` concurrent clients, at most ``max_requests`` requests and ``max_seconds``.

    Returns requests, errors (with up to 3 examples), requests/s, latency p50/p99/mean/max in ms, the server's
    peak RSS (VmHWM, includes loading the model), the CPU ms per request of the server process and of the client
    threads, and the load average around the run.
    """
    if clients <= 0 or max_requests <= 0 or max_seconds <= 0:
        raise ValueError(f"bench serve: clients {clients}, max_requests {max_requests}, max_seconds {max_seconds}: > 0")
    port = free_port()
    cmd = [sys.executable, "-c", CLI, "serve", str(run), "--host", HOST, "--port", str(port), *serve_args]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            info = wait_ready(proc, port, startup_s, log)
            size = int(info["image_size"])
            body = multipart({"a": scan_png(size, 0), "b": scan_png(size, 1)})
            load, load_before = Load(max_requests, max_seconds), load_average()
            threads = [threading.Thread(target=load.client, args=(port, body)) for _ in range(clients)]
            cpu_before, start = process_cpu_seconds(proc.pid), time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - start
            rss, cpu_after = peak_rss_bytes(proc.pid), process_cpu_seconds(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    ms = np.array(load.latencies) * 1000.0  # (n_ok,)
    done = len(load.latencies) + len(load.errors)
    return {
        "url": f"http://{HOST}:{port}/api/verify",
        "serve_args": list(serve_args),
        "batch": info.get("batch"),  # most images per embedding call (1: no batching)
        "clients": clients,
        "max_requests": max_requests,
        "max_seconds": max_seconds,
        "requests": done,
        "errors": len(load.errors),
        "error_examples": load.errors[:3],
        "seconds": seconds,
        "requests_per_s": done / seconds if seconds > 0 else 0.0,
        **{f"latency_ms_{k}": f(ms) if ms.size else None for k, f in LATENCY_STATS.items()},
        "peak_rss_mb": rss / 2**20 if rss is not None else None,
        "server_cpu_ms_per_request": per_request_ms(
            None if cpu_before is None or cpu_after is None else cpu_after - cpu_before, done
        ),
        "client_cpu_ms_per_request": per_request_ms(load.cpu_s, done),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


def run(args) -> dict:
    """``thzface bench serve --data RUN [--workers CLIENTS] [--budget-s S] --out OUT``: the torch and the onnx
    backend of ``thzface serve``, each without and with batching (:data:`BATCHING`), under the same load (the onnx
    one exports ``RUN/model.onnx`` and ``RUN/model-verify.onnx`` on start when they are missing or stale: run
    ``thzface export onnx`` first)."""
    if not getattr(args, "data", None):
        raise ValueError("bench serve: pass the run folder with --data RUN")
    run_dir = Path(args.data)
    seconds = min(float(args.budget_s), 60.0)
    rows = {f"{b} {arm}": serve_load(run_dir, clients=args.workers, max_seconds=seconds,
                                     serve_args=("--backend", b, *flags))
            for b in ("torch", "onnx") for arm, flags in BATCHING.items()}  # fmt: skip
    keys = ["batch", "requests", "errors", "requests_per_s", "latency_ms_p50", "latency_ms_p99", "peak_rss_mb",
            "server_cpu_ms_per_request", "client_cpu_ms_per_request", "load_average_before"]  # fmt: skip
    return {"run": str(run_dir), "backends": rows, "table": format_table(rows, keys)}
