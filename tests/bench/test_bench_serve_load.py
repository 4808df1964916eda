"""The service load bench against a real ``thzface serve`` subprocess on 127.0.0.1 (an untrained tiny run):
capped requests, no errors, latency and memory reported; a server that cannot start is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from thzface.bench.serve_load import HOST, multipart, per_request_ms, serve_load


def test_serve_load_caps_requests_and_reports(tiny_run: Path) -> None:
    res = serve_load(tiny_run, clients=3, max_requests=12, max_seconds=60.0, serve_args=("--batch", "4"))
    assert res["requests"] == 12 and res["errors"] == 0, res["error_examples"]
    assert res["batch"] == 4 and res["serve_args"] == ["--batch", "4"]
    assert 0 < res["client_cpu_ms_per_request"] < res["server_cpu_ms_per_request"]  # the clients are the cheap side
    assert res["url"].startswith(f"http://{HOST}:")
    assert 0 < res["latency_ms_p50"] <= res["latency_ms_p99"] <= res["latency_ms_max"]
    assert res["requests_per_s"] > 0 and res["peak_rss_mb"] > 50


def test_serve_load_reports_a_server_that_exits(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="server exited"):
        serve_load(tmp_path / "no-such-run", clients=1, max_requests=1, max_seconds=5.0, startup_s=60.0)


def test_serve_load_rejects_bad_caps(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="clients 0"):
        serve_load(tmp_path, clients=0)


def test_per_request_ms() -> None:
    assert per_request_ms(0.5, 250) == 2.0
    assert per_request_ms(None, 10) is None and per_request_ms(1.0, 0) is None


def test_multipart_body_has_one_part_per_field() -> None:
    body = multipart({"a": b"PNG-A", "b": b"PNG-B"})
    assert body.count(b"Content-Disposition: form-data") == 2 and b'name="b"; filename="b.png"' in body
    assert body.endswith(b"--\r\n") and b"PNG-A\r\n" in body


def test_bench_serve_needs_a_run() -> None:
    from types import SimpleNamespace

    from thzface.bench import BENCHES
    from thzface.bench.serve_load import run

    assert BENCHES["serve"] == "thzface.bench.serve_load"
    with pytest.raises(ValueError, match="--data RUN"):
        run(SimpleNamespace(data=None, budget_s=10.0, workers=2))
