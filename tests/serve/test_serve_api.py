"""Web app JSON API: analyze and verify give the model's own numbers, the run's threshold decides, samples come
from the evaluated dataset, and refused uploads (type, bytes, pixels, corrupt, missing field) get clear messages."""

from __future__ import annotations

import base64
import io
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thzface.data.io import to_uint8
from thzface.data.naming import POSTURES, parse_name
from thzface.embedder import Predictor
from thzface.engine.run import Run
from thzface.models.multitask import MultiTaskModel
from thzface.serve import UploadLimits, create_app, serve
from thzface.serve.app import is_loopback
from thzface.serve.samples import find_samples, pick_samples

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's deprecation notice about httpx
    from fastapi.testclient import TestClient


def encode(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def noise_png(side: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return encode(Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8)))


def decode_png(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))


@pytest.fixture(scope="module")
def client(serve_run: Path) -> TestClient:
    return TestClient(create_app(serve_run))


@pytest.fixture(scope="module")
def scans(tiny_data: Path) -> list[Path]:
    return sorted((tiny_data / "thz").glob("*_b*b_*.png"))


def test_info_reports_run_threshold_limits_and_samples(client, serve_run, tiny_data):
    info = client.get("/api/info").json()
    assert info["recipe"] == "mtl" and info["postures"] == list(POSTURES)
    assert info["threshold"] == json.loads((serve_run / "threshold.json").read_text())["threshold"]
    assert info["limits"]["max_bytes"] == UploadLimits().max_bytes
    assert info["samples"], "samples come from the dataset the run was evaluated on"
    for name in info["samples"][:3]:
        assert parse_name(name).concealed
        r = client.get(f"/api/samples/{name}")
        assert r.status_code == 200 and r.content == (tiny_data / "thz" / name).read_bytes()
    r = client.get("/api/samples/not-offered.png")
    assert r.status_code == 404 and "not one of the offered samples" in r.json()["error"]
    page = client.get("/")
    assert page.status_code == 200 and 'id="file-input"' in page.text
    assert client.get("/static/app.js").status_code == 200


def test_analyze_returns_the_models_outputs(client, serve_run, scans):
    r = client.post("/api/analyze", files={"image": ("scan.png", scans[0].read_bytes(), "image/png")})
    assert r.status_code == 200, r.text
    j = r.json()
    pred = Predictor(serve_run)
    ref = pred(pred.load([scans[0]]))
    probs = ref["posture_probs"][0]
    assert j["posture"] == POSTURES[int(probs.argmax())]
    np.testing.assert_allclose([j["probabilities"][p] for p in POSTURES], probs, atol=1e-6)
    assert j["embedding_norm"] == pytest.approx(float(np.linalg.norm(ref["embedding"][0])), abs=1e-5)
    recon = decode_png(j["reconstruction_png"])  # (S, S) uint8
    assert recon.shape == (pred.size, pred.size)
    assert np.abs(recon.astype(int) - to_uint8(ref["reconstruction"][0]).astype(int)).max() <= 1
    assert decode_png(j["input_png"]).shape == (pred.size, pred.size) and j["cropped"] is False


def test_analyze_crops_a_non_square_rgb_jpeg(client):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8))
    j = client.post("/api/analyze", files={"image": ("wide.jpg", encode(rgb, "JPEG"))}).json()
    assert j["cropped"] is True and j["original_size"] == [40, 30] and j["posture"] in POSTURES


def test_verify_scores_and_decides_at_the_run_threshold(client, serve_run, scans):
    a, b = scans[0], scans[-1]
    j = client.post("/api/verify", files={"a": (a.name, a.read_bytes()), "b": (b.name, b.read_bytes())}).json()
    pred = Predictor(serve_run)
    e = pred(pred.load([a, b]))["embedding"]  # (2, D)
    assert j["score"] == pytest.approx(float(e[0] @ e[1] / np.linalg.norm(e[0]) / np.linalg.norm(e[1])), abs=1e-5)
    assert j["threshold"] == Run(serve_run).threshold
    assert j["same_person"] == (j["score"] >= j["threshold"])
    assert j["decision"] == ("same person" if j["same_person"] else "different people")
    assert "a" not in j and "b" not in j and j["backend"] == "torch"  # embeddings only: no posture
    same = client.post("/api/verify", files={"a": ("x.png", a.read_bytes()), "b": ("y.png", a.read_bytes())})
    assert same.json()["score"] == pytest.approx(1.0, abs=1e-5)


