"""Sharded generation equals a one-shot run; the THz-only fast path; probes in meta.json; the clean-target reader."""

from __future__ import annotations

import json

import pytest

from thzface.data.targets import clean_target_path, load_clean_target
from thzface.sim.dataset import parse_shard, synth
from thzface.sim.world import DatasetFolderError

FAST_ONLY_THZ = ["face_model.grid_deg=3", "samples=2", "identities.count=4", "identities.twin_pairs=1"]


def _files(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_shards_then_finalize_equal_one_shot(tmp_path):
    over = FAST_ONLY_THZ + ["write_visible=false", "write_aux=false"]
    one = tmp_path / "one"
    synth("tiny", one, seed=4, workers=1, overrides=over, progress=False)
    parts = tmp_path / "parts"
    for i in (2, 0, 1):  # any order, one process each
        r = synth("tiny", parts, seed=4, workers=2 if i == 1 else 1, overrides=over, progress=False, shard=f"{i}/3")
        assert r["shard"] == f"{i}/3"
    assert not (parts / "meta.json").exists() and (parts / ".shards").is_dir()
    synth(None, parts, seed=0, workers=1, overrides=[], progress=False, finalize=True)
    a, b = _files(one), _files(parts)
    assert sorted(a) == sorted(b) and all(a[k] == b[k] for k in a)  # byte-identical, bookkeeping removed
    assert not (one / "visible").exists() and not (one / "aux").exists()  # THz-only: no visible renders, no aux
    assert {"thz", "clean"} <= {p.name for p in one.iterdir()}
    meta = json.loads((one / "meta.json").read_text())
    pr = meta["probes"]
    assert set(pr["copy_baseline"]) >= {"copy_ssim_scan_head", "copy_psnr_clean", "copy_ssim_clean_head"}
    assert pr["nn_identity"]["chance"] == pytest.approx(1 / 4) and "all" in pr["energy_drop_db"]
    assert pr["geometry_landmarks_mm"]["within"] < pr["geometry_landmarks_mm"]["between"]


def test_shard_errors(tmp_path):
    over = FAST_ONLY_THZ + ["write_visible=false", "write_aux=false", "identities.count=1", "identities.twin_pairs=0"]
    with pytest.raises(ValueError, match="i/N"):
        parse_shard("2")
    with pytest.raises(ValueError, match="0 <= i < N"):
        parse_shard("3/3")
    out = tmp_path / "s"
    synth("tiny", out, seed=1, workers=1, overrides=over, progress=False, shard="0/2")
    with pytest.raises(DatasetFolderError, match=r"shard\(s\) 1 of 2 not finished"):
        synth(None, out, seed=1, workers=1, overrides=[], progress=False, finalize=True)
    with pytest.raises(DatasetFolderError, match="shards of another run"):
        synth("tiny", out, seed=2, workers=1, overrides=over, progress=False, shard="1/2")
    with pytest.raises(DatasetFolderError, match="no shards to finalize"):
        synth(None, tmp_path / "empty", seed=1, workers=1, overrides=[], progress=False, finalize=True)


def test_clean_target_reader(tiny_dataset, tmp_path):
    out, meta = tiny_dataset
    tok = meta["identities"][0]
    p = clean_target_path(out, f"{tok}_b2b_1.png")  # a concealed scan's target
    assert p == out / "clean" / f"{tok}_n2n_1.png"
    img = load_clean_target(out, f"{tok}_n2n_1.png")
    assert img is not None and img.shape == (1, 32, 32) and 0 <= img.min() and img.max() <= 1
    (tmp_path / "thz").mkdir()  # a real folder: no clean/ targets, still fine
    assert clean_target_path(tmp_path, f"{tok}_b2b_1.png") is None
    assert load_clean_target(tmp_path, f"{tok}_b2b_1.png") is None


def test_ray_tasks_write_shards(tmp_path):
    ray = pytest.importorskip("ray")  # the optional extra `ray`; skipped where it is not installed
    over = FAST_ONLY_THZ + ["write_visible=false", "write_aux=false"]
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        task = ray.remote(lambda i: synth("tiny", tmp_path / "r", 4, 1, over, progress=False, shard=f"{i}/2"))
        ray.get([task.remote(i) for i in range(2)])
    finally:
        ray.shutdown()
    synth(None, tmp_path / "r", seed=4, workers=1, overrides=[], progress=False, finalize=True)
    assert (tmp_path / "r" / "meta.json").is_file() and not (tmp_path / "r" / ".shards").exists()
