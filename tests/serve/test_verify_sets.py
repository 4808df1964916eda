"""Several scans a side: `thzface verify RUN A A2 --against B B2` and `/api/verify` with repeated fields fuse each
side's embeddings (unit mean) and decide once; one scan a side is the plain pair."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from thzface.cli import main
from thzface.embedder import Predictor, verify, verify_sets
from thzface.metrics.pairs import fuse
from thzface.serve import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def scans(tiny_data: Path) -> list[Path]:
    return sorted((tiny_data / "thz").glob("*_b*b_*.png"))


def _expected(run: Path, a: list[Path], b: list[Path]) -> float:
    pred = Predictor(run, tasks=("verify",))
    e = pred.embed(pred.load([*a, *b]))  # (n, D)
    return float(fuse(e[: len(a)]) @ fuse(e[len(a) :]))


def test_verify_sets_fuses_each_side_and_one_a_side_is_the_pair(serve_run: Path, scans: list[Path]) -> None:
    a, b = scans[:3], scans[-2:]
    res = verify_sets(serve_run, a, b)
    assert res["score"] == pytest.approx(_expected(serve_run, a, b), abs=1e-6)
    assert res["scans"] == [3, 2] and res["a"] == [str(p) for p in a] and res["fusion"] == "mean"
    assert res["same_person"] == (res["score"] >= res["threshold"])
    pair = verify(serve_run, scans[0], scans[-1])
    assert verify_sets(serve_run, [scans[0]], [scans[-1]])["score"] == pytest.approx(pair["score"], abs=1e-6)
    with pytest.raises(ValueError, match="each side needs at least one scan"):
        verify_sets(serve_run, [], b)


def test_cli_against(serve_run: Path, scans: list[Path], capsys) -> None:
    a, b = scans[:2], scans[-3:]
    assert main(["verify", str(serve_run), *map(str, a), "--against", *map(str, b)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scans"] == [2, 3] and out["score"] == pytest.approx(_expected(serve_run, a, b), abs=1e-6)
    assert main(["verify", str(serve_run), *map(str, scans[:3])]) != 0  # three scans without --against
    assert "give two scans (A B), or A [A2 ...] --against B [B2 ...]" in capsys.readouterr().err


def test_api_repeated_fields(serve_run: Path, scans: list[Path]) -> None:
    c = TestClient(create_app(serve_run, batch=1))
    a, b = scans[:2], scans[-3:]
    files = [("a", (p.name, p.read_bytes())) for p in a] + [("b", (p.name, p.read_bytes())) for p in b]
    j = c.post("/api/verify", files=files).json()
    assert j["scans"] == [2, 3] and j["score"] == pytest.approx(_expected(serve_run, a, b), abs=1e-5)
    batched = TestClient(create_app(serve_run, batch=16)).post("/api/verify", files=files).json()
    assert batched["score"] == pytest.approx(j["score"], abs=1e-5)
    many = [("a", (p.name, p.read_bytes())) for p in scans[:6]] + [("b", (b[0].name, b[0].read_bytes()))]
    r = c.post("/api/verify", files=many)
    assert r.status_code == 400 and "form field 'a': 6 files, at most 5" in r.json()["error"]
    assert c.get("/api/info").json()["limits"]["max_scans_per_side"] == 5
    assert np.isfinite(j["score"])