def test_without_threshold_or_eval_data(serve_run, scans, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.safetensors", "config.yaml"):
        shutil.copy(serve_run / name, run / name)
    c = TestClient(create_app(run))
    info = c.get("/api/info").json()
    assert info["threshold"] is None and info["samples"] == []
    data = scans[0].read_bytes()
    j = c.post("/api/verify", files={"a": ("a.png", data), "b": ("b.png", data)}).json()
    assert j["same_person"] is None and "no RUN/threshold.json" in j["decision"]
    (run / "threshold.json").write_text('{"threshold": Infinity, "source": "nowhere"}')  # eval: no operating point
    info = c.get("/api/info").json()
    assert info["threshold"] is None and "no usable operating point" in info["threshold_source"]
    j = c.post("/api/verify", files={"a": ("a.png", data), "b": ("b.png", data)}).json()
    assert j["same_person"] is None and j["decision"].startswith("no decision: RUN/threshold.json holds inf")


def test_onnx_backend_agrees_with_torch(client, serve_run, scans, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(serve_run, run, ignore=shutil.ignore_patterns("checkpoints", "tb", "logs", "*.onnx"))
    c = TestClient(create_app(run, backend="onnx"))
    assert (run / "model.onnx").is_file() and (run / "model-verify.onnx").is_file()  # both graphs, at start
    files = {"image": ("scan.png", scans[1].read_bytes())}
    got, ref = c.post("/api/analyze", files=files).json(), client.post("/api/analyze", files=files).json()
    assert got["backend"] == "onnx" and got["posture"] == ref["posture"]
    for p in POSTURES:
        assert got["probabilities"][p] == pytest.approx(ref["probabilities"][p], abs=1e-4)
    pair = {"a": ("a.png", scans[0].read_bytes()), "b": ("b.png", scans[-1].read_bytes())}
    got, ref = c.post("/api/verify", files=pair).json(), client.post("/api/verify", files=pair).json()
    assert got["backend"] == "onnx" and got["score"] == pytest.approx(ref["score"], abs=1e-5)
    assert got["same_person"] == ref["same_person"]


def test_verify_endpoint_runs_embed_only(serve_run, scans, monkeypatch):
    """``/api/verify`` computes the embeddings alone: the full forward (posture, decoder) never runs."""
    c = TestClient(create_app(serve_run))
    ref = c.post("/api/verify", files={"a": ("a.png", scans[0].read_bytes()), "b": ("b.png", scans[1].read_bytes())})

    def full_forward(*args, **kwargs):
        raise AssertionError("/api/verify ran the whole model for an embedding")

    monkeypatch.setattr(MultiTaskModel, "forward", full_forward)
    r = c.post("/api/verify", files={"a": ("a.png", scans[0].read_bytes()), "b": ("b.png", scans[1].read_bytes())})
    assert r.status_code == 200 and r.json()["score"] == ref.json()["score"]


def test_concurrent_verify_requests_are_batched_and_each_gets_its_own_score(serve_run, scans, monkeypatch):
    """Pairs that arrive while a model call runs share the next call; every answer equals the unbatched one."""
    import asyncio
    import time

    import httpx

    from thzface.serve.app import Analyzer

    sizes: list[int] = []
    embed = Analyzer.embed

    def slow_first(self, images: np.ndarray) -> np.ndarray:
        sizes.append(len(images))
        time.sleep(0.3 if len(sizes) == 1 else 0.0)  # any request not in the first call queues up meanwhile
        return embed(self, images)

    pairs = [{"a": ("a.png", scans[i].read_bytes()), "b": ("b.png", scans[-1 - i].read_bytes())} for i in range(6)]
    alone = TestClient(create_app(serve_run, batch=1))
    want = [alone.post("/api/verify", files=f).json()["score"] for f in pairs]
    monkeypatch.setattr(Analyzer, "embed", slow_first)
    app = create_app(serve_run, batch=16)

    async def together() -> list[dict]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            return [r.json() for r in await asyncio.gather(*(c.post("/api/verify", files=f) for f in pairs))]

    got = asyncio.run(together())
    assert [j["score"] for j in got] == pytest.approx(want, abs=1e-5)
    assert sum(sizes) == 12 and len(sizes) < len(pairs)  # 12 images in fewer calls than requests
    assert TestClient(app).get("/api/info").json()["batch"] == 16
    with pytest.raises(ValueError, match="--batch 0: must be >= 1"):
        create_app(serve_run, batch=0)


def _gif() -> bytes:
    return encode(Image.new("L", (8, 8)), "GIF")


def _cmyk() -> bytes:
    return encode(Image.new("CMYK", (8, 8)), "JPEG")


@pytest.mark.parametrize(
    "field, filename, data, status, message",
    [
        ("image", "notes.txt", b"hello, not an image", 415, "notes.txt: not an image (expected PNG, JPEG, BMP, TIFF)"),
        ("image", "anim.gif", _gif(), 415, "anim.gif: GIF images are not accepted"),
        ("image", "print.jpg", _cmyk(), 415, "print.jpg: unsupported image mode 'CMYK'"),
        ("image", "huge.png", encode(Image.new("L", (3000, 10))), 413, "huge.png: image is 3000x10 px, the limit"),
        ("image", "cut.png", noise_png(32)[:300], 422, "cut.png: corrupt or truncated image"),
        ("image", "empty.png", b"", 400, "empty.png: empty file"),
        ("scan", "a.png", noise_png(8), 400, "missing form field 'image'"),
    ],
)  # fmt: skip
def test_refused_uploads_say_why(client, field, filename, data, status, message):
    r = client.post("/api/analyze", files={field: (filename, data)})
    assert r.status_code == status and message in r.json()["error"]


def test_request_and_file_limits(serve_run):
    c = TestClient(create_app(serve_run, limits=UploadLimits(max_bytes=2048)))
    r = c.post("/api/analyze", files={"image": ("big.png", noise_png(64))})
    assert r.status_code == 413 and "big.png: file is 4.1 KB, the limit is 2.0 KB" in r.json()["error"]
    r = c.post("/api/analyze", data={"image": "text"})
    assert r.status_code == 400 and "must be a file upload" in r.json()["error"]
    r = c.post("/api/verify", files={"a": ("a.png", noise_png(8))})
    assert r.status_code == 400 and "missing form field 'b'" in r.json()["error"]
    r = c.post("/api/analyze", files={"image": ("big.png", b"x" * 200_000)})
    assert r.status_code == 413 and "request body larger than" in r.json()["error"]  # by Content-Length

    def chunks():  # no Content-Length: the limit applies while streaming
        yield b'--xx\r\nContent-Disposition: form-data; name="image"; filename="s.png"\r\n\r\n'
        yield from (b"x" * 10_000 for _ in range(20))
        yield b"\r\n--xx--\r\n"

    r = c.post("/api/analyze", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xx"})
    assert r.status_code == 413 and "request body larger than" in r.json()["error"]


def test_pick_samples_interleaves_identities_and_postures(tmp_path):
    for name in ("a_b1b_0.png", "a_b2b_0.png", "a_n1n_0.png", "b_b1b_0.png", "b_b2b_0.png", "zz.png"):
        (tmp_path / name).write_bytes(b"")
    got = [p.name for p in pick_samples(tmp_path, limit=10)]
    assert got == ["a_b1b_0.png", "b_b2b_0.png", "a_b2b_0.png", "b_b1b_0.png", "zz.png"]
    assert [p.name for p in pick_samples(tmp_path, limit=2, only={"b_b1b_0.png"})] == ["b_b1b_0.png", "zz.png"]


def test_sample_folder_and_serve_argument_errors(serve_run, tmp_path):
    with pytest.raises(ValueError, match="samples folder not found"):
        find_samples(serve_run, tmp_path / "missing")
    with pytest.raises(ValueError, match="no images to offer as samples"):
        find_samples(serve_run, tmp_path)
    with pytest.raises(ValueError, match="--port 0: must be in 1..65535"):
        serve(serve_run, port=0)
    with pytest.raises(ValueError, match="--threads 0: must be >= 1"):
        serve(serve_run, threads=0)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
